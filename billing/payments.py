"""Payment-provider events: record once, then apply through the outbox.

The webhook view verifies the signature and calls ``record_provider_event``, which stores the
event (unique by provider + event id) and writes an outbox event in ONE transaction, then answers
200. The outbox handler ``apply_provider_event`` does the effects (activate, seats, invoice paid,
dunning) and marks the stored event applied in the same transaction. If the process dies between
the two, the outbox still holds the event and the effects happen after restart; a duplicate or
replayed webhook finds the stored event and does nothing, and a second run of the handler finds
it applied. Subscription state only moves forward in the provider's time (``provider_state_at``),
so out-of-order deliveries never roll it back.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from billing.models import Invoice, ProviderEvent, Subscription
from billing.plans import FREE, PLANS
from billing.subscriptions import (
    PlanState,
    record_plan_change,
    record_seat_change,
    save_subscription,
    subscription_of,
)
from support.access import access_tenant, by_public_id
from support.errors import NotFound
from support.events.outbox import emit_event
from support.models import Tenant

log = logging.getLogger(__name__)

STRIPE_STATUS = {
    "trialing": Subscription.Status.TRIALING,
    "active": Subscription.Status.ACTIVE,
    "past_due": Subscription.Status.PAST_DUE,
    "unpaid": Subscription.Status.PAST_DUE,
    "incomplete": Subscription.Status.PAST_DUE,
    "canceled": Subscription.Status.CANCELED,
    "incomplete_expired": Subscription.Status.CANCELED,
}


def _tenant_for(obj: dict[str, Any]) -> Tenant | None:
    """Find the tenant an event is about: our reference in metadata, else the Stripe customer.

    The customer is known either from the subscription (once a checkout was applied) or from an
    earlier stored event of that customer — events can arrive before the checkout is applied.
    """
    details = (obj.get("subscription_details") or {}).get("metadata") or {}
    for ref in (obj.get("client_reference_id"), (obj.get("metadata") or {}).get("tenant"), details.get("tenant")):
        if isinstance(ref, str) and ref:
            try:
                return access_tenant(ref)
            except NotFound:
                continue
    customer = obj.get("customer")
    if not isinstance(customer, str) or not customer:
        return None
    with scopes_disabled():  # looking up which tenant a provider customer belongs to
        sub = Subscription.objects.filter(stripe_customer_id=customer).select_related("tenant").first()
    if sub is not None:
        return sub.tenant
    earlier = (
        ProviderEvent.objects.filter(payload__data__object__customer=customer, tenant__isnull=False)
        .select_related("tenant").order_by("created").first()
    )
    return earlier.tenant if earlier is not None else None


def record_provider_event(*, provider: str, event: dict[str, Any]) -> bool:
    """Store a verified provider event once and queue its effects. False for a duplicate."""
    event_id, event_type = event.get("id"), event.get("type")
    obj = ((event.get("data") or {}).get("object")) or {}
    if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(obj, dict):
        raise ValueError("Not a provider event: id, type and data.object are required")
    created = datetime.fromtimestamp(int(event.get("created") or 0), tz=UTC)
    tenant = _tenant_for(obj)
    try:
        with transaction.atomic():
            stored = ProviderEvent.objects.create(
                provider=provider, event_id=event_id, type=event_type, created=created, payload=event, tenant=tenant
            )
            if tenant is not None:
                emit_event(tenant=tenant, type="billing.provider_event",
                           payload={"provider_event": stored.pk, "type": event_type}, ordering_key=tenant.public_id)
    except IntegrityError:
        return False
    if tenant is None:
        log.warning("provider event %s (%s) names no known tenant; stored, not applied", event_id, event_type)
    return True


def apply_provider_event(*, provider_event_pk: int) -> None:
    """Apply one stored provider event, once.

    The event is marked applied in the transaction that applies it, so a second run (a worker
    killed after the commit, a replay) changes nothing and emits nothing — without that mark a
    second ``invoice.payment_failed`` run would write a second ``billing.payment_failed`` event,
    and with it a second email. State is also set absolutely and only moves forward in the
    provider's time, so different events that say the same thing change nothing either.
    """
    stored = ProviderEvent.objects.select_related("tenant").get(pk=provider_event_pk)
    tenant = stored.tenant
    if tenant is None:
        return
    with transaction.atomic(), scope(tenant=tenant):
        sub = Subscription.objects.select_for_update().get(pk=subscription_of(tenant).pk)
        # Read again under the tenant's subscription lock, which every run of this takes first.
        stored = ProviderEvent.objects.select_for_update().get(pk=provider_event_pk)
        if stored.applied_at is not None:
            return
        stored.applied_at = timezone.now()
        stored.save(update_fields=["applied_at"])
        _apply(sub, stored)


def _apply(sub: Subscription, stored: ProviderEvent) -> None:
    if sub.provider_state_at and stored.created < sub.provider_state_at and stored.type != "invoice.paid":
        log.info("ignoring %s %s: older than the state already applied", stored.type, stored.event_id)
        return
    handler = _APPLY.get(stored.type)
    if handler is None:
        return
    before = PlanState.of(sub)
    handler(sub, stored.payload["data"]["object"], stored)
    # Only a real change of the billed plan is recorded: a different event that repeats the
    # state already applied records nothing.
    record_plan_change(sub=sub, before=before, at=stored.created, source=f"{stored.provider} {stored.event_id}")
    sub.provider_state_at = max(filter(None, [sub.provider_state_at, stored.created]))
    sub.updated_at = timezone.now()
    save_subscription(sub)


def _checkout_completed(sub: Subscription, obj: dict[str, Any], stored: ProviderEvent) -> None:
    meta = obj.get("metadata") or {}
    sub.provider = Subscription.Provider.STRIPE
    sub.stripe_customer_id = obj.get("customer") or sub.stripe_customer_id
    sub.stripe_subscription_id = obj.get("subscription") or sub.stripe_subscription_id
    if meta.get("plan") in PLANS:
        sub.plan = meta["plan"]
    if str(meta.get("seats", "")).isdigit():
        _set_seats(sub, int(meta["seats"]), stored)
    sub.status, sub.trial_ends_at, sub.past_due_since = Subscription.Status.ACTIVE, None, None


def _subscription_updated(sub: Subscription, obj: dict[str, Any], stored: ProviderEvent) -> None:
    status = STRIPE_STATUS.get(obj.get("status", ""))
    if stored.type == "customer.subscription.deleted":
        status = Subscription.Status.CANCELED
    if status == Subscription.Status.CANCELED and sub.plan == FREE.code and sub.status == Subscription.Status.ACTIVE:
        # We are on Free already (the owner chose it, or dunning moved us): this is Stripe confirming
        # the cancellation we asked for, and there is nothing left to change.
        return
    sub.stripe_subscription_id = obj.get("id") or sub.stripe_subscription_id
    if status == Subscription.Status.CANCELED:
        # A canceled subscription is billed at Free whatever plan its metadata names; keep our plan.
        sub.status, sub.past_due_since = status, None
        return
    if status is not None:
        if status == Subscription.Status.PAST_DUE and sub.status != Subscription.Status.PAST_DUE:
            sub.past_due_since = stored.created
        if status != Subscription.Status.PAST_DUE:
            sub.past_due_since = None
        sub.status = status
    plan = (obj.get("metadata") or {}).get("plan")
    if plan in PLANS:
        sub.plan = plan
    quantity = obj.get("quantity")
    items = ((obj.get("items") or {}).get("data")) or []
    if quantity is None and items:
        quantity = items[0].get("quantity")
    if isinstance(quantity, int) and quantity > 0:
        _set_seats(sub, quantity, stored)


def _set_seats(sub: Subscription, seats: int, stored: ProviderEvent) -> None:
    delta = seats - sub.seats
    if delta:
        sub.seats = seats
        record_seat_change(sub=sub, delta=delta, at=stored.created, provider_event=stored.event_id)


def _invoice_paid(sub: Subscription, obj: dict[str, Any], stored: ProviderEvent) -> None:
    ours = (obj.get("metadata") or {}).get("invoice")
    if ours:
        try:
            invoice: Invoice | None = by_public_id(Invoice.objects.all(), ours, tenant=sub.tenant, what="invoice")
        except NotFound:
            invoice = None
        if invoice is not None and invoice.status != Invoice.Status.PAID:
            invoice.status, invoice.paid_at = Invoice.Status.PAID, stored.created
            invoice.payment_reference = str(obj.get("id", ""))[:100]
            invoice.save(update_fields=["status", "paid_at", "payment_reference"])
    if stored.created >= (sub.provider_state_at or stored.created):
        sub.status, sub.past_due_since, sub.dunning_attempts = Subscription.Status.ACTIVE, None, 0


def _payment_failed(sub: Subscription, obj: dict[str, Any], stored: ProviderEvent) -> None:
    if sub.status != Subscription.Status.PAST_DUE:
        sub.status, sub.past_due_since, sub.dunning_attempts = Subscription.Status.PAST_DUE, stored.created, 0
    # The email is a side effect of its own: an outbox event, sent once by billing.notify_owner.
    emit_event(tenant=sub.tenant, type="billing.payment_failed",
               payload={"tenant": sub.tenant.public_id, "provider_event": stored.event_id})


_APPLY = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_updated,
    "customer.subscription.updated": _subscription_updated,
    "customer.subscription.deleted": _subscription_updated,
    "invoice.paid": _invoice_paid,
    "invoice.payment_succeeded": _invoice_paid,
    "invoice.payment_failed": _payment_failed,
}


@transaction.atomic
def mark_invoice_paid(*, invoice: Invoice, reference: str = "", now: datetime | None = None) -> Invoice:
    """The manual provider: platform staff record a payment received outside Stripe."""
    now = now or timezone.now()
    with scope(tenant=invoice.tenant):
        inv = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if inv.status == Invoice.Status.PAID:
            return inv
        inv.status, inv.paid_at, inv.payment_reference = Invoice.Status.PAID, now, reference[:100]
        inv.save(update_fields=["status", "paid_at", "payment_reference"])
        emit_event(tenant=inv.tenant, type="invoice.paid", payload={"invoice": inv.public_id, "number": inv.number})
    return inv
