"""Closing billing periods into invoices, with gap-free numbering and exact prorations.

An invoice covers one closed period, billed in arrears. The period is cut into segments at each
``PlanChange`` in it, and each segment is billed at its own plan: the seats paid at the segment's
start for the segment's share of the period, and every paid-seat change inside it for the share
left until the segment ends, at that plan's price. Conversations over the quota are billed by the
plan in force when the period ends. Shares are exact Decimals of whole seconds; each line's amount
is rounded half-up to cents and the total is the sum of the lines. Numbers come from
``InvoiceSequence`` incremented under a row lock in the invoice's own transaction, so a rollback
returns the number and concurrent closings never skip or repeat one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django_scopes import scope, scopes_disabled

from billing.line_texts import LATE_USAGE, OVERAGE, SEATS, SEATS_ADDED, SEATS_PRORATED, SEATS_REMOVED, describe
from billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    PlanChange,
    SeatChange,
    Subscription,
    UsageRecord,
)
from billing.periods import add_month, fraction_between, money, prorate, second_of
from billing.plans import CURRENCY, FREE, PLANS, Plan
from billing.subscriptions import PlanState, billed_plan, record_plan_change, save_subscription
from support.events.outbox import emit_event

QUANTITY = Decimal("0.0001")  # InvoiceLine.quantity's precision


@dataclass(frozen=True)
class Line:
    """A line to bill: its text is ``kind`` + ``params`` (see ``billing.line_texts``), written when read."""

    kind: str
    params: dict[str, Any]
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    @property
    def description(self) -> str:
        """The English text, stored next to the kind for the admin and for readers without this code."""
        with translation.override("en"):
            return describe(self.kind, self.params)


@dataclass(frozen=True)
class Segment:
    """A piece of a period billed at one plan; ``plan`` None while trialing (nothing billed)."""

    since: datetime
    until: datetime
    plan: Plan | None


def next_invoice_number(*, year: int) -> str:
    """Must run inside the invoice's transaction."""
    seq, _ = InvoiceSequence.objects.select_for_update().get_or_create(year=year)
    # get_or_create's row may not be locked on the create path; lock it explicitly.
    seq = InvoiceSequence.objects.select_for_update().get(pk=seq.pk)
    seq.last_number += 1
    seq.save(update_fields=["last_number"])
    return f"SB-{year}-{seq.last_number:06d}"


def split_period(
    *, plan: Plan | None, plan_changes: Sequence[PlanChange], start: datetime, end: datetime
) -> list[Segment]:
    """Cut [start, end) at each plan change (given in the order they were made).

    ``plan`` is the billed plan at the start. Pieces shorter than a whole second are dropped, so a
    change in the first second of a period leaves one segment at the new plan.
    """
    bounds: list[tuple[datetime, Plan | None]] = [(start, plan)]
    bounds += [(change.at, billed_plan(plan_code=change.to_plan, status=change.to_status)) for change in plan_changes]
    segments = []
    for i, (since, segment_plan) in enumerate(bounds):
        until = bounds[i + 1][0] if i + 1 < len(bounds) else end
        since, until = max(since, start), min(until, end)
        if second_of(start=start, end=end, at=until) > second_of(start=start, end=end, at=since):
            segments.append(Segment(since, until, segment_plan))
    return segments


def compute_lines(
    *, plan: Plan | None, seats_at_start: int, changes: Sequence[SeatChange], start: datetime, end: datetime,
    conversations: int, plan_changes: Sequence[PlanChange] = (),
) -> list[Line]:
    """The lines of the invoice for [start, end).

    ``plan`` and ``seats_at_start`` are what was billed at the period's start, before any change in
    it; ``changes`` and ``plan_changes`` are the seat and plan changes in [start, end).
    """
    segments = split_period(plan=plan, plan_changes=plan_changes, start=start, end=end)

    def second(at: datetime) -> int:
        return second_of(start=start, end=end, at=at)

    # One segment over the whole period (no plan change, or only in its first second): plain lines.
    whole = len(segments) == 1 and second(segments[0].since) == 0 and segments[0].until == end

    seat_changes = sorted(changes, key=lambda c: c.at)
    lines: list[Line] = []
    for segment in segments:
        seats = seats_at_start + sum(c.delta for c in seat_changes if second(c.at) <= second(segment.since))
        if segment.plan is None:
            continue  # trialing: nothing billed
        inside = [c for c in seat_changes if second(segment.since) < second(c.at) < second(segment.until)]
        lines += _segment_lines(segment.plan, segment, seats=seats, changes=inside, start=start, end=end, whole=whole)
    final = billed_plan(plan_code=plan_changes[-1].to_plan, status=plan_changes[-1].to_status) if plan_changes else plan
    if (final is not None and final.conversation_quota is not None and final.over_quota == "overage"
            and conversations > final.conversation_quota):
        over = conversations - final.conversation_quota
        lines.append(Line(OVERAGE, {"over": over, "quota": final.conversation_quota},
                          Decimal(over), final.overage_price, money(final.overage_price * over)))
    return lines


