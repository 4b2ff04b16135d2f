"""Dunning: reminders while a subscription is past due, then a downgrade to Free (no data deleted)."""
from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from billing.models import Subscription
from billing.plans import FREE
from billing.subscriptions import PlanState, queue_stripe_sync, record_plan_change, save_subscription
from support.events.outbox import emit_event

# Days after the first failure on which the owner is reminded (and Stripe retries the card).
REMINDER_DAYS = (1, 3, 7)
GRACE_DAYS = 14


def dunning_sweep(*, now: datetime | None = None) -> int:
    """Celery beat entry point. Returns how many subscriptions it acted on."""
    now = now or timezone.now()
    with scopes_disabled():  # a platform sweep; each subscription is then handled in its scope
        due = list(Subscription.objects.filter(status=Subscription.Status.PAST_DUE).select_related("tenant"))
    acted = 0
    for sub in due:
        acted += _step(sub, now)
    return acted


@transaction.atomic
def _step(subscription: Subscription, now: datetime) -> int:
    with scope(tenant=subscription.tenant):
        sub = Subscription.objects.select_for_update().get(pk=subscription.pk)
        if sub.status != Subscription.Status.PAST_DUE or sub.past_due_since is None:
            return 0
        overdue = now - sub.past_due_since
        if overdue >= timedelta(days=GRACE_DAYS):
            before = PlanState.of(sub)
            sub.plan, sub.status, sub.past_due_since, sub.dunning_attempts = (
                FREE.code, Subscription.Status.ACTIVE, None, 0)
            queue_stripe_sync(sub=sub, before=before, at=now)  # a Stripe subscription is canceled too
            save_subscription(sub)
            # Billed at the old plan up to now, at Free from now (the period's invoice shows both).
            record_plan_change(sub=sub, before=before, at=now, source="dunning")
            emit_event(tenant=sub.tenant, type="billing.downgraded",
                       payload={"tenant": sub.tenant.public_id, "plan": FREE.code})
            return 1
        reached = sum(1 for day in REMINDER_DAYS if overdue >= timedelta(days=day))
        if reached > sub.dunning_attempts:
            sub.dunning_attempts = reached
            save_subscription(sub, update_fields=["dunning_attempts"])
            emit_event(tenant=sub.tenant, type="billing.dunning_reminder",
                       payload={"tenant": sub.tenant.public_id, "attempt": reached,
                                "downgrade_on": (sub.past_due_since + timedelta(days=GRACE_DAYS)).isoformat()})
            return 1
    return 0
