"""Agents who are not connected: encrypted web push (decrypted here), else email through real SMTP."""
from __future__ import annotations

import base64
import json
import re

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django_scopes import scope

from push import presence
from push.models import PushSubscription
from push.notifications import agent_alerts
from push.notifications.preferences import set_preferences
from push.notifications.subscriptions import save_subscription
from support.events.dispatcher import drain
from support.events.models import NotificationReceipt, OutboxEvent
from support.models import Message
from support.services.conversations import assign_conversation, start_conversation
from support.services.messages import post_message
from tests.notify.conftest import text_of


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def decrypt(request, browser) -> dict:
    assert request.headers["Content-Encoding"] == "aes128gcm"
    plain = http_ece.decrypt(
        request.body, private_key=browser.private_key, auth_secret=browser.auth_secret, version="aes128gcm"
    )
    return json.loads(plain)


def assert_vapid_signed(request, settings, audience: str) -> None:
    """The push service's check: a JWT signed with our VAPID key, for its own origin."""
    match = re.fullmatch(r"vapid t=([^,]+),\s*k=(\S+)", request.headers["Authorization"])
    token, key = match.groups()
    assert key == settings.VAPID_PUBLIC_KEY
    signing_input, _, signature = token.rpartition(".")
    raw = b64url_decode(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    claims = json.loads(b64url_decode(signing_input.split(".")[1]))
    assert claims["aud"] == audience and claims["sub"] == settings.VAPID_SUBJECT


@pytest.fixture
def conv(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="Where is my parcel?")
    drain()
    return conv


@pytest.fixture
def subscribed(world, vapid, push_service, browser):
    return save_subscription(
        membership=world.agent, endpoint=push_service.url + "/push/alice-laptop", p256dh=browser.p256dh,
        auth=browser.auth,
    )


def assign(world, conv, assignee, actor):
    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=assignee, actor=actor)
    drain()


def test_assignment_pushes_an_encrypted_vapid_signed_notification(world, conv, subscribed, push_service,
                                                                   browser, smtp, settings):
    assign(world, conv, world.agent, world.owner)

    [request] = push_service.requests
    assert request.path == "/push/alice-laptop"
    payload = decrypt(request, browser)
    assert payload["conversation"] == conv.public_id
    assert payload["title"] == "Conversation assigned to you: Visitor"
    assert payload["body"] == "Where is my parcel?"
    assert payload["url"].endswith(f"/app/?conversation={conv.public_id}")
    assert_vapid_signed(request, settings, audience=push_service.url)
    assert int(request.headers["TTL"]) > 0
    assert smtp.messages == [], "push reached a browser: no email"
    with scope(tenant=world.tenant):
        subscribed.refresh_from_db()
        assert subscribed.last_success_at is not None
        assert NotificationReceipt.objects.get(membership=world.agent).channels == "push"


def test_a_visitor_message_pushes_to_the_assignee_on_every_browser(world, conv, subscribed, push_service,
                                                                   browser, smtp):
    from tests.notify.conftest import Browser

    phone = Browser(ec.generate_private_key(ec.SECP256R1()), b"0123456789abcdef")
    save_subscription(membership=world.agent, endpoint=push_service.url + "/push/alice-phone",
                      p256dh=phone.p256dh, auth=phone.auth)
    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=world.agent, actor=world.agent)  # took it: no alert
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="Hello? It is urgent")
    drain()

    by_path = {r.path: r for r in push_service.requests}
    assert set(by_path) == {"/push/alice-laptop", "/push/alice-phone"}
    assert decrypt(by_path["/push/alice-laptop"], browser)["body"] == "Hello? It is urgent"
    assert decrypt(by_path["/push/alice-phone"], phone)["title"] == "New message from Visitor"


