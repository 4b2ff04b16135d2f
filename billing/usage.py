"""Usage metering from outbox events, idempotent by event id (a unique column per record)."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_datetime
from django_scopes import scope

from billing.models import SeatChange, Subscription, UsageRecord
from billing.subscriptions import subscription_of
from push.models import OutboxEvent

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
    sub = subscription_of(event.tenant)
    _once(lambda: UsageRecord.objects.create(
        tenant=event.tenant, event_id=event.public_id, metric=metric,
        period_start=_period_start_for(sub, event.created_at), at=event.created_at))


def _period_start_for(sub: Subscription, at: datetime) -> datetime:
    # An event that arrives after its period closed still counts in the period it happened in
    # only if that period is the current one; later arrivals are metered in the current period.
    return sub.current_period_start


def _once(create: object) -> None:
    try:
        with transaction.atomic():
            create()  # type: ignore[operator]
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
