"""Kicks of one process are KICK_INTERVAL_S apart, and every commit is followed by a kick."""
from __future__ import annotations

import time

from django.core.cache import cache

from support.events import outbox, tasks


def test_kicks_in_a_burst_fold_into_one_sent_after_the_last(monkeypatch):
    sent: list[float] = []

    def record(**kwargs):
        sent.append(time.monotonic())
        cache.delete(outbox.KICK_PENDING_KEY)  # a worker took the task at once

    monkeypatch.setattr(tasks.dispatch_outbox, "apply_async", record)
    monkeypatch.setattr(outbox, "KICK_INTERVAL_S", 0.2)
    outbox.kick_dispatcher()
    deadline = time.monotonic() + 2
    while not sent and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(sent) == 1
    burst = []
    for _ in range(20):  # commits within the interval
        burst.append(time.monotonic())
        outbox.kick_dispatcher()
        time.sleep(0.005)
    time.sleep(0.4)
    assert len(sent) == 2  # one kick for the whole burst …
    assert sent[1] >= burst[-1]  # … sent after its last commit
    assert sent[1] - sent[0] >= 0.2 - 0.01
