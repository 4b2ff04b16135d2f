"""Two dispatchers side by side on real PostgreSQL: every handler runs exactly once per event."""
from __future__ import annotations

import os
import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled

from support.events import dispatcher
from support.events.models import OutboxDelivery
from support.events.outbox import emit_event
from tests.conftest import skip_without_service


@pytest.fixture
def postgres(request):
    if not os.environ.get("DATABASE_URL") or connection.vendor != "postgresql":
        skip_without_service(request.node, service="postgres",
                             reason="needs PostgreSQL: set DATABASE_URL=postgres://… (and TEST_DATABASE_NAME) to run")


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_dispatchers_drain_1000_events_exactly_once(postgres, world, register, settings):
    settings.OUTBOX_BATCH_SIZE = 25
    lock = threading.Lock()
    runs: Counter[tuple[str, int]] = Counter()
    by_thread: Counter[str] = Counter()
    order: dict[str, list[int]] = defaultdict(list)

    def plain(event):
        with lock:
            runs[("plain", event.pk)] += 1
            by_thread[threading.current_thread().name] += 1

    def ordered(event):
        with lock:
            runs[("ordered", event.pk)] += 1
            order[event.ordering_key].append(event.pk)

    register(plain, events=["t.load"], name="test.plain")
    register(ordered, events=["t.load"], name="test.ordered", ordered=True)
    events = []
    for chunk in range(10):
        with transaction.atomic():
            for i in range(100):
                n = chunk * 100 + i
                events.append(emit_event(tenant=world.tenant, type="t.load", payload={"n": n},
                                         ordering_key=f"cv_{n % 20}"))

    errors: list[BaseException] = []

    def work():
        try:
            dispatcher.drain()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, name=f"dispatcher-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert dispatcher.drain().claimed == 0

    expected = {(h, e.pk) for e in events for h in ("plain", "ordered")}
    assert set(runs) == expected
    assert set(runs.values()) == {1}, "some handler ran twice for one event"
    # Both dispatchers took a share (the claim skips rows locked by the other, it does not wait).
    assert len(by_thread) == 2, by_thread
    for key, pks in order.items():
        assert pks == sorted(pks), f"ordered handler saw {key} out of order"
    with scopes_disabled():
        assert OutboxDelivery.objects.exclude(status="done").count() == 0
        assert set(OutboxDelivery.objects.values_list("attempts", flat=True)) == {1}