def _segment_lines(
    plan: Plan, segment: Segment, *, seats: int, changes: list[SeatChange], start: datetime, end: datetime,
    whole: bool,
) -> list[Line]:
    """The base line of one segment (its seats at its start) and one line per seat change in it."""
    lines: list[Line] = []
    billable = max(0, seats - plan.included_seats)
    if whole:  # no plan change in the period: the plain monthly line
        amount = money(plan.price_per_seat * billable)
        if amount:
            lines.append(Line(SEATS, {"plan": plan.name, "seats": billable, "start": _iso(start), "end": _iso(end)},
                              Decimal(billable), plan.price_per_seat, amount))
    else:
        share = fraction_between(start=start, end=end, since=segment.since, until=segment.until)
        amount = prorate(plan.price_per_seat * billable, start=start, end=end, since=segment.since, until=segment.until)
        if amount:
            lines.append(Line(
                SEATS_PRORATED,
                {"plan": plan.name, "seats": billable, **_days(segment.since, segment.until),
                 "percent": _percent(share)},
                _quantity(billable * share), plan.price_per_seat, amount,
            ))
    for change in changes:
        paid_before = max(0, seats - plan.included_seats)
        seats += change.delta
        paid = max(0, seats - plan.included_seats) - paid_before
        share = fraction_between(start=start, end=end, since=change.at, until=segment.until)
        amount = prorate(plan.price_per_seat * paid, start=start, end=end, since=change.at, until=segment.until)
        if amount:
            lines.append(Line(
                SEATS_ADDED if change.delta > 0 else SEATS_REMOVED,
                {"plan": plan.name, "count": abs(change.delta), "day": _iso(change.at),
                 **_days(change.at, segment.until), "percent": _percent(share)},
                _quantity(paid * share), plan.price_per_seat, amount,
            ))
    return lines


def _iso(moment: datetime) -> str:
    """The moment's calendar day, as the line's parameters keep it."""
    return moment.date().isoformat()


def _days(since: datetime, until: datetime) -> dict[str, str]:
    """The calendar days [since, until) touches, as the first and last day (the same day if one)."""
    last = max(since, until - timedelta(microseconds=1))
    return {"first": _iso(since), "last": _iso(last)}


