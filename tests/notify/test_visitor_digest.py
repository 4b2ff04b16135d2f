"""Visitor digests: unread agent replies reach a visitor who left, in one email, once, via real SMTP."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from push import presence
from push.models import ContactDigest, PendingDigest
from push.notifications.visitor_digest import send_due
from support.events.dispatcher import drain
from support.events.models import OutboxEvent
from support.models import Contact, Conversation, Message
from support.services.conversations import start_conversation
from support.services.messages import post_message
from support.services.reads import mark_read
from tests.notify.conftest import html_of, text_of

LATER = timedelta(minutes=3)  # past VISITOR_DIGEST_DELAY_SECONDS (2 min by default)


@pytest.fixture
def conv(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="My order never arrived")
    return conv


def reply(world, conv, body: str, **kwargs) -> Message:
    with scope(tenant=world.tenant):
        return post_message(
            conversation=conv, author_type=Message.Author.AGENT, author_membership=world.agent, body=body, **kwargs
        ).message


def link_in(text: str) -> str:
    return re.search(r"http://\S+/notifications/c/\S+/", text).group(0)


def test_several_replies_make_one_digest_with_a_link_that_reopens_the_conversation(world, conv, smtp, client):
    reply(world, conv, "Sorry to hear that!")
    reply(world, conv, "An internal remark", kind=Message.Kind.NOTE)
    reply(world, conv, "I have sent a replacement, tracking number 1Z999.")
    drain()
    t0 = timezone.now()

    assert send_due(now=t0) == 0, "not before the delay"
    assert smtp.messages == []
    assert send_due(now=t0 + LATER) == 1

    [mail] = smtp.messages
    assert mail["To"] == world.contact.email
    assert mail["Subject"] == "2 new replies from Acme"
    assert "Acme" in mail["From"]
    text = text_of(mail)
    assert "Sorry to hear that!" in text and "tracking number 1Z999" in text
    assert "Alice" in text
    assert "internal remark" not in text and "internal remark" not in html_of(mail)
    link = link_in(text)
    assert link in html_of(mail)

    # Running again (a second worker, a retried task) sends nothing more.
    assert send_due(now=t0 + 2 * LATER) == 0
    assert len(smtp.messages) == 1

    page = client.get(urlsplit(link).path)
    assert page.status_code == 200
    content = page.content.decode()
    assert "Sorry to hear that!" in content and "My order never arrived" in content
    assert "internal remark" not in content
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
    assert conv.contact_last_read_seq == conv.last_seq, "opening the page reads the replies"

    answered = client.post(urlsplit(link).path, {"body": "Thanks, got it", "client_id": "form-1"})
    assert answered.status_code == 302
    client.post(urlsplit(link).path, {"body": "Thanks, got it", "client_id": "form-1"})  # double submit
    with scope(tenant=world.tenant):
        assert list(Message.objects.filter(conversation=conv, body="Thanks, got it").values_list(
            "author_type", flat=True)) == ["contact"]


def test_nothing_is_sent_when_the_visitor_read_the_replies_meanwhile(world, conv, smtp):
    last = reply(world, conv, "Here is the answer")
    drain()
    with scope(tenant=world.tenant):
        mark_read(conversation=conv, reader="contact", seq=last.seq)
    assert send_due(now=timezone.now() + LATER) == 0
    assert smtp.messages == []
    with scope(tenant=world.tenant):
        assert not PendingDigest.objects.exists()


def test_only_unread_replies_are_included_and_a_later_reply_makes_a_new_digest(world, conv, smtp):
    first = reply(world, conv, "First answer")
    reply(world, conv, "Second answer")
    drain()
    with scope(tenant=world.tenant):
        mark_read(conversation=conv, reader="contact", seq=first.seq)
    t0 = timezone.now()
    send_due(now=t0 + LATER)
    [mail] = smtp.messages
    assert mail["Subject"] == "New reply from Acme"
    assert "Second answer" in text_of(mail) and "First answer" not in text_of(mail)

    reply(world, conv, "Third answer")
    drain()
    send_due(now=t0 + 3 * LATER)
    assert len(smtp.messages) == 2
    assert "Third answer" in text_of(smtp.messages[1]) and "Second answer" not in text_of(smtp.messages[1])
    with scope(tenant=world.tenant):
        assert list(ContactDigest.objects.order_by("up_to_seq").values_list("message_count", flat=True)) == [1, 1]


def test_a_connected_visitor_gets_no_email_until_they_leave(world, conv, smtp):
    reply(world, conv, "Are you still there?")
    drain()
    presence.connection_opened(tenant_id=world.tenant.pk, kind="contact", subject_id=world.contact.pk,
                               connection_id="tab-1", transport="ws")
    t0 = timezone.now()
    assert send_due(now=t0 + LATER) == 0
    with scope(tenant=world.tenant):
        assert PendingDigest.objects.get(conversation=conv).due_at > t0 + LATER, "postponed, not dropped"

    presence.connection_closed(tenant_id=world.tenant.pk, kind="contact", subject_id=world.contact.pk,
                               connection_id="tab-1")
    assert send_due(now=t0 + 3 * LATER) == 1
    assert "Are you still there?" in text_of(smtp.messages[0])


def test_a_rolled_back_reply_writes_no_event_and_sends_no_email(world, conv, smtp):
    drain()
    events_before = OutboxEvent.objects.with_scope(tenant=world.tenant).count()
    with pytest.raises(RuntimeError), transaction.atomic():
        reply(world, conv, "This never happened")
        raise RuntimeError("rolled back")
    drain()
    assert send_due(now=timezone.now() + LATER) == 0
    assert smtp.messages == []
    assert OutboxEvent.objects.with_scope(tenant=world.tenant).count() == events_before


def test_visitors_without_an_email_get_nothing(world, smtp):
    with scope(tenant=world.tenant):
        anonymous = Contact.objects.create(tenant=world.tenant, name="Anon")
        conv = start_conversation(tenant=world.tenant, contact=anonymous)
    reply(world, conv, "Hello?")
    drain()
    assert send_due(now=timezone.now() + LATER) == 0
    assert smtp.messages == []


def test_a_failed_send_is_retried_and_never_doubled(world, conv, smtp, settings):
    reply(world, conv, "Retry me")
    drain()
    t0 = timezone.now()
    real_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1  # nothing listens there: the SMTP connection is refused
    assert send_due(now=t0 + LATER) == 0
    with scope(tenant=world.tenant):
        assert not ContactDigest.objects.exists(), "the claim is released when sending fails"
        assert PendingDigest.objects.filter(conversation=conv).exists()

    settings.EMAIL_PORT = real_port
    assert send_due(now=t0 + 2 * LATER) == 1
    assert send_due(now=t0 + 3 * LATER) == 0
    assert len(smtp.messages) == 1

    # Even if the handler ran again for the same reply, the replies already sent are not resent.
    with scope(tenant=world.tenant):
        PendingDigest.objects.create(tenant=world.tenant, conversation=conv, due_at=t0)
    assert send_due(now=t0 + 4 * LATER) == 0
    assert len(smtp.messages) == 1


def test_a_forged_or_foreign_link_is_refused(world, outsider, conv, client, smtp):
    from push.notifications.links import conversation_token

    with scope(tenant=outsider.tenant):
        theirs = start_conversation(tenant=outsider.tenant, contact=outsider.contact)
        theirs = Conversation.objects.select_related("contact", "tenant").get(pk=theirs.pk)
    token = conversation_token(theirs)
    assert client.get(f"/notifications/c/{token[:-2]}xx/").status_code == 404
    assert client.get("/notifications/c/not-a-token/").status_code == 404
    page = client.get(f"/notifications/c/{token}/")
    assert page.status_code == 200
    assert "My order never arrived" not in page.content.decode()
