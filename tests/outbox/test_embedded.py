"""The embedded default: a real Celery worker and beat in threads, on the in-memory broker."""
from __future__ import annotations

import time

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from push.embedded import start_embedded_worker
from push.models import OutboxDelivery
from push.outbox import emit_event


def wait_for(predicate, timeout: float = 20.0):
    """Poll real background threads (not a clock: the worker runs on its own time)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_worker_dispatches_on_commit_and_honours_retry_delays(world, register, settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 2
    calls: list[float] = []

    def flaky(event):
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")

    name = register(flaky, events=["t.embedded"])
    handle = start_embedded_worker()
    try:
        with transaction.atomic():
            emit_event(tenant=world.tenant, type="t.embedded", payload={})
        committed = time.monotonic()

        def done():
            with scopes_disabled():
                return OutboxDelivery.objects.filter(handler=name, status="done").exists()

        assert wait_for(done), f"not handled; calls={calls}"
        # Kicked on commit: the first attempt comes at once, not at the next sweep.
        assert calls[0] - committed < 1.5
        # The retry waited for its backoff (2 s jittered to 1–2 s), then the sweep picked it up.
        assert calls[1] - calls[0] >= 1.0
        with scopes_disabled():
            d = OutboxDelivery.objects.get(handler=name)
        assert d.attempts == 2 and len(calls) == 2
    finally:
        handle.stop()
