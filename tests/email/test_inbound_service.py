"""The inbound service on real MIME: content, encodings, threading, idempotency, safety."""
from __future__ import annotations

import pytest
from django_scopes import scope, scopes_disabled

from support.mail.addresses import UnknownRecipient, reply_address, reply_token
from support.models import Contact, Conversation, EmailAlias, MailRecord, Message, RejectedMail
from support.services.inbound_email import MailRejected, receive_mail
from tests.email.conftest import fixture, mail

pytestmark = pytest.mark.django_db


def deliver(raw: bytes, to: str = "acme@in.example", route: str = "smtp", mail_from: str = ""):
    [delivery] = receive_mail(raw=raw, recipients=[to], route=route, mail_from=mail_from)
    return delivery


def messages_of(world, conversation):
    with scope(tenant=world.tenant):
        return list(Message.objects.filter(conversation=conversation).select_related("attachment").order_by("seq"))


def test_multipart_alternative_starts_an_email_conversation_with_the_reply_only(world):
    delivery = deliver(fixture("alternative.eml"))
    assert delivery.created
    with scope(tenant=world.tenant):
        conv = Conversation.objects.select_related("contact").get(pk=delivery.record.conversation_id)
        assert conv.channel == Conversation.Channel.EMAIL
        assert conv.email_address == "maria@santos-bakery.example"
        assert conv.subject == "Where is my order?"
        assert conv.contact.email == "maria@santos-bakery.example" and conv.contact.name == "Maria Santos"
    [message] = [m for m in messages_of(world, conv) if m.kind != Message.Kind.EVENT]
    assert message.author_type == Message.Author.CONTACT
    # Quoted-printable decoded, quoted history and signature cut.
    assert message.body == (
        "Hello,\n\nmy order #4411 has not arrived yet. Could you check where it is? "
        "Jürgen from the warehouse said it left on Monday."
    )
    assert message.data["email"] == {"subject": "Where is my order?", "from": "maria@santos-bakery.example",
                                     "from_name": "Maria Santos"}
    # The whole original is kept, through the attachment checks.
    assert message.attachment.content_type == "message/rfc822"
    assert message.attachment.name.endswith(".eml")
    with message.attachment.file.open("rb") as f:
        assert f.read() == fixture("alternative.eml")


def test_attachments_pass_the_upload_checks_and_refused_ones_are_named(world):
    delivery = deliver(fixture("attachments.eml"))
    msgs = messages_of(world, delivery.record.conversation)
    text, png = [m for m in msgs if m.kind != Message.Kind.EVENT]
    assert text.body.startswith("The checkout page shows this error, see the screenshot.")
    assert "“setup.exe” was not accepted" in text.body
    assert png.kind == Message.Kind.ATTACHMENT
    assert (png.attachment.content_type, png.attachment.name) == ("image/png", "screenshot.png")


def test_gbk_subject_and_body_decode(world):
    delivery = deliver(fixture("gbk.eml"))
    conv = delivery.record.conversation
    assert conv.subject == "关于订单的问题（朱镕基路店）"  # 镕 is GBK, not GB2312: decoded by the superset
    body = delivery.messages[0].body
    assert body == "您好，\n我的订单还没有到。请帮我查一下。\n谢谢！"
    with scope(tenant=world.tenant):
        assert Contact.objects.get(pk=conv.contact_id).name == "王小明"


def test_iso_2022_jp_decodes(world):
    delivery = deliver(fixture("iso2022jp.eml"))
    assert delivery.record.conversation.subject == "注文について"
    expected = "お世話になっております。\n注文した商品がまだ届きません。\nよろしくお願いいたします。"
    assert delivery.messages[0].body == expected


def test_html_only_mail_becomes_safe_text(world):
    raw = mail(body="").replace(b"text/plain", b"text/html").replace(
        b"\r\n\r\n\r\n", b"\r\n\r\n<html><head><style>p{color:red}</style></head><body><p>Hi <b>there</b></p>"
        b"<script>alert('x')</script><p>second</p></body></html>\r\n")
    delivery = deliver(raw)
    assert delivery.messages[0].body == "Hi there\n\nsecond"


def test_forwarded_mail_keeps_what_was_forwarded(world):
    body = deliver(fixture("forwarded.eml")).messages[0].body
    assert body.startswith("Please see below, this invoice is charged twice.")
    assert "Your invoice INV-2025-118 of 49.00 EUR has been charged." in body


