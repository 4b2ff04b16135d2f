"""Fixtures for email-channel tests: the inbound domain, real MIME fixtures, and (from the
notification tests) a real SMTP sink and an in-process presence store."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.notify.conftest import SmtpSink, free_port, presence_store, smtp  # noqa: F401 - fixtures

MIME = Path(__file__).parent / "mime"
DOMAIN = "in.example"


def fixture(name: str) -> bytes:
    return (MIME / name).read_bytes()


def mail(*, sender: str = "maria@santos-bakery.example", to: str = "acme@in.example", subject: str = "Hello",
         body: str = "Hi there", message_id: str = "m1@santos-bakery.example", headers: str = "") -> bytes:
    """A small plain-text mail, for threading tests."""
    text = (
        f"From: Maria <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n"
        f"Date: Fri, 5 Dec 2025 10:00:00 +0000\r\nMIME-Version: 1.0\r\n{headers}"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    return text.encode()


@pytest.fixture(autouse=True)
def inbound(settings, tmp_path):
    settings.INBOUND_EMAIL_DOMAIN = DOMAIN
    settings.INBOUND_EMAIL_SECRET = "s3cret-inbound"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.SITE_URL = "https://app.example"
    return settings
