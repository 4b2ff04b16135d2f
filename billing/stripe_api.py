"""Stripe through the official SDK (only with a key set): checkout and customer-portal sessions, and
pushing a plan change made here to the tenant's Stripe subscription (cancel, or price × quantity).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.conf import settings

from billing.models import Subscription
from billing.plans import Plan, get_plan, stripe_unit_amount

if TYPE_CHECKING:
    import stripe

log = logging.getLogger(__name__)


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _client(*, retries: int = 2) -> stripe.StripeClient:
    # STRIPE_API_BASE points the SDK at a local stand-in in tests; unset in production.
    import stripe  # imported on first use: the SDK is ~13 MB that a web node without billing never needs

    base: Any = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=retries, base_addresses=base)


def create_checkout_session(*, subscription: Subscription, plan: Plan, seats: int) -> str:
    """Return the URL of a hosted checkout for ``plan`` × ``seats``; the webhook applies the result."""
    tenant = subscription.tenant
    params: Any = {
        "mode": "subscription",
        "client_reference_id": tenant.public_id,
        "customer": subscription.stripe_customer_id or None,
        "line_items": [{
            "quantity": seats,
            "price_data": {
                "currency": "eur",
                "unit_amount": stripe_unit_amount(plan),
                "recurring": {"interval": "month"},
                "product_data": {"name": f"Switchboard {plan.name} (per seat)"},
            },
        }],
        "metadata": {"tenant": tenant.public_id, "plan": plan.code, "seats": str(seats)},
        "subscription_data": {"metadata": {"tenant": tenant.public_id, "plan": plan.code}},
        "success_url": f"{settings.SITE_URL}/billing/?checkout=success",
        "cancel_url": f"{settings.SITE_URL}/billing/?checkout=cancel",
    }
    session = _client().v1.checkout.sessions.create(params=params)
    return str(session.url)


def create_portal_session(*, subscription: Subscription) -> str:
    session = _client().v1.billing_portal.sessions.create(params={
        "customer": subscription.stripe_customer_id, "return_url": f"{settings.SITE_URL}/billing/",
    })
    return str(session.url)


class StripeNotConfigured(RuntimeError):
    """A change must reach Stripe but no ``STRIPE_SECRET_KEY`` is set: fail, retry, dead-letter."""


ENDED = ("canceled", "incomplete_expired")


def _sync_client() -> stripe.StripeClient:
    if not stripe_enabled():
        raise StripeNotConfigured("STRIPE_SECRET_KEY is not set; cannot change the Stripe subscription")
    # No SDK retries: the outbox retries the whole handler, durably, with backoff and dead-lettering.
    return _client(retries=0)


def _retrieve(client: stripe.StripeClient, subscription_id: str) -> stripe.Subscription | None:
    import stripe

    try:
        return client.v1.subscriptions.retrieve(subscription_id)
    except stripe.InvalidRequestError as exc:
        if exc.code == "resource_missing":
            return None
        raise


def cancel_subscription(*, subscription_id: str, idempotency_key: str) -> bool:
    """Cancel the subscription now, crediting the unused time. False if it had already ended.

    ``prorate`` turns the rest of the paid period into a credit on the customer's Stripe balance
    and ``invoice_now`` settles it on a final invoice, mirroring our invoice, which bills the paid
    plan only up to the change. The idempotency key (the outbox event's id) makes a retried call
    — after a lost response or a worker killed mid-call — return Stripe's first answer instead of
    acting again; the state read first covers retries after Stripe forgot the key (24 hours).
    """
    client = _sync_client()
    current = _retrieve(client, subscription_id)
    if current is None or current.status in ENDED:
        log.info("Stripe subscription %s already ended; nothing to cancel", subscription_id)
        return False
    client.v1.subscriptions.cancel(
        subscription_id, params={"prorate": True, "invoice_now": True}, options={"idempotency_key": idempotency_key},
    )
    return True


def _plan_product(client: stripe.StripeClient, plan: Plan, *, idempotency_key: str) -> str:
    """The Stripe product of ``plan`` (one per plan, with our own id), created on first use."""
    import stripe

    product_id = f"switchboard-{plan.code}"
    try:
        client.v1.products.retrieve(product_id)
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing":
            raise
        client.v1.products.create(
            params={"id": product_id, "name": f"Switchboard {plan.name} (per seat)"},
            options={"idempotency_key": f"{idempotency_key}:product"},
        )
    return product_id


def update_subscription(
    *, subscription_id: str, tenant_public_id: str, plan_code: str, seats: int, unit_amount: int,
    idempotency_key: str,
) -> bool:
    """Set the subscription's one item to ``seats`` × ``unit_amount`` (prorated by Stripe). False
    when there is nothing to do: it already is so (an earlier run got through), or it has ended.

    The plan goes into the subscription's metadata too, so Stripe's echo of this change
    (``customer.subscription.updated``) names the plan we already have.
    """
    client = _sync_client()
    current = _retrieve(client, subscription_id)
    if current is None or current.status in ENDED:
        # Stripe ended it meanwhile; its customer.subscription.deleted event moves us to Free.
        log.warning("Stripe subscription %s has ended; plan change to %s not pushed", subscription_id, plan_code)
        return False
    state: dict[str, Any] = current.to_dict()
    item = state["items"]["data"][0]
    price = item.get("price") or {}
    if (item.get("quantity"), price.get("unit_amount"), (state.get("metadata") or {}).get("plan")) == (
            seats, unit_amount, plan_code):
        return False
    product = _plan_product(client, get_plan(plan_code), idempotency_key=idempotency_key)
    params: Any = {
        "items": [{
            "id": item["id"], "quantity": seats,
            "price_data": {"currency": "eur", "product": product, "unit_amount": unit_amount,
                           "recurring": {"interval": "month"}},
        }],
        "metadata": {"tenant": tenant_public_id, "plan": plan_code},
        "proration_behavior": "create_prorations",
    }
    client.v1.subscriptions.update(subscription_id, params=params, options={"idempotency_key": idempotency_key})
    return True
