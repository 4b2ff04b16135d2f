"""The two inbound routes for real: the SMTP listener on a free port (smtplib talking to it) and
``POST /inbound/email``; both reach the one service, so a mail sent by both is one message."""
from __future__ import annotations

import asyncio
import base64
import json
import smtplib
import threading

import pytest
from django_scopes import scope

from push.inbound_mail.smtp import serve
from support.mail.addresses import reply_address, reply_token
from support.models import Conversation, MailRecord, Message, RejectedMail
from tests.email.conftest import fixture, mail

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener():
    """``serve()`` — what ``manage.py inbound_smtp`` runs — on a free port, in its own thread and loop."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bound: list[int] = []
    started = threading.Event()

    def ready(port: int) -> None:
        bound.append(port)
        started.set()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve(host="127.0.0.1", port=0, stop=stop,
                                                                           ready=ready)), daemon=True)
    thread.start()
    assert started.wait(10), "the listener did not start"
    yield bound[0]
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def smtp_send(port: int, raw: bytes, to: list[str], sender: str = "maria@santos-bakery.example"):
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        return client.sendmail(sender, to, raw)


def post(client, raw: bytes, *, secret: str = "s3cret-inbound", query: str = "", **extra):
    return client.post(f"/inbound/email{query}", data=raw, content_type="message/rfc822",
                       HTTP_AUTHORIZATION=f"Bearer {secret}", **extra)


def contact_messages(world) -> list[Message]:
    with scope(tenant=world.tenant):
        return list(Message.objects.filter(author_type="contact").order_by("pk"))


def test_smtp_accepts_mail_for_a_tenant(world, listener):
    assert smtp_send(listener, fixture("gbk.eml"), ["acme@in.example"]) == {}
    [message] = contact_messages(world)
    assert message.body == "您好，\n我的订单还没有到。请帮我查一下。\n谢谢！"
    with scope(tenant=world.tenant):
        assert MailRecord.objects.get().route == "smtp"


def test_smtp_refuses_unknown_recipients_at_rcpt(world, listener):
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as client:
        client.ehlo()
        assert client.mail("maria@santos-bakery.example")[0] == 250
        assert client.rcpt("nobody@in.example")[0] == 550
        assert client.rcpt("acme@elsewhere.example")[0] == 550
        assert client.rcpt("reply+cv_nope.0123456789abcdef01234567@in.example")[0] == 550
        assert client.rcpt("acme@in.example")[0] == 250


def test_smtp_refuses_a_reply_token_of_another_tenant(world, outsider, listener):
    smtp_send(listener, fixture("alternative.eml"), ["acme@in.example"])
    with scope(tenant=world.tenant):
        conv = Conversation.objects.select_related("tenant").get(channel="email")
    with smtplib.SMTP("127.0.0.1", listener, timeout=10) as client:
        client.ehlo()
        client.mail("maria@santos-bakery.example")
        assert client.rcpt(f"globex+{reply_token(conv)}@in.example")[0] == 550
        assert client.rcpt(reply_address(conv))[0] == 250


def test_smtp_malformed_mail_gets_a_5xx_and_is_kept(world, listener):
    with pytest.raises(smtplib.SMTPDataError) as exc:
        smtp_send(listener, b"no headers here, just words\r\n", ["acme@in.example"])
    assert exc.value.smtp_code == 554
    assert RejectedMail.objects.get().route == "smtp"
    assert not contact_messages(world)


def test_smtp_rate_limit_is_a_temporary_failure(world, listener, settings):
    settings.INBOUND_EMAIL_PER_SENDER_PER_HOUR = 1
    smtp_send(listener, mail(message_id="1@x.example"), ["acme@in.example"])
    with pytest.raises(smtplib.SMTPDataError) as exc:
        smtp_send(listener, mail(message_id="2@x.example"), ["acme@in.example"])
    assert exc.value.smtp_code == 451


def test_smtp_bounce_with_null_sender_is_recorded_not_posted(world, listener):
    smtp_send(listener, fixture("bounce.eml"), ["acme@in.example"], sender="")
    with scope(tenant=world.tenant):
        assert MailRecord.objects.get().status == "bounce"
    assert not contact_messages(world)


def test_the_same_mail_through_smtp_and_http_is_one_message(world, listener, client):
    raw = fixture("alternative.eml")
    smtp_send(listener, raw, ["acme@in.example"])
    response = post(client, raw, query="?to=acme@in.example")
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["duplicate"] is True and result["status"] == "accepted"
    assert len(contact_messages(world)) == 1


def test_http_needs_the_secret(world, client):
    assert post(client, fixture("alternative.eml"), secret="wrong").status_code == 401
    assert client.post("/inbound/email", data=b"x", content_type="message/rfc822").status_code == 401
    basic = base64.b64encode(b"api:s3cret-inbound").decode()
    response = client.post("/inbound/email", data=fixture("alternative.eml"), content_type="message/rfc822",
                           HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 200
    assert post(client, fixture("gbk.eml"), secret="s3cret-inbound2").status_code == 401


def test_http_takes_recipients_from_headers_without_an_envelope(world, client):
    response = post(client, fixture("iso2022jp.eml"))  # To: acme@in.example
    assert response.status_code == 200
    assert response.json()["results"][0]["tenant"] == world.tenant.public_id


def test_http_sendgrid_form_with_envelope(world, client):
    body = (
        b"--xYzZY\r\nContent-Disposition: form-data; name=\"envelope\"\r\n\r\n"
        + json.dumps({"to": ["acme@in.example"], "from": "tom@lee-family.example"}).encode()
        + b"\r\n--xYzZY\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n"
        + fixture("attachments.eml")
        + b"\r\n--xYzZY--\r\n"
    )
    response = client.generic("POST", "/inbound/email", body, content_type="multipart/form-data; boundary=xYzZY",
                              HTTP_AUTHORIZATION="Bearer s3cret-inbound")
    assert response.status_code == 200, response.content
    kinds = sorted(m.kind for m in contact_messages(world))
    assert kinds == ["attachment", "text"]


def test_http_refusals(world, client, settings):
    assert post(client, mail(), query="?to=nobody@in.example").status_code == 404
    assert post(client, b"garbage", query="?to=acme@in.example").status_code == 400
    settings.INBOUND_EMAIL_MAX_BYTES = 64 * 1024
    big = mail(body="y" * (80 * 1024), message_id="big@x.example")
    response = post(client, big, query="?to=acme@in.example")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert {r.reason for r in RejectedMail.objects.all()} == {"malformed", "too_large"}
    assert not contact_messages(world)


def test_http_is_off_without_a_secret(world, client, settings):
    settings.INBOUND_EMAIL_SECRET = ""
    assert post(client, mail()).status_code == 404


def test_the_command_needs_the_domain(settings):
    from django.core.management import CommandError, call_command

    settings.INBOUND_EMAIL_DOMAIN = ""
    with pytest.raises(CommandError, match="INBOUND_EMAIL_DOMAIN"):
        call_command("inbound_smtp", "--port", "0")
