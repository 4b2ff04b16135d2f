"""Stripe checkout and customer-portal sessions, through the official SDK (only with a key set)."""
from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from billing.models import Subscription
from billing.plans import Plan


def stripe_enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def _client() -> stripe.StripeClient:
    # STRIPE_API_BASE points the SDK at a local stand-in in tests; unset in production.
    base: Any = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, max_network_retries=2, base_addresses=base)


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
                "unit_amount": int(plan.price_per_seat * 100),
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
