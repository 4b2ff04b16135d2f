"""Subscriptions: trials, plan and seat changes, and what a plan allows (seats, quota, features)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from billing.models import PlanChange, SeatChange, Subscription, UsageRecord
from billing.periods import add_month
from billing.plans import FREE, PLANS, TRIAL_PLAN, TRIAL_SEATS, Plan, get_plan, stripe_unit_amount
from support.errors import DomainError, ValidationFailed
from support.events.outbox import emit_event
from support.models import Invitation, Membership, Tenant


class SeatLimitReached(DomainError):
    code = "seat_limit"


class FeatureNotInPlan(DomainError):
    code = "plan_feature"


def subscription_of(tenant: Tenant) -> Subscription:
    """The tenant's subscription, created as a trial if the tenant predates billing."""
    with scope(tenant=tenant):
        sub = Subscription.objects.filter(tenant=tenant).first()
    return sub if sub is not None else start_trial(tenant=tenant)


@transaction.atomic
def start_trial(*, tenant: Tenant, now: datetime | None = None) -> Subscription:
    now = now or timezone.now()
    with scope(tenant=tenant):
        sub, _ = Subscription.objects.get_or_create(
            tenant=tenant,
            defaults={
                "plan": TRIAL_PLAN.code,
                "status": Subscription.Status.TRIALING,
                "seats": TRIAL_SEATS,
                "current_period_start": now,
                "current_period_end": add_month(now),
                "trial_ends_at": now + timedelta(days=settings.TRIAL_DAYS),
            },
        )
    return sub


PLAN_CACHE_SECONDS = 30


def _plan_cache_key(tenant_id: int) -> str:
    return f"billing:t{tenant_id}:plan"


def current_plan(tenant: Tenant) -> Plan:
    """The plan in force, cached briefly: hot paths (every API request) ask for it."""
    code = cache.get(_plan_cache_key(tenant.pk))
    if code is None:
        code = effective_plan(subscription_of(tenant)).code
        cache.set(_plan_cache_key(tenant.pk), code, PLAN_CACHE_SECONDS)
    return get_plan(code)


