"""Stripe webhooks signed locally as Stripe signs them: every effect happens once, state ends right."""
from __future__ import annotations

import json
import time

from django.core import mail
from django_scopes import scope

from billing.models import ProviderEvent, SeatChange, Subscription
from support.events.dispatcher import drain
from support.events.models import OutboxEvent
from tests.billing.conftest import stripe_event, stripe_signature

NOW = int(time.time())


def checkout(world, *, seats=7, created=NOW, event_id=None):
    return stripe_event("checkout.session.completed", {
        "id": "cs_test_1", "customer": "cus_test_1", "subscription": "sub_test_1",
        "client_reference_id": world.tenant.public_id,
        "metadata": {"tenant": world.tenant.public_id, "plan": "pro", "seats": str(seats)},
    }, created=created, event_id=event_id)


def sub_updated(status, *, quantity, created, event_id=None):
    return stripe_event("customer.subscription.updated", {
        "id": "sub_test_1", "customer": "cus_test_1", "status": status,
        "items": {"data": [{"quantity": quantity}]}, "metadata": {"plan": "pro"},
    }, created=created, event_id=event_id)


def subscription(world) -> Subscription:
    with scope(tenant=world.tenant):
        return Subscription.objects.get(tenant=world.tenant)


def seat_changes(world) -> list[int]:
    with scope(tenant=world.tenant):
        return list(SeatChange.objects.values_list("delta", flat=True))


def test_valid_checkout_activates_and_provisions_seats_once(world, subscribed, post_webhook):
    response = post_webhook(checkout(world))
    assert response.status_code == 200, response.content
    assert response.json() == {"received": True, "duplicate": False}
    drain()
    sub = subscription(world)
    assert (sub.plan, sub.status, sub.seats, sub.stripe_customer_id) == ("pro", "active", 7, "cus_test_1")
    assert seat_changes(world) == [2]  # trial had 5 seats


def test_tampered_body_is_refused(world, subscribed, post_webhook):
    event = checkout(world)
    payload = json.dumps(event).encode()
    signature = stripe_signature(payload)
    tampered = payload.replace(b'"seats": "7"', b'"seats": "700"')
    response = post_webhook(event, body=tampered, signature=signature)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_signature"
    assert not ProviderEvent.objects.exists()


def test_wrong_secret_and_missing_header_are_refused(world, subscribed, post_webhook):
    payload = json.dumps(checkout(world)).encode()
    assert post_webhook({}, body=payload, signature=stripe_signature(payload, secret="whsec_other")).status_code == 400
    assert post_webhook({}, body=payload, signature="").status_code == 400
    assert post_webhook({}, body=b"not json", signature=stripe_signature(b"not json")).status_code == 400


def test_replayed_old_timestamp_is_refused(world, subscribed, post_webhook):
    payload = json.dumps(checkout(world)).encode()
    old = stripe_signature(payload, timestamp=int(time.time()) - 3600)
    assert post_webhook({}, body=payload, signature=old).status_code == 400
    assert not ProviderEvent.objects.exists()


def test_duplicate_delivery_has_one_effect(world, subscribed, post_webhook):
    event = checkout(world, event_id="evt_dup")
    assert post_webhook(event).json()["duplicate"] is False
    assert post_webhook(event).json()["duplicate"] is True
    drain()
    assert post_webhook(event).json()["duplicate"] is True
    drain()
    assert ProviderEvent.objects.filter(event_id="evt_dup").count() == 1
    with scope(tenant=world.tenant):
        assert OutboxEvent.objects.filter(type="billing.provider_event").count() == 1
    assert seat_changes(world) == [2]


def test_out_of_order_events_never_roll_state_back(world, subscribed, post_webhook):
    post_webhook(checkout(world, seats=3, created=NOW - 100))
    # Stripe sends "past_due" (t=-50) then "active with 9 seats" (t=-10), but they arrive reversed.
    post_webhook(sub_updated("active", quantity=9, created=NOW - 10))
    post_webhook(sub_updated("past_due", quantity=4, created=NOW - 50))
    drain()
    sub = subscription(world)
    assert (sub.status, sub.seats) == ("active", 9)
    assert sub.past_due_since is None


def test_payment_failed_moves_to_past_due_and_emails_owner_once(world, subscribed, post_webhook):
    post_webhook(checkout(world, created=NOW - 100))
    failed = stripe_event("invoice.payment_failed", {"id": "in_1", "customer": "cus_test_1"}, created=NOW - 5)
    post_webhook(failed)
    post_webhook(failed)
    drain()
    drain()
    sub = subscription(world)
    assert sub.status == "past_due" and sub.past_due_since is not None
    failed_mails = [m for m in mail.outbox if "payment failed" in m.subject]
    assert len(failed_mails) == 1
    assert failed_mails[0].to == [world.owner.user.email]


def test_unknown_tenant_is_stored_not_applied(world, subscribed, post_webhook):
    event = stripe_event("invoice.paid", {"id": "in_x", "customer": "cus_nobody"}, created=NOW)
    assert post_webhook(event).status_code == 200
    assert ProviderEvent.objects.get(event_id=event["id"]).tenant is None


def test_webhook_is_404_without_configuration(client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    assert client.post("/billing/stripe/webhook", data=b"{}", content_type="application/json").status_code == 404
