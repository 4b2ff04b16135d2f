"""Closing billing periods into invoices, with gap-free numbering and exact prorations.

An invoice covers one closed period: the seats paid at its start, every paid-seat change
during it prorated by the time left, and conversations over the plan's quota. Numbers come from
``InvoiceSequence`` incremented under a row lock in the invoice's own transaction, so a rollback
returns the number and concurrent closings never skip or repeat one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from billing.models import Invoice, InvoiceLine, InvoiceSequence, SeatChange, Subscription, UsageRecord
from billing.periods import add_month, fraction_remaining, money
from billing.plans import CURRENCY, FREE, Plan, get_plan
from billing.subscriptions import save_subscription
from push.outbox import emit_event


@dataclass(frozen=True)
class Line:
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal


def next_invoice_number(*, year: int) -> str:
    """Must run inside the invoice's transaction."""
    seq, _ = InvoiceSequence.objects.select_for_update().get_or_create(year=year)
    # get_or_create's row may not be locked on the create path; lock it explicitly.
    seq = InvoiceSequence.objects.select_for_update().get(pk=seq.pk)
    seq.last_number += 1
    seq.save(update_fields=["last_number"])
    return f"SB-{year}-{seq.last_number:06d}"


def compute_lines(
    *, plan: Plan, seats_at_start: int, changes: list[SeatChange], start: datetime, end: datetime, conversations: int
) -> list[Line]:
    lines: list[Line] = []
    billable = max(0, seats_at_start - plan.included_seats)
    if plan.price_per_seat and billable:
        lines.append(Line(f"{plan.name} plan — {billable} seat(s), {start:%d %b} – {end:%d %b %Y}",
                          Decimal(billable), plan.price_per_seat, money(plan.price_per_seat * billable)))
    for change in sorted(changes, key=lambda c: c.at):
        share = fraction_remaining(start=start, end=end, at=change.at)
        amount = money(plan.price_per_seat * change.delta * share)
        if amount:
            verb = "added" if change.delta > 0 else "removed"
            lines.append(Line(
                f"{abs(change.delta)} seat(s) {verb} {change.at:%d %b %Y} (prorated {share * 100:.1f}% of the period)",
                Decimal(change.delta) * share, plan.price_per_seat, amount,
            ))
    if plan.conversation_quota is not None and plan.over_quota == "overage" and conversations > plan.conversation_quota:
        over = conversations - plan.conversation_quota
        lines.append(Line(f"{over} conversation(s) over the {plan.conversation_quota} included",
                          Decimal(over), plan.overage_price, money(plan.overage_price * over)))
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
            invoice = None
            if sub.status != Subscription.Status.TRIALING:
                invoice = _issue_invoice(sub, start, end)
            sub.current_period_start, sub.current_period_end = end, add_month(end)
            if sub.status == Subscription.Status.TRIALING and sub.trial_ends_at and sub.trial_ends_at <= now:
                # The trial ended without a paid plan: Free, and nothing is deleted.
                sub.plan, sub.status, sub.seats, sub.trial_ends_at = FREE.code, Subscription.Status.ACTIVE, 1, None
            save_subscription(sub)
            return invoice
    except IntegrityError:
        # Another worker closed this period first (one invoice per tenant and period).
        return None


def _issue_invoice(sub: Subscription, start: datetime, end: datetime) -> Invoice:
    plan = get_plan(sub.plan)
    changes = list(SeatChange.objects.filter(tenant=sub.tenant, at__gte=start, at__lt=end))
    seats_at_start = sub.seats - sum(c.delta for c in changes)
    conversations = UsageRecord.objects.filter(tenant=sub.tenant, metric="conversation", period_start=start).count()
    lines = compute_lines(plan=plan, seats_at_start=seats_at_start, changes=changes, start=start, end=end,
                          conversations=conversations)
    invoice = Invoice.objects.create(
        tenant=sub.tenant, number=next_invoice_number(year=end.year), period_start=start, period_end=end,
        plan=plan.code, currency=CURRENCY, total=money(sum((line.amount for line in lines), Decimal(0))),
    )
    InvoiceLine.objects.bulk_create([
        InvoiceLine(tenant=sub.tenant, invoice=invoice, description=line.description, quantity=line.quantity,
                    unit_price=line.unit_price, amount=line.amount)
        for line in lines
    ])
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
