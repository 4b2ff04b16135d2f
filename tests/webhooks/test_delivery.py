"""Webhooks end to end: domain change → outbox → dispatcher → signed HTTP POST to a real local server."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope

from push.models import WebhookAttempt, WebhookDelivery
from push.webhooks import delivery as engine
from push.webhooks import services
from support.events.dispatcher import drain
from support.events.models import OutboxEvent
from support.models import Message
from support.services.conversations import start_conversation
from support.services.messages import post_message


def tenant_verifies(*, secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a tenant's receiver does (docs/operations.md), written independently of our signer."""
    header = headers["X-Switchboard-Signature"]
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def endpoint(world, receiver):
    return services.create_endpoint(
        tenant=world.tenant, url=receiver.url + "/hooks", event_types=["message.created"], created_by=world.owner
    )


def say(world, conv, body: str, *, author: str = Message.Author.CONTACT):
    with scope(tenant=world.tenant):
        member = world.agent if author == Message.Author.AGENT else None
        return post_message(conversation=conv, author_type=author, body=body, author_membership=member).message


@pytest.fixture
def conv(world):
    with scope(tenant=world.tenant):
        return start_conversation(tenant=world.tenant, contact=world.contact)


def deliveries(world):
    with scope(tenant=world.tenant):
        return list(WebhookDelivery.objects.order_by("sequence", "pk"))


def test_a_message_is_delivered_signed_and_verifiable(world, endpoint, conv, receiver):
    message = say(world, conv, "Hello there")
    drain()
    assert engine.deliver_due() == 1

    [request] = receiver.requests
    assert request.path == "/hooks"
    assert tenant_verifies(secret=endpoint.secret, headers=request.headers, body=request.body)
    assert not tenant_verifies(secret="whsec_wrong", headers=request.headers, body=request.body)
    assert not tenant_verifies(secret=endpoint.secret, headers=request.headers, body=request.body + b" ")
    body = json.loads(request.body)
    assert body["type"] == "message.created"
    assert body["tenant"] == world.tenant.public_id
    assert body["data"]["message"]["id"] == message.public_id
    assert body["data"]["message"]["body"] == "Hello there"
    [delivery] = deliveries(world)
    assert request.headers["X-Switchboard-Delivery"] == delivery.public_id
    assert request.headers["X-Switchboard-Event-Id"] == body["id"] == delivery.event_public_id
    assert request.headers["X-Switchboard-Event"] == "message.created"
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempts == 1 and delivery.last_response_code == 200
    assert delivery.last_duration_ms is not None and delivery.delivered_at is not None


def first_attempt(world, conv, body: str):
    """The contact says ``body``, the outbox is drained and due deliveries run once, now: the one
    delivery after that attempt, and the time it ran at."""
    say(world, conv, body)
    drain()
    t0 = timezone.now()
    engine.deliver_due(now=t0)
    [delivery] = deliveries(world)
    return delivery, t0


def test_fails_twice_then_succeeds_is_one_delivery_with_three_attempts(world, endpoint, conv, receiver):
    receiver.script = [500, 503, 200]
    delivery, t0 = first_attempt(world, conv, "Are you there?")
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    assert delivery.last_response_code == 500
    # Backoff: not due again right away, due once the (jittered, capped) delay has passed.
    assert delivery.next_attempt_at > t0
    assert engine.deliver_due(now=t0 + timedelta(seconds=1)) == 0
    engine.deliver_due(now=t0 + timedelta(hours=1))
    engine.deliver_due(now=t0 + timedelta(hours=2))

    [delivery] = deliveries(world)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempts == 3
    with scope(tenant=world.tenant):
        attempts = list(WebhookAttempt.objects.filter(delivery=delivery))
    assert [a.response_code for a in attempts] == [500, 503, 200]
    assert [a.number for a in attempts] == [1, 2, 3]
    assert attempts[0].error == "HTTP 500 Internal Server Error"
    # One logical delivery: the same delivery and event ids on every attempt, each freshly signed.
    assert len(receiver.requests) == 3
    assert {r.headers["X-Switchboard-Delivery"] for r in receiver.requests} == {delivery.public_id}
    assert [r.headers["X-Switchboard-Attempt"] for r in receiver.requests] == ["1", "2", "3"]
    assert all(tenant_verifies(secret=endpoint.secret, headers=r.headers, body=r.body) for r in receiver.requests)
    with scope(tenant=world.tenant):
        endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.consecutive_failures == 0


