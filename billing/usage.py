"""Usage metering from outbox events: one row per event (a unique event id), in the billing
period the event happened in, whenever the handler runs."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime
from django_scopes import scope

from billing.models import Invoice, SeatChange, Subscription, UsageRecord
from billing.periods import add_month, month_before
from billing.plans import PLANS
from billing.subscriptions import subscription_of
from support.events.models import OutboxEvent

METRIC_FOR_EVENT = {
    "conversation.created": "conversation",
    "membership.created": "agent_added",
    "membership.reactivated": "agent_added",
    "membership.deactivated": "agent_removed",
}


def meter(event: OutboxEvent) -> None:
    """Record what ``event`` means for billing; a second call for the same event does nothing."""
    if event.type == "subscription.seats_changed":
        at = parse_datetime(str(event.payload.get("at", ""))) or event.created_at
        _once(lambda: SeatChange.objects.create(
            tenant=event.tenant, event_id=event.public_id, delta=int(event.payload["delta"]), at=at))
        return
    metric = METRIC_FOR_EVENT.get(event.type)
    if metric is None:
        return
    subscription_of(event.tenant)  # creates the trial of a tenant that predates billing
    at = event.created_at

    def record() -> None:
        # The subscription's row lock orders this against closing its period (which takes the
        # same lock): either the unit is in before the period closes and the invoice counts it,
        # or it sees the period closed and is metered as late for that period's invoice.
        sub = Subscription.objects.select_for_update().get(tenant=event.tenant)
        period_start, late_for = period_of(sub=sub, at=at, metric=metric)
        UsageRecord.objects.create(tenant=event.tenant, event_id=event.public_id, metric=metric,
                                   period_start=period_start, at=at, late_for=late_for)

    with scope(tenant=event.tenant):
        _once(record)


def period_of(*, sub: Subscription, at: datetime, metric: str) -> tuple[datetime, Invoice | None]:
    """The start of the period ``at`` falls in, and the issued invoice a unit there came too late for.

    - In or after the open period: the open period, or a later one not opened yet (a period that
      has ended but is not closed yet does not get units from after its end).
    - In a closed period that was invoiced: that invoice's period. A conversation there is late
      for the invoice, if the invoice's plan bills conversations over a quota, and is settled on
      the next invoice by an adjustment line (``billing.invoicing``).
    - In a closed period without an invoice (nothing in it was billable): its start, reckoned
      back a month at a time from the open period; it is billed nowhere either way.
    """
    start, end = sub.current_period_start, sub.current_period_end
    if at >= start:
        while at >= end:  # exactly how closing moves the period on
            start, end = end, add_month(end)
        return start, None
    invoice = Invoice.objects.filter(tenant=sub.tenant, period_start__lte=at, period_end__gt=at).first()
    if invoice is not None:
        plan = PLANS.get(invoice.plan)
        bills_overage = plan is not None and plan.conversation_quota is not None and plan.over_quota == "overage"
        return invoice.period_start, invoice if metric == "conversation" and bills_overage else None
    while at < start:
        start = month_before(start)
    return start, None


def _once(create: Callable[[], object]) -> None:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        pass  # already metered: the unique event_id is the idempotency key


def usage_by_day(*, subscription: Subscription, metric: str = "conversation") -> list[tuple[date, int]]:
    """Daily counts of ``metric`` in the current period, for the owner's chart (zero days included)."""
    with scope(tenant=subscription.tenant):
        stamps = UsageRecord.objects.filter(
            tenant=subscription.tenant, metric=metric, period_start=subscription.current_period_start
        ).values_list("at", flat=True)
        counts = Counter(stamp.date() for stamp in stamps)
    start, end = subscription.current_period_start.date(), subscription.current_period_end.date()
    days = []
    day = start
    while day < end:
        days.append((day, counts.get(day, 0)))
        day = date.fromordinal(day.toordinal() + 1)
    return days
