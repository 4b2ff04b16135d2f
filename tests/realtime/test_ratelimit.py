"""Rate-limit building blocks with a frozen clock."""
from __future__ import annotations

import uuid

from push import ratelimit
from push.ratelimit import FloodGuard, TokenBucket, Verdict, once_per, within_limit


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate():
    clock = Clock()
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 100  # never more than the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_flood_guard_throttles_then_reports_flooding(settings):
    settings.RT_FRAMES_PER_SECOND, settings.RT_FRAME_BURST, settings.RT_FLOOD_STRIKES = 1, 2, 2
    clock = Clock()
    guard = FloodGuard(clock=clock)
    verdicts = [guard.admit() for _ in range(5)]
    assert verdicts == [Verdict.OK, Verdict.OK, Verdict.THROTTLED, Verdict.THROTTLED, Verdict.FLOODING]
    clock.now += 5  # a client that slows down is fine again
    assert guard.admit() is Verdict.OK


def test_sliding_window_does_not_let_a_burst_through_twice_at_the_edge(monkeypatch):
    clock = Clock(now=60 * 1000 + 59.9)  # 0.1 s before a window edge
    monkeypatch.setattr(ratelimit.time, "time", clock)
    key = uuid.uuid4().hex
    hits = [within_limit(tenant_key=key, name="send", subject="v", limit=3) for _ in range(3)]
    clock.now += 0.2  # the next window
    hits += [within_limit(tenant_key=key, name="send", subject="v", limit=3) for _ in range(3)]
    assert hits == [True, True, True, False, False, False]
    clock.now += 120  # two windows later the old hits no longer count
    assert within_limit(tenant_key=key, name="send", subject="v", limit=3)
    other_tenant = uuid.uuid4().hex
    assert within_limit(tenant_key=other_tenant, name="send", subject="v", limit=1)


def test_once_per_lets_the_first_caller_through():
    key = uuid.uuid4().hex
    assert once_per(tenant_key=key, name="typing", subject="c", seconds=2)
    assert not once_per(tenant_key=key, name="typing", subject="c", seconds=2)
    assert once_per(tenant_key=key, name="typing", subject="other", seconds=2)
