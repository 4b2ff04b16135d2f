"""Billing fixtures: Stripe-signed webhook requests built locally, exactly as Stripe signs them; issued invoices."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta
from itertools import count

import pytest
from django_scopes import scope

from billing.invoicing import close_due_periods
from billing.models import Invoice, Subscription
from billing.subscriptions import change_plan, start_trial

WEBHOOK_SECRET = "whsec_test_" + "x" * 24
_ids = count(1)


def stripe_signature(payload: bytes, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """Stripe's scheme: v1 = hex HMAC-SHA256(secret, f"{t}.{body}")."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def stripe_event(type_: str, obj: dict, *, created: int, event_id: str | None = None) -> dict:
    return {
        "id": event_id or f"evt_test_{next(_ids)}",
        "object": "event",
        "type": type_,
        "created": created,
        "data": {"object": obj},
    }


@pytest.fixture
def stripe_settings(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture
def post_webhook(client, stripe_settings):
    def post(event: dict, *, signature: str | None = None, body: bytes | None = None):
        payload = body if body is not None else json.dumps(event).encode()
        return client.post(
            "/billing/stripe/webhook", data=payload, content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature if signature is not None else stripe_signature(payload),
        )
    return post


@pytest.fixture
def subscribed(world):
    sub = start_trial(tenant=world.tenant)
    return sub


@pytest.fixture
def invoiced(world, outsider):
    """One Starter invoice each for world and outsider (ours, theirs)."""
    for w in (world, outsider):
        start_trial(tenant=w.tenant)
        change_plan(tenant=w.tenant, plan_code="starter", seats=3)
    with scope(tenant=world.tenant):
        end = Subscription.objects.get().current_period_end
    close_due_periods(now=end + timedelta(seconds=5))
    with scope(tenant=world.tenant):
        ours = Invoice.objects.get()
    with scope(tenant=outsider.tenant):
        theirs = Invoice.objects.get()
    return ours, theirs
