"""Rate limits for the realtime transports.

Two kinds: an in-memory token bucket per connection (a socket's own frames; persistent flooding
ends in close 4429), and cache-counted sliding windows shared by every node and transport (sends
per visitor, sends/bootstraps/polls per IP). Cache keys always start with the tenant's id.
While Redis is unreachable the windows count in this process's memory (``FailSoftRedisCache``):
each node enforces the limit on its own, so they fail open across nodes, never to unlimited.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache

from support.failsoft_cache import REDIS_DOWN, FailSoftRedisCache


class TokenBucket:
    """``rate`` tokens per second up to ``burst``; ``take`` spends one if there is one."""

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class Verdict(Enum):
    OK = "ok"
    THROTTLED = "throttled"
    FLOODING = "flooding"


class FloodGuard:
    """Per-connection frame limit: a bucket for frames, and a second one for refused frames.

    A client that keeps sending after being throttled runs out of strikes (refilled at one per
    second) and is then told it is flooding, which the socket answers with close 4429.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.frames = TokenBucket(rate=settings.RT_FRAMES_PER_SECOND, burst=settings.RT_FRAME_BURST, clock=clock)
        self.strikes = TokenBucket(rate=1.0, burst=settings.RT_FLOOD_STRIKES, clock=clock)

    def admit(self) -> Verdict:
        if self.frames.take():
            return Verdict.OK
        if self.strikes.take():
            return Verdict.THROTTLED
        return Verdict.FLOODING


def within_limit(*, tenant_key: str, name: str, subject: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one hit in a sliding window shared by all nodes; False once over ``limit``.

    The window is estimated from two fixed ones (this one, plus the previous one weighted by how
    much of it still overlaps), so a burst straddling a window edge is not let through twice.
    ``tenant_key`` (the tenant's public id) prefixes the key so tenants never share counters.
    """
    now = time.time()
    bucket = int(now // window_seconds)
    overlap = 1.0 - (now % window_seconds) / window_seconds
    base = f"rl:{tenant_key}:{name}:{subject}"
    count, previous = _count_hit(f"{base}:{bucket}", f"{base}:{bucket - 1}", timeout=2 * window_seconds + 1)
    return count + previous * overlap <= limit


def _count_hit(key: str, previous_key: str, *, timeout: int) -> tuple[int, int]:
    """One more hit on ``key``; returns its count and the count under ``previous_key``."""
    redis = _redis()
    counts: BaseCache = cache
    if redis is not None:
        backend, client = redis
        try:
            if backend.available():
                # One round trip instead of three (add, incr, get). Counters are plain integers,
                # which is also how the cache stores them, so both paths read each other's keys.
                full, previous_full = backend.make_and_validate_key(key), backend.make_and_validate_key(previous_key)
                pipe = client.get_client(full, write=True).pipeline(transaction=False)
                pipe.incr(full)
                pipe.expire(full, timeout)
                pipe.get(previous_full)
                count, _, previous = pipe.execute()
                backend.succeeded()
                return int(count), int(previous or 0)
        except REDIS_DOWN as exc:
            backend.failed(exc)
        counts = backend.local
    counts.add(key, 0, timeout=timeout)
    try:
        count = counts.incr(key)
    except ValueError:
        # Expired between add and incr: this is the first hit of a fresh window.
        counts.set(key, 1, timeout=timeout)
        count = 1
    return count, counts.get(previous_key, 0)


def once_per(*, tenant_key: str, name: str, subject: str, seconds: int) -> bool:
    """True at most once per ``seconds`` for this key, across nodes (the first caller wins)."""
    key = f"rl:{tenant_key}:{name}:{subject}"
    redis = _redis()
    if redis is not None:
        backend, client = redis
        try:
            if backend.available():
                full = backend.make_and_validate_key(key)
                first = bool(client.get_client(full, write=True).set(full, 1, ex=seconds, nx=True))
                backend.succeeded()
                return first
        except REDIS_DOWN as exc:
            backend.failed(exc)
        return bool(backend.local.add(key, 1, timeout=seconds))
    return bool(cache.add(key, 1, timeout=seconds))


# Django keeps a cache object, and so a Redis connection pool, per thread and per async context:
# every long-poll request (a context of its own) would open a new Redis connection to count one
# hit. The limits share one client per process and cache configuration instead.
_shared: dict[str, tuple[FailSoftRedisCache, Any]] = {}
_shared_lock = threading.Lock()


def _redis() -> tuple[FailSoftRedisCache, Any] | None:
    backend = caches["default"]
    if not isinstance(backend, FailSoftRedisCache):
        return None
    config = repr(settings.CACHES["default"])
    found = _shared.get(config)
    if found is None:
        with _shared_lock:
            found = _shared.setdefault(config, (backend, backend._cache))
    return found
