"""Fixtures for notification tests: a real SMTP server, a stand-in push service, VAPID keys, presence."""
from __future__ import annotations

import base64
import email
import email.policy
import os
import socket
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid01
from py_vapid.utils import b64urlencode

from tests.fresh_presence import presence_store  # noqa: F401 - autouse fixture
from tests.webhooks.http_receiver import start_receiver, stop_receiver


@dataclass
class SmtpSink:
    """Collects what the SMTP server accepted, parsed."""

    messages: list[email.message.EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings) -> SmtpSink:
    """A real SMTP server on 127.0.0.1; Django's SMTP backend is pointed at it."""
    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield sink
    controller.stop()


# The hosts the notification tests subscribe to: the stand-in push service and a made-up one.
TEST_PUSH_HOSTS = ["push.example.net", "127.0.0.1"]


@pytest.fixture(autouse=True)
def test_push_hosts(settings):
    settings.WEBPUSH_ALLOWED_HOSTS = [*settings.WEBPUSH_ALLOWED_HOSTS, *TEST_PUSH_HOSTS]


@pytest.fixture
def push_service():
    """A local HTTP server standing in for a browser vendor's push service (answers 201)."""
    receiver = start_receiver()
    receiver.default_status = 201
    yield receiver
    stop_receiver(receiver)


@pytest.fixture
def vapid(settings):
    vapid = Vapid01()
    vapid.generate_keys()
    settings.VAPID_PRIVATE_KEY = b64urlencode(vapid.private_key.private_numbers().private_value.to_bytes(32, "big"))
    settings.VAPID_PUBLIC_KEY = b64urlencode(
        vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    settings.VAPID_SUBJECT = "mailto:ops@switchboard.test"
    settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS = True
    return vapid


@dataclass
class Browser:
    """What a browser keeps for a push subscription: its ECDH key pair and auth secret."""

    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes

    @property
    def p256dh(self) -> str:
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @property
    def auth(self) -> str:
        return base64.urlsafe_b64encode(self.auth_secret).rstrip(b"=").decode()


@pytest.fixture
def browser() -> Browser:
    return Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
