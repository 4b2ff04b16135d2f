"""Fixtures for webhook tests: a real local HTTP receiver and private targets allowed."""
from __future__ import annotations

import pytest

from tests.webhooks.http_receiver import Receiver, start_receiver, stop_receiver


@pytest.fixture
def receiver() -> Receiver:
    server = start_receiver()
    yield server
    stop_receiver(server)


@pytest.fixture(autouse=True)
def allow_local_targets(settings):
    # The receiver listens on 127.0.0.1; the SSRF tests switch this off again.
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
