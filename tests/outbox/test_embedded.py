"""The embedded default: a real Celery worker and beat in threads, on the in-memory broker."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from config.embedded_worker import start_embedded_worker
from support.events.models import OutboxDelivery
from support.events.outbox import emit_event


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_worker_dispatches_on_commit_and_honours_retry_delays(world, register, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 2
    calls: list[float] = []
    succeeded = threading.Event()

    def flaky(event):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        succeeded.set()

    name = register(flaky, events=["t.embedded"])
    handle = start_embedded_worker()
    try:
        with transaction.atomic():
            emit_event(tenant=world.tenant, type="t.embedded", payload={})
        committed = time.monotonic()

        assert succeeded.wait(timeout=30), f"not handled; calls={calls}"
        # Stopping lets the running task record its outcome; reading only then keeps the test off
        # the in-memory test database while the worker thread writes to it (SQLite table locks).
        handle.stop()
        # Kicked on commit: the first attempt comes at once, not at the next sweep.
        assert calls[0] - committed < 1.5
        # The retry waited for its backoff (2 s jittered to 1–2 s), then the sweep picked it up.
        assert calls[1] - calls[0] >= 1.0
        with scopes_disabled():
            d = OutboxDelivery.objects.get(handler=name)
        assert (d.status, d.attempts, len(calls)) == ("done", 2, 2)
    finally:
        handle.stop()