def _percent(share: Decimal) -> str:
    """The share in percent to a tenth ("56.7"); the line's text adds the sign."""
    return str((share * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _quantity(value: Decimal) -> Decimal:
    return value.quantize(QUANTITY, rounding=ROUND_HALF_UP)


def late_usage_lines(late: Sequence[UsageRecord]) -> list[Line]:
    """Adjustment lines for conversations metered after their period's invoice was issued.

    Each such unit points at that invoice (``late_for``, see ``billing.usage.period_of``). Per
    invoice, the line bills the overage the late units add at that invoice's plan: the
    conversations over its quota counting them, minus those over it without them (so units still
    within the quota add a line of nothing, which is left out).
    """
    by_invoice: dict[int, list[UsageRecord]] = {}
    for unit in late:
        if unit.late_for_id is not None:
            by_invoice.setdefault(unit.late_for_id, []).append(unit)
    lines = []
    for units in by_invoice.values():
        invoice = units[0].late_for
        assert invoice is not None
        plan = PLANS.get(invoice.plan)
        if plan is None or plan.conversation_quota is None or plan.over_quota != "overage":
            continue
        total = UsageRecord.objects.filter(
            tenant=invoice.tenant, metric="conversation", period_start=invoice.period_start
        ).count()
        counted = total - len(units)
        extra = max(0, total - plan.conversation_quota) - max(0, counted - plan.conversation_quota)
        amount = money(plan.overage_price * extra)
        if amount:
            lines.append(Line(
                LATE_USAGE,
                {"units": len(units), **_days(invoice.period_start, invoice.period_end), "invoice": invoice.number,
                 "extra": extra, "quota": plan.conversation_quota},
                Decimal(extra), plan.overage_price, amount,
            ))
    return lines


def close_period(*, subscription: Subscription, now: datetime | None = None) -> Invoice | None:
    """Invoice the subscription's current period if it has ended, and start the next one."""
    now = now or timezone.now()
    tenant = subscription.tenant
    try:
        with transaction.atomic(), scope(tenant=tenant):
            sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
            if sub.current_period_end > now:
                return None
            start, end = sub.current_period_start, sub.current_period_end
            invoice = _issue_invoice(sub, start, end)
            sub.current_period_start, sub.current_period_end = end, add_month(end)
            if sub.status == Subscription.Status.TRIALING and sub.trial_ends_at and sub.trial_ends_at <= now:
                # The trial ended without a paid plan: Free from the new period, and nothing is deleted.
                before = PlanState.of(sub)
                sub.plan, sub.status, sub.seats, sub.trial_ends_at = FREE.code, Subscription.Status.ACTIVE, 1, None
                record_plan_change(sub=sub, before=before, at=end, source="trial ended")
            save_subscription(sub)
            return invoice
    except IntegrityError:
        # Another worker closed this period first (one invoice per tenant and period).
        return None


def _issue_invoice(sub: Subscription, start: datetime, end: datetime) -> Invoice | None:
    """Invoice [start, end) of a locked subscription; None if nothing in it was billable.

    Nothing is billable when no part of the period was on a plan with a price (trial and Free
    only) and it has no other line (overage): such a period gets no invoice, no number and no
    email. A period with any paid part is invoiced even if its total comes to zero or a credit —
    it is the record of a paid plan.

    The state at the period's start is worked back from the changes made since (including any
    made after ``end`` but before this closing), so a late close bills the period as it was.
    """
    since_start = list(PlanChange.objects.filter(tenant=sub.tenant, at__gte=start).order_by("at", "pk"))
    first = since_start[0] if since_start else None
    state = PlanState(first.from_plan, first.from_status, first.seats_before) if first else PlanState.of(sub)
    plan_at_start = state.billed
    plan_changes = [c for c in since_start if c.at < end]
    seat_changes = list(SeatChange.objects.filter(tenant=sub.tenant, at__gte=start))
    seats_at_start = sub.seats - sum(c.delta for c in seat_changes)
    changes = [c for c in seat_changes if c.at < end]
    segments = split_period(plan=plan_at_start, plan_changes=plan_changes, start=start, end=end)
    late = list(UsageRecord.objects.filter(tenant=sub.tenant, late_for__isnull=False, settled_by__isnull=True)
                .select_related("late_for"))
    adjustments = late_usage_lines(late)
    if all(segment.plan is None for segment in segments) and not adjustments:
        return None
    conversations = UsageRecord.objects.filter(tenant=sub.tenant, metric="conversation", period_start=start).count()
    lines = compute_lines(plan=plan_at_start, seats_at_start=seats_at_start, changes=changes, start=start, end=end,
                          conversations=conversations, plan_changes=plan_changes) + adjustments
    paid = any(segment.plan is not None and segment.plan.price_per_seat > 0 for segment in segments)
    if not paid and not lines:
        return None  # Free (and trial) all period: decided before a number is taken, so none is used
    last = plan_changes[-1] if plan_changes else None
    at_end = PlanState(last.to_plan, last.to_status, last.seats_after) if last else state
    plan_code = at_end.billed.code if at_end.billed else at_end.plan  # the plan billed at the period's end
    invoice = Invoice.objects.create(
        tenant=sub.tenant, number=next_invoice_number(year=end.year), period_start=start, period_end=end,
        plan=plan_code, currency=CURRENCY, total=money(sum((line.amount for line in lines), Decimal(0))),
    )
    InvoiceLine.objects.bulk_create([
        InvoiceLine(tenant=sub.tenant, invoice=invoice, kind=line.kind, params=line.params,
                    description=line.description, quantity=line.quantity, unit_price=line.unit_price,
                    amount=line.amount)
        for line in lines
    ])
    UsageRecord.objects.filter(pk__in=[unit.pk for unit in late]).update(settled_by=invoice)
    if invoice.total == 0:
        invoice.status, invoice.paid_at = Invoice.Status.PAID, timezone.now()
        invoice.save(update_fields=["status", "paid_at"])
    emit_event(tenant=sub.tenant, type="invoice.issued",
               payload={"invoice": invoice.public_id, "number": invoice.number, "total": str(invoice.total)})
    return invoice


def close_due_periods(*, now: datetime | None = None) -> int:
    """Celery beat entry point: close every period that has ended. Safe to run concurrently.

    Returns the number of invoices issued. A subscription several periods behind (beat was down)
    gets one invoice per missed period, at most 24 per sweep.
    """
    now = now or timezone.now()
    with scopes_disabled():  # a platform sweep over all tenants; each close runs scoped
        due = list(Subscription.objects.filter(current_period_end__lte=now).select_related("tenant"))
    issued = 0
    for sub in due:
        for _ in range(24):
            if close_period(subscription=sub, now=now) is not None:
                issued += 1
            with scope(tenant=sub.tenant):
                sub.refresh_from_db()
            if sub.current_period_end > now:
                break
    return issued