@pytest.mark.parametrize(("name", "status"), [("auto_reply.eml", "auto_reply"), ("bounce.eml", "bounce")])
def test_auto_replies_and_bounces_are_recorded_not_posted(world, name, status):
    delivery = deliver(fixture(name))
    assert delivery.record.status == status
    assert delivery.record.message is None and not delivery.messages
    assert bytes(delivery.record.raw) == fixture(name)
    with scope(tenant=world.tenant):
        assert not Conversation.objects.filter(channel="email").exists()


def test_our_own_message_id_coming_back_is_a_loop(world):
    delivery = deliver(mail(message_id="msg_abc@in.example"))
    assert delivery.record.status == MailRecord.Status.LOOP and not delivery.messages


def test_the_same_mail_twice_is_one_message(world):
    first = deliver(fixture("alternative.eml"), route="smtp")
    again = deliver(fixture("alternative.eml"), route="http")
    assert again.record.pk == first.record.pk and not again.created
    with scope(tenant=world.tenant):
        assert MailRecord.objects.count() == 1
        assert Message.objects.filter(author_type="contact").count() == 1


def test_a_reply_threads_by_its_reply_address(world):
    conv = deliver(fixture("alternative.eml")).record.conversation
    reply = deliver(mail(message_id="r1@santos-bakery.example", body="Thanks!"), to=reply_address(conv))
    assert reply.record.conversation_id == conv.pk
    assert [m.body for m in messages_of(world, conv) if m.kind == Message.Kind.TEXT][-1] == "Thanks!"


def test_a_reply_threads_by_in_reply_to_a_message_id_we_sent(world):
    conv = deliver(fixture("alternative.eml")).record.conversation
    with scope(tenant=world.tenant):
        MailRecord.objects.create(tenant=world.tenant, direction="out", mail_id="msg_sent1@in.example",
                                  status="sent", conversation=conv)
    reply = deliver(mail(message_id="r2@santos-bakery.example", headers="In-Reply-To: <msg_sent1@in.example>\r\n"))
    assert reply.record.conversation_id == conv.pk
    # The same header from someone else is not enough: Message-IDs are not secret.
    other = deliver(mail(sender="eve@evil.example", message_id="r3@evil.example",
                         headers="In-Reply-To: <msg_sent1@in.example>\r\n"))
    assert other.record.conversation_id != conv.pk


def test_the_same_subject_alone_does_not_thread(world):
    first = deliver(mail(subject="Order", message_id="a@santos-bakery.example"))
    second = deliver(mail(subject="Re: Order", message_id="b@santos-bakery.example"))
    assert first.record.conversation_id != second.record.conversation_id


def test_a_forged_reply_token_is_refused(world):
    conv = deliver(fixture("alternative.eml")).record.conversation
    token = reply_token(conv)
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    with pytest.raises(UnknownRecipient):
        deliver(mail(message_id="f@evil.example"), to=f"reply+{forged}@in.example")
    with pytest.raises(UnknownRecipient):
        deliver(mail(message_id="f@evil.example"), to=f"reply+{conv.public_id}@in.example")
    with scope(tenant=world.tenant):
        assert not MailRecord.objects.filter(mail_id="f@evil.example").exists()


def test_a_reply_token_of_another_tenant_is_refused(world, outsider):
    conv = deliver(fixture("alternative.eml")).record.conversation
    with pytest.raises(UnknownRecipient):
        deliver(mail(message_id="x@santos-bakery.example"), to=f"globex+{reply_token(conv)}@in.example")
    # Its own tenant's address with the token is fine.
    ok = deliver(mail(message_id="y@santos-bakery.example"), to=f"acme+{reply_token(conv)}@in.example")
    assert ok.record.conversation_id == conv.pk


def test_in_reply_to_another_tenants_mail_starts_a_new_conversation_there(world, outsider):
    conv = deliver(fixture("alternative.eml")).record.conversation
    with scope(tenant=world.tenant):
        MailRecord.objects.create(tenant=world.tenant, direction="out", mail_id="msg_a@in.example",
                                  status="sent", conversation=conv)
    other = deliver(mail(message_id="z@santos-bakery.example", headers="In-Reply-To: <msg_a@in.example>\r\n"),
                    to="globex@in.example")
    assert other.record.tenant_id == outsider.tenant.pk
    assert other.record.conversation.tenant_id == outsider.tenant.pk


def test_a_verified_contact_is_not_taken_over_by_a_from_header(world):
    with scope(tenant=world.tenant):
        verified = Contact.objects.create(tenant=world.tenant, email="ceo@acme-customer.example",
                                          external_id="user-1", name="The CEO")
    delivery = deliver(mail(sender="ceo@acme-customer.example", message_id="v@spoof.example"))
    contact_id = delivery.record.conversation.contact_id
    assert contact_id != verified.pk
    with scope(tenant=world.tenant):
        assert Contact.objects.get(pk=contact_id).external_id is None


