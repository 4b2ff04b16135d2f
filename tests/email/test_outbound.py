"""Agents' replies by email, through the outbox and Django's SMTP backend to a real SMTP sink;
and the answer coming back threads into the conversation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from django_scopes import scope

from push.notifications.email_replies import send_reply
from push.notifications.visitor_digest import send_due
from support.events.dispatcher import drain
from support.mail.addresses import reply_address
from support.models import Conversation, MailRecord, Message
from support.services.attachments import store_attachment
from support.services.conversations import set_channel, start_conversation
from support.services.inbound_email import receive_mail
from support.services.messages import post_message
from tests.email.conftest import fixture, mail
from tests.notify.conftest import html_of, text_of

pytestmark = pytest.mark.django_db


def email_conversation(world) -> Conversation:
    [delivery] = receive_mail(raw=fixture("alternative.eml"), recipients=["acme@in.example"], route="smtp")
    return delivery.record.conversation


def reply(world, conv, body: str, **kwargs) -> Message:
    with scope(tenant=world.tenant):
        return post_message(conversation=conv, author_type=Message.Author.AGENT, author_membership=world.agent,
                            body=body, **kwargs).message


def test_an_agent_reply_goes_out_once_as_a_threaded_answerable_email(world, smtp):
    conv = email_conversation(world)
    with scope(tenant=world.tenant):
        png = store_attachment(tenant=world.tenant, uploaded_file=ContentFile(fixture_png()), name="label.png")
    sent = reply(world, conv, "It left our warehouse today — tracking 1Z999.", attachment=png)
    reply(world, conv, "Internal: customer is VIP", kind=Message.Kind.NOTE)
    drain()
    drain()

    [out] = smtp.messages
    assert smtp.envelopes[0][1] == ["maria@santos-bakery.example"]
    assert out["From"] == "Acme <acme@in.example>"
    assert out["Subject"] == "Re: Where is my order?"
    assert out["Message-ID"] == f"<{sent.public_id}@in.example>"
    assert out["In-Reply-To"] == "<CAFx9+Lk3m0VQ2rYb8hT7sJp@mail.gmail.example>"
    assert "<CAFx9+Lk3m0VQ2rYb8hT7sJp@mail.gmail.example>" in out["References"]
    assert out["Reply-To"] == reply_address(conv)
    assert "tracking 1Z999" in text_of(out) and "tracking 1Z999" in html_of(out)
    assert "VIP" not in text_of(out)
    [attached] = list(out.iter_attachments())
    assert attached.get_filename() == "label.png" and attached.get_content() == fixture_png()
    with scope(tenant=world.tenant):
        record = MailRecord.objects.get(direction="out")
    assert record.status == "sent" and record.message_id == sent.pk
    assert send_reply(message=sent) is None, "a second run sends nothing"
    assert len(smtp.messages) == 1

    # The visitor answers from their mailbox: the answer threads by In-Reply-To (and Reply-To).
    answer = mail(message_id="answer-1@santos-bakery.example", body="Great, thank you!",
                  headers=f"In-Reply-To: {out['Message-ID']}\r\n")
    [by_header] = receive_mail(raw=answer, recipients=["acme@in.example"], route="smtp")
    assert by_header.record.conversation_id == conv.pk
    [by_token] = receive_mail(raw=mail(message_id="answer-2@santos-bakery.example"), recipients=[out["Reply-To"]],
                              route="smtp")
    assert by_token.record.conversation_id == conv.pk


def fixture_png() -> bytes:
    import base64

    return base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def test_a_failed_send_releases_the_claim_and_the_retry_sends(world, smtp, settings):
    conv = email_conversation(world)
    sent = reply(world, conv, "Hello again")
    with scope(tenant=world.tenant):
        message = Message.objects.select_related("conversation__tenant", "conversation__contact").get(pk=sent.pk)
    good_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_closed_port()
    with pytest.raises(OSError):
        send_reply(message=message)
    with scope(tenant=world.tenant):
        assert not MailRecord.objects.filter(direction="out").exists()
    settings.EMAIL_PORT = good_port
    assert send_reply(message=message) is not None
    assert len(smtp.messages) == 1


def free_closed_port() -> int:
    from tests.notify.conftest import free_port

    return free_port()  # bound and released: nothing listens there


def test_chat_conversations_get_no_per_reply_email(world, smtp):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    reply(world, conv, "Live answer")
    drain()
    assert smtp.messages == []


def test_the_digest_is_answerable_and_the_answer_moves_the_conversation_to_email(world, smtp):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="Is it in stock?")
    reply(world, conv, "Yes, 12 left.")
    drain()
    assert send_due(now=timezone.now() + timedelta(minutes=5)) == 1
    [digest] = smtp.messages
    assert digest["Reply-To"] == reply_address(conv)
    assert digest["From"] == "Acme <acme@in.example>"
    assert digest["Message-ID"].startswith(f"<digest.{conv.public_id}.")
    assert "Reply to this email" in text_of(digest)

    answer = mail(sender=world.contact.email, message_id="d-answer@acme-customer.example",
                  headers=f"In-Reply-To: {digest['Message-ID']}\r\n", body="I'll take two.")
    [delivery] = receive_mail(raw=answer, recipients=["acme@in.example"], route="http")
    assert delivery.record.conversation_id == conv.pk
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
    assert conv.channel == "email" and conv.email_address == world.contact.email

    # From now on each reply is its own email, and no digest repeats it.
    reply(world, conv, "Reserved two for you.")
    drain()
    assert send_due(now=timezone.now() + timedelta(minutes=10)) == 0
    assert len(smtp.messages) == 2
    assert smtp.messages[-1]["Subject"] == "Re: Your conversation with Acme"
    assert "Reserved two for you." in text_of(smtp.messages[-1])


def test_switching_to_chat_stops_emails(world, smtp):
    conv = email_conversation(world)
    with scope(tenant=world.tenant):
        set_channel(conversation=conv, channel="chat", actor=world.agent)
    reply(world, conv, "Welcome back to the chat")
    drain()
    assert smtp.messages == []