def test_a_gone_subscription_is_deleted_and_email_is_the_fallback(world, conv, subscribed, push_service, smtp):
    push_service.default_status = 410
    assign(world, conv, world.agent, world.owner)

    assert len(push_service.requests) == 1
    with scope(tenant=world.tenant):
        assert not PushSubscription.objects.filter(pk=subscribed.pk).exists()
    [mail] = smtp.messages
    assert mail["To"] == world.agent.user.email
    assert mail["Subject"] == "Conversation assigned to you: Visitor"
    text = text_of(mail)
    assert "Where is my parcel?" in text and f"/app/?conversation={conv.public_id}" in text


def test_a_failing_push_service_keeps_the_subscription_and_falls_back_to_email(world, conv, subscribed,
                                                                              push_service, smtp):
    push_service.default_status = 500
    assign(world, conv, world.agent, world.owner)
    with scope(tenant=world.tenant):
        subscribed.refresh_from_db()
    assert subscribed.last_failure_at is not None
    assert [m["To"] for m in smtp.messages] == [world.agent.user.email]


def test_without_subscriptions_an_email_goes_out(world, conv, smtp):
    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=world.agent, actor=world.owner)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="Any news about my parcel?")
    drain()
    subjects = [m["Subject"] for m in smtp.to(world.agent.user.email)]
    assert subjects == ["Conversation assigned to you: Visitor", "New message from Visitor"]
    assert "Any news about my parcel?" in text_of(smtp.messages[1])
    assert smtp.to(world.agent2.user.email) == [], "only the assignee"


def test_a_connected_agent_gets_nothing(world, conv, subscribed, push_service, smtp):
    presence.connection_opened(tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent.pk,
                               connection_id="dash-1", transport="ws")
    assign(world, conv, world.agent, world.owner)
    assert push_service.requests == [] and smtp.messages == []


def test_preferences_are_followed(world, conv, subscribed, push_service, smtp):
    set_preferences(membership=world.agent, changes={"push_assigned": False})
    assign(world, conv, world.agent, world.owner)
    assert push_service.requests == []
    assert [m["To"] for m in smtp.messages] == [world.agent.user.email]

    set_preferences(membership=world.agent, changes={"push_message": False, "email_message": False})
    with scope(tenant=world.tenant):
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="muted")
    drain()
    assert push_service.requests == [] and len(smtp.messages) == 1


def test_each_event_notifies_once(world, conv, subscribed, push_service, smtp):
    assign(world, conv, world.agent, world.owner)
    with scope(tenant=world.tenant):
        event = OutboxEvent.objects.get(type="conversation.assigned")
    agent_alerts.handle_event(event)  # as if the dispatcher ran the handler a second time
    agent_alerts.handle_event(event)
    assert len(push_service.requests) == 1


def test_agent_notes_and_system_messages_alert_nobody(world, conv, subscribed, push_service, smtp):
    assign(world, conv, world.agent, world.owner)
    with scope(tenant=world.tenant):
        post_message(conversation=conv, author_type=Message.Author.AGENT, author_membership=world.agent2,
                     body="note", kind=Message.Kind.NOTE)
        post_message(conversation=conv, author_type=Message.Author.AGENT, author_membership=world.agent2,
                     body="reply")
    drain()
    assert len(push_service.requests) == 1, "only the assignment"


def test_receipts_outlive_the_outbox_replay_window_then_go(world, conv, smtp, settings):
    from datetime import timedelta

    from django.utils import timezone

    from support.events import receipts

    assign(world, conv, world.agent, world.owner)
    keep = max(settings.OUTBOX_RETENTION_DAYS, settings.OUTBOX_DEAD_RETENTION_DAYS)
    assert receipts.prune(now=timezone.now() + timedelta(days=keep)) == 0
    assert receipts.prune(now=timezone.now() + timedelta(days=keep + 2)) == 1


def test_a_conversation_reassigned_before_the_alert_alerts_only_the_new_assignee(world, conv, smtp):
    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=world.agent, actor=world.owner)
        assign_conversation(conversation=conv, assignee=world.agent2, actor=world.owner)
    drain()
    assert [m["To"] for m in smtp.messages] == [world.agent2.user.email]