def test_an_unverified_contact_with_the_address_is_reused(world):
    delivery = deliver(mail(sender=world.contact.email, message_id="u@x.example"))
    assert delivery.record.conversation.contact_id == world.contact.pk


def test_unknown_recipients_are_refused(world):
    for address in ("nobody@in.example", "acme@elsewhere.example", "reply@in.example"):
        with pytest.raises(UnknownRecipient):
            deliver(mail(), to=address)


def test_a_forwarded_address_of_the_tenant_is_accepted(world):
    with scopes_disabled():
        EmailAlias.objects.create(tenant=world.tenant, address="help@acme.example")
    assert deliver(mail(), to="Help@ACME.example").record.tenant_id == world.tenant.pk


@pytest.mark.parametrize("raw", [b"this is not an email", b"From: nobody\r\nSubject: x\r\n\r\nbody"])
def test_malformed_mail_is_refused_and_kept(world, raw):
    with pytest.raises(MailRejected) as exc:
        deliver(raw)
    assert exc.value.code == "malformed"
    kept = RejectedMail.objects.get()
    assert bytes(kept.raw) == raw and kept.reason == "malformed" and kept.addressed_to_id == world.tenant.pk
    with scope(tenant=world.tenant):
        assert not MailRecord.objects.exists() and not Conversation.objects.filter(channel="email").exists()


def test_oversized_mail_is_refused_and_its_head_kept(world, settings):
    settings.INBOUND_EMAIL_MAX_BYTES = 64 * 1024
    raw = mail(body="x" * (70 * 1024))
    with pytest.raises(MailRejected) as exc:
        deliver(raw)
    assert exc.value.code == "too_large"
    kept = RejectedMail.objects.get()
    assert kept.size == len(raw) and bytes(kept.raw) == raw[: 64 * 1024]


def test_rate_limit_per_sender_refuses_for_now_and_stores_nothing(world, settings):
    settings.INBOUND_EMAIL_PER_SENDER_PER_HOUR = 2
    deliver(mail(message_id="1@x.example"))
    deliver(mail(message_id="2@x.example"))
    with pytest.raises(MailRejected) as exc:
        deliver(mail(message_id="3@x.example"))
    assert exc.value.temporary
    deliver(mail(sender="other@x.example", message_id="4@x.example"))  # another sender still gets through
    with scope(tenant=world.tenant):
        assert not MailRecord.objects.filter(mail_id="3@x.example").exists()


def test_rate_limit_per_tenant(world, settings):
    settings.INBOUND_EMAIL_PER_TENANT_PER_HOUR = 1
    deliver(mail(sender="a@x.example", message_id="1@x.example"))
    with pytest.raises(MailRejected):
        deliver(mail(sender="b@x.example", message_id="2@x.example"))


def test_recorded_auto_replies_count_against_the_rate_limit(world, settings):
    settings.INBOUND_EMAIL_PER_SENDER_PER_HOUR = 1
    deliver(fixture("auto_reply.eml"))  # tom@lee-family.example
    with pytest.raises(MailRejected):
        deliver(fixture("attachments.eml"))  # tom again


def test_a_mail_forwarded_as_an_attachment_is_kept_as_an_eml(world):
    inner = fixture("alternative.eml")
    raw = (
        b"From: Priya <priya@nair.example>\r\nTo: acme@in.example\r\nSubject: Fwd: Where is my order?\r\n"
        b"Message-ID: <fwd-att@nair.example>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
        b"See the attached mail.\r\n--b1\r\nContent-Type: message/rfc822\r\n"
        b"Content-Disposition: attachment; filename=\"order.eml\"\r\n\r\n" + inner + b"\r\n--b1--\r\n"
    )
    delivery = deliver(raw)
    messages = messages_of(world, delivery.record.conversation)
    files = [m.attachment for m in messages if m.kind == Message.Kind.ATTACHMENT]
    assert [(f.name, f.content_type) for f in files] == [("order.eml", "message/rfc822")]


def test_a_base64_utf8_body_decodes(world):
    import base64

    body = base64.encodebytes("Grüße aus Köln — 你好".encode()).replace(b"\n", b"\r\n")
    raw = (b"From: Kai <kai@koeln.example>\r\nTo: acme@in.example\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
           b"Message-ID: <b64@koeln.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + body)
    delivery = deliver(raw)
    assert delivery.record.conversation.subject == "Grüße"
    assert delivery.messages[0].body == "Grüße aus Köln — 你好"