def test_one_conversation_is_delivered_in_order_even_across_retries(world, endpoint, conv, receiver):
    receiver.script = [500]
    first, second = say(world, conv, "first"), say(world, conv, "second")
    with scope(tenant=world.tenant):
        other = start_conversation(tenant=world.tenant, contact=world.contact)
    third = say(world, other, "other conversation")
    drain()
    t0 = timezone.now()

    engine.deliver_due(now=t0)
    sent = [json.loads(r.body)["data"]["message"]["id"] for r in receiver.requests]
    # "second" waits behind the failed "first"; the other conversation is not held up.
    assert sent == [first.public_id, third.public_id]

    engine.deliver_due(now=t0 + timedelta(hours=1))
    sent = [json.loads(r.body)["data"]["message"]["id"] for r in receiver.requests]
    assert sent == [first.public_id, third.public_id, first.public_id, second.public_id]
    assert {d.status for d in deliveries(world)} == {WebhookDelivery.Status.SUCCEEDED}


def test_event_types_filter_and_other_tenants_endpoints(world, outsider, conv, receiver):
    mine = services.create_endpoint(tenant=world.tenant, url=receiver.url + "/mine",
                                    event_types=["conversation.assigned"])
    services.create_endpoint(tenant=outsider.tenant, url=receiver.url + "/theirs", event_types=["*"])
    say(world, conv, "not subscribed")
    drain()
    engine.deliver_due()
    assert receiver.requests == []
    from support.services.conversations import assign_conversation

    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=world.agent, actor=world.owner)
    drain()
    engine.deliver_due()
    assert [r.path for r in receiver.requests] == ["/mine"]
    assert json.loads(receiver.requests[0].body)["data"]["conversation"]["assignee"]["id"] == world.agent.public_id
    assert tenant_verifies(secret=mine.secret, headers=receiver.requests[0].headers, body=receiver.requests[0].body)


def test_enqueue_is_idempotent_by_event(world, endpoint, conv):
    say(world, conv, "once")
    with scope(tenant=world.tenant):
        event = OutboxEvent.objects.get(type="message.created")
    assert len(engine.enqueue_for_event(event)) == 1
    assert engine.enqueue_for_event(event) == []
    assert len(deliveries(world)) == 1


def test_redeliver_sends_the_same_event_under_a_new_delivery_id(world, endpoint, conv, receiver):
    say(world, conv, "again please")
    drain()
    engine.deliver_due()
    [original] = deliveries(world)

    copy = services.redeliver(delivery=original)
    engine.deliver_due()

    assert copy.redelivery_of_id == original.pk and copy.public_id != original.public_id
    first, second = receiver.requests
    assert first.body == second.body
    assert second.headers["X-Switchboard-Delivery"] == copy.public_id
    assert second.headers["X-Switchboard-Event-Id"] == original.event_public_id
    with scope(tenant=world.tenant):
        copy.refresh_from_db()
    assert copy.status == WebhookDelivery.Status.SUCCEEDED and copy.attempts == 1