def save_subscription(sub: Subscription, **kwargs: object) -> None:
    """Save and forget the cached plan — now, and again once the change commits (a reader between
    the two may have cached the old plan). Every subscription write goes through here."""
    sub.save(**kwargs)  # type: ignore[arg-type]
    key = _plan_cache_key(sub.tenant_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


def effective_plan(sub: Subscription) -> Plan:
    """What the tenant may use now: canceled subscriptions fall back to Free (data is kept)."""
    if sub.status == Subscription.Status.CANCELED:
        return FREE
    return get_plan(sub.plan)


def billed_plan(*, plan_code: str, status: str) -> Plan | None:
    """The plan time in this state is billed at: None while trialing (a trial costs nothing), Free
    once canceled (like ``effective_plan``), else the subscription's plan (past due included)."""
    if status == Subscription.Status.TRIALING:
        return None
    if status == Subscription.Status.CANCELED:
        return FREE
    return get_plan(plan_code)


@dataclass(frozen=True)
class PlanState:
    """What a subscription is billed for at one moment; taken before a change to compare after it."""

    plan: str
    status: str
    seats: int

    @classmethod
    def of(cls, sub: Subscription) -> PlanState:
        return cls(plan=sub.plan, status=sub.status, seats=sub.seats)

    @property
    def billed(self) -> Plan | None:
        return billed_plan(plan_code=self.plan, status=self.status)


def billing_time(*, sub: Subscription, at: datetime) -> datetime:
    """When a change made (or dated by a provider) at ``at`` takes effect for billing.

    Never before the open period's start (an earlier period may already be invoiced) nor before
    the tenant's latest plan change (so the changes of a period form one chain in time order).
    Runs under the subscription's row lock, inside the change's transaction and tenant scope.
    """
    latest = PlanChange.objects.filter(tenant=sub.tenant).order_by("-at").values_list("at", flat=True).first()
    return max(filter(None, [at, sub.current_period_start, latest]))


def record_plan_change(*, sub: Subscription, before: PlanState, at: datetime, source: str) -> PlanChange | None:
    """Write a ``PlanChange`` if the billed plan differs between ``before`` and ``sub`` now.

    Every write that can change ``plan`` or ``status`` calls this in its own transaction, so a
    change is recorded exactly when it happens and a repeated write (a redelivered event, the same
    plan chosen twice) records nothing.
    """
    after = PlanState.of(sub)
    if _code(before.billed) == _code(after.billed):
        return None
    return PlanChange.objects.create(
        tenant=sub.tenant, at=billing_time(sub=sub, at=at), from_plan=before.plan, to_plan=after.plan,
        from_status=before.status, to_status=after.status, seats_before=before.seats, seats_after=after.seats,
        source=source[:120],
    )


def _code(plan: Plan | None) -> str | None:
    return plan.code if plan is not None else None


def record_seat_change(*, sub: Subscription, delta: int, at: datetime, **detail: str) -> None:
    """Announce a paid-seat change and write its ``SeatChange`` in the same transaction.

    The row carries the outbox event's id, so the metering handler that also turns
    ``subscription.seats_changed`` into a ``SeatChange`` finds it there and adds nothing; an
    invoice closed right after the change already sees it.
    """
    at = billing_time(sub=sub, at=at)
    event = emit_event(
        tenant=sub.tenant, type="subscription.seats_changed",
        payload={"tenant": sub.tenant.public_id, "delta": delta, "seats": sub.seats, "at": at.isoformat(), **detail},
    )
    SeatChange.objects.create(tenant=sub.tenant, event_id=event.public_id, delta=delta, at=at)


def seat_limit(sub: Subscription) -> int:
    plan = effective_plan(sub)
    if plan.max_seats is not None:
        return plan.max_seats if sub.status != Subscription.Status.TRIALING else max(plan.max_seats, TRIAL_SEATS)
    return max(sub.seats, plan.included_seats)


def seats_in_use(tenant: Tenant) -> int:
    with scope(tenant=tenant):
        members = Membership.objects.filter(is_active=True).count()
        pending = Invitation.objects.filter(accepted_at__isnull=True, expires_at__gt=timezone.now()).count()
    return members + pending


def check_can_add_seat(*, tenant: Tenant) -> None:
    """Raise ``SeatLimitReached`` (with a way out) when one more agent would exceed the paid seats."""
    sub = subscription_of(tenant)
    limit = seat_limit(sub)
    used = seats_in_use(tenant)
    if used + 1 > limit:
        raise SeatLimitReached(
            f"All {limit} seats of your {effective_plan(sub).name} plan are in use "
            f"(members and pending invitations). Add seats or change plan on the billing page: "
            f"{settings.SITE_URL}/billing/"
        )


def require_feature(*, tenant: Tenant, feature: str) -> None:
    plan = current_plan(tenant)
    if not plan.allows(feature):
        raise FeatureNotInPlan(
            f"Your {plan.name} plan does not include {feature.replace('_', ' ')}. Upgrade on the billing page."
        )


def has_feature(*, tenant: Tenant, feature: str) -> bool:
    return current_plan(tenant).allows(feature)


@dataclass(frozen=True)
class QuotaState:
    used: int
    quota: int | None
    over: bool
    behaviour: str  # "ok", "offline" (degrade to the offline form), "overage" (billed)


def conversation_quota_state(*, tenant: Tenant) -> QuotaState:
    sub = subscription_of(tenant)
    plan = effective_plan(sub)
    with scope(tenant=tenant):
        used = UsageRecord.objects.filter(
            tenant=tenant, metric="conversation", period_start=sub.current_period_start
        ).count()
    if plan.conversation_quota is None or used < plan.conversation_quota:
        return QuotaState(used, plan.conversation_quota, False, "ok")
    return QuotaState(used, plan.conversation_quota, True, plan.over_quota)


@transaction.atomic
def change_plan(
    *, tenant: Tenant, plan_code: str, seats: int | None = None, now: datetime | None = None
) -> Subscription:
    """Switch plan and/or seats, at once: features now, and billing from this moment.

    The period's invoice bills the old plan up to ``now`` and the new one after it: a
    ``PlanChange`` (if the billed plan changes) and a ``SeatChange`` (if the seats do) are written
    here, in the change's transaction.
    """
    if plan_code not in PLANS:
        raise ValidationFailed(f"Unknown plan {plan_code!r}", code="invalid_plan")
    now = now or timezone.now()
    subscription_of(tenant)
    with scope(tenant=tenant):
        sub = Subscription.objects.select_for_update().get(tenant=tenant)
    plan = get_plan(plan_code)
    new_seats = sub.seats if seats is None else seats
    if new_seats < 1 or new_seats > 1000:
        raise ValidationFailed("Seats must be between 1 and 1000", code="invalid_seats")
    if plan.max_seats is not None:
        new_seats = min(new_seats, plan.max_seats)
    in_use = seats_in_use(tenant)
    if max(new_seats, plan.included_seats) < in_use:
        raise ValidationFailed(
            f"{in_use} seats are in use; deactivate agents or revoke invitations before going below that",
            code="seats_in_use",
        )
    before = PlanState.of(sub)
    delta = new_seats - sub.seats
    sub.plan = plan.code
    sub.seats = new_seats
    if sub.status in (Subscription.Status.TRIALING, Subscription.Status.CANCELED):
        sub.status = Subscription.Status.ACTIVE
        sub.trial_ends_at = None
    sub.updated_at = now
    with scope(tenant=tenant):
        queue_stripe_sync(sub=sub, before=before, at=now)
        save_subscription(sub)
        record_plan_change(sub=sub, before=before, at=now, source="owner")
        if delta:
            record_seat_change(sub=sub, delta=delta, at=now)
    emit_event(
        tenant=tenant, type="subscription.changed",
        payload={"tenant": tenant.public_id, "plan": plan.code, "seats": new_seats, "status": sub.status},
    )
    return sub


def stripe_billed(sub: Subscription, state: PlanState | None = None) -> bool:
    """True while a live Stripe subscription charges the tenant for a paid plan.

    ``state`` (default: the subscription as it is) is the plan state to judge: a change is pushed
    to Stripe when the tenant was Stripe-billed *before* it. A trial is ours (not in Stripe), and a
    tenant on Free or canceled has no running Stripe subscription: a paid plan then needs a new
    Checkout.
    """
    state = state or PlanState.of(sub)
    billed = state.billed
    return (
        sub.provider == Subscription.Provider.STRIPE and bool(sub.stripe_subscription_id)
        and state.status in (Subscription.Status.ACTIVE, Subscription.Status.PAST_DUE)
        and billed is not None and billed.price_per_seat > 0
    )


STRIPE_SYNC_EVENT = "billing.stripe_sync"


def queue_stripe_sync(*, sub: Subscription, before: PlanState, at: datetime) -> None:
    """Queue the change just made to a locked subscription for Stripe, in the change's transaction.

    Called before ``save_subscription`` by every local write that changes a Stripe-billed tenant's
    plan or seats (the owner's ``change_plan``, the dunning downgrade), never by the webhook path
    (those changes come from Stripe). The outbox event names the Stripe subscription and the
    absolute target — "cancel" for a plan that costs nothing, else "update" to plan × seats — and
    its id becomes Stripe's ``Idempotency-Key`` (``billing.outbox_handlers.sync_stripe``). A
    rollback discards it with the change, so Stripe never hears of a change we did not make.

    Our change is the newest truth about the plan: ``provider_state_at`` moves to ``at``, so a
    Stripe event from before it, delivered late, cannot put the old plan back, and Stripe's own
    echo of this change (same plan, same seats) changes nothing.
    """
    if not stripe_billed(sub, before):
        return
    plan = get_plan(sub.plan)
    if plan.price_per_seat <= 0:
        action = "cancel"
    elif (sub.plan, sub.seats) != (before.plan, before.seats):
        action = "update"
    else:
        return
    emit_event(
        tenant=sub.tenant, type=STRIPE_SYNC_EVENT, ordering_key=sub.tenant.public_id,
        payload={
            "tenant": sub.tenant.public_id, "subscription": sub.stripe_subscription_id, "action": action,
            "plan": plan.code, "seats": sub.seats, "unit_amount": stripe_unit_amount(plan),
        },
    )
    sub.provider_state_at = max(filter(None, [sub.provider_state_at, at]))


def api_rate_per_minute(tenant: Tenant) -> int:
    """The API request budget of the tenant's plan (``settings.API_RATE_LIMIT_RESOLVER`` points here).

    Plans without the API feature keep the default budget for their members' dashboard sessions;
    their tokens are refused by the API's plan check before any throttling matters.
    """
    return current_plan(tenant).api_requests_per_minute or int(settings.API_RATE_PER_MINUTE)


def live_chat_allowed(tenant: Tenant) -> bool:
    """False when the plan's conversation quota is spent and the plan degrades to the offline form.

    Visitors then see the widget's offline form (their message still becomes a conversation, marked
    offline, and the team is emailed); no visitor ever sees an error.
    """
    return conversation_quota_state(tenant=tenant).behaviour != "offline"