def test_test_ping_is_sent_at_once_and_logged(world, endpoint, receiver):
    delivery = services.send_test_ping(endpoint=endpoint)
    [request] = receiver.requests
    assert json.loads(request.body)["type"] == "ping"
    assert tenant_verifies(secret=endpoint.secret, headers=request.headers, body=request.body)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.last_response_code == 200

    receiver.default_status = 404
    failed = services.send_test_ping(endpoint=endpoint)
    assert failed.status == WebhookDelivery.Status.FAILED and failed.last_response_code == 404
    assert failed.next_attempt_at is None  # a ping is never retried


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_owner_emailed(
    world, endpoint, conv, receiver, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_DISABLE_MIN_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_HOURS = 24
    receiver.default_status = 500
    say(world, conv, "into the void")
    drain()
    t0 = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        engine.deliver_due(now=t0)
        engine.deliver_due(now=t0 + timedelta(hours=12))
        with scope(tenant=world.tenant):
            endpoint.refresh_from_db()
        assert endpoint.is_active and endpoint.consecutive_failures == 2
        engine.deliver_due(now=t0 + timedelta(hours=25))

    with scope(tenant=world.tenant):
        endpoint.refresh_from_db()
    assert not endpoint.is_active
    assert "3 failed attempts over 25 hours" in endpoint.disabled_reason
    [delivery] = deliveries(world)
    assert delivery.status == WebhookDelivery.Status.FAILED
    [mail] = mailoutbox
    assert mail.to == [world.owner.user.email]
    assert endpoint.url in mail.body and "disabled" in mail.subject.lower()

    # Nothing more is sent to it; redelivery asks for re-enabling first; re-enabling resets health.
    say(world, conv, "while disabled")
    drain()
    engine.deliver_due(now=t0 + timedelta(hours=26))
    assert len(receiver.requests) == 3
    from support.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        services.redeliver(delivery=delivery)
    assert refused.value.code == "endpoint_disabled"
    endpoint = services.update_endpoint(endpoint=endpoint, is_active=True)
    assert endpoint.failing_since is None and endpoint.consecutive_failures == 0 and not endpoint.disabled_reason


def test_a_delivery_gives_up_after_the_attempt_limit(world, endpoint, conv, receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    receiver.default_status = 500
    say(world, conv, "x")
    drain()
    t0 = timezone.now()
    engine.deliver_due(now=t0)
    engine.deliver_due(now=t0 + timedelta(hours=1))
    engine.deliver_due(now=t0 + timedelta(hours=2))
    [delivery] = deliveries(world)
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempts == 2
    assert len(receiver.requests) == 2


def test_connection_refused_is_logged_and_retried(world, conv, receiver):
    from tests.webhooks.http_receiver import stop_receiver

    dead_url = receiver.url + "/gone"
    endpoint = services.create_endpoint(tenant=world.tenant, url=dead_url, event_types=["message.created"])
    stop_receiver(receiver)
    receiver.server.shutdown = lambda: None  # the fixture's teardown stops it again
    say(world, conv, "anyone?")
    drain()
    assert engine.deliver_due() == 1
    [delivery] = deliveries(world)
    assert delivery.endpoint_id == endpoint.pk
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    assert delivery.last_response_code is None and "ConnectError" in delivery.last_error


def test_a_slow_endpoint_times_out_and_is_retried(world, endpoint, conv, receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.answer_delay = 1.0  # the receiver is slow; our client gives up after 0.3 s
    delivery, t0 = first_attempt(world, conv, "slow")
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempts == 1
    assert delivery.last_error == "Timed out after 0.3 s" and delivery.last_response_code is None

    receiver.answer_delay = 0
    engine.deliver_due(now=t0 + timedelta(hours=1))
    [delivery] = deliveries(world)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempts == 2


def test_old_finished_deliveries_are_pruned_pending_ones_kept(world, endpoint, conv, receiver, settings):
    settings.WEBHOOK_LOG_RETENTION_DAYS = 30
    receiver.script = [200, 500]
    say(world, conv, "one")
    say(world, conv, "two")
    drain()
    engine.deliver_due()
    assert engine.prune_log(now=timezone.now() + timedelta(days=29)) == 0
    # 31 days on: the succeeded delivery and its attempt go; the pending one stays.
    assert engine.prune_log(now=timezone.now() + timedelta(days=31)) == 2
    [left] = deliveries(world)
    assert left.status == WebhookDelivery.Status.PENDING
    with scope(tenant=world.tenant):
        assert WebhookAttempt.objects.filter(delivery=left).count() == 1
