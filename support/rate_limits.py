"""The one fixed-window counter behind every rate limit, and the limits built on it.

A counter counts hits in a fixed window of ``seconds`` aligned to the epoch (``FixedWindow``): one
cache key per window, a plain integer that expires after two windows. ``count_hit`` adds one and
reads the previous window's count in one Redis round trip on the cache's connection pool; while
Redis is unreachable it counts in this process's memory (``FailSoftRedisCache``): each node then
enforces the limit on its own, so limits fail open across nodes, never to unlimited.

``within_limit`` (sends, bootstraps, polls, uploads, credentials, inbound mail, resends) estimates a
sliding window from two fixed ones; the API's per-token limit (support/api/throttling.py) counts
one fixed window and tells the client when it ends; the transports' async path
(push/ratelimit.py) counts the same keys from the event loop. Keys start with the tenant's id.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache

from support.failsoft_cache import REDIS_DOWN, FailSoftRedisCache


@dataclass(frozen=True, slots=True)
class FixedWindow:
    """The window of ``seconds`` that an instant falls in, for the counter named ``base``."""

    key: str  # this window's counter
    previous_key: str  # the one before it
    overlap: float  # how much of the previous window a sliding window ending now still covers
    remaining: float  # seconds until this window ends
    timeout: int  # how long a counter is kept: long enough to be read as the previous one

    @classmethod
    def at(cls, base: str, *, seconds: int, now: float | None = None) -> FixedWindow:
        now = time.time() if now is None else now
        index, into = divmod(now, seconds)
        return cls(f"{base}:{int(index)}", f"{base}:{int(index) - 1}", 1.0 - into / seconds, seconds - into,
                   2 * seconds + 1)


def count_hit(window: FixedWindow) -> tuple[int, int]:
    """One more hit in ``window``: its count, and the count of the window before it."""
    return _hit(window.key, timeout=window.timeout, also_read=window.previous_key)


def count(key: str, *, timeout: int) -> int:
    """One more hit under ``key``, kept until ``timeout`` seconds after its latest hit: the count.
    For limits whose windows are not aligned to the clock (sign-in throttling)."""
    return _hit(key, timeout=timeout, also_read=None)[0]


def count_locally(counts: BaseCache, window: FixedWindow) -> tuple[int, int]:
    """``count_hit`` in a cache of this process's memory."""
    return _hit_locally(counts, window.key, timeout=window.timeout, also_read=window.previous_key)


def _hit(key: str, *, timeout: int, also_read: str | None) -> tuple[int, int]:
    """Increment ``key`` (expiring ``timeout`` seconds from now); its count and ``also_read``'s."""
    redis = shared_redis()
    counts: BaseCache = cache
    if redis is not None:
        backend, client = redis
        try:
            if backend.available():
                # One round trip instead of three (add, incr, get). Counters are plain integers,
                # which is also how the cache stores them, so both paths read each other's keys.
                full = backend.make_and_validate_key(key)
                pipe = client.get_client(full, write=True).pipeline(transaction=False)
                pipe.incr(full)
                pipe.expire(full, timeout)
                if also_read is not None:
                    pipe.get(backend.make_and_validate_key(also_read))
                results = pipe.execute()
                backend.succeeded()
                return int(results[0]), int(results[2] or 0) if also_read is not None else 0
        except REDIS_DOWN as exc:
            backend.failed(exc)
        counts = backend.local
    return _hit_locally(counts, key, timeout=timeout, also_read=also_read)


def _hit_locally(counts: BaseCache, key: str, *, timeout: int, also_read: str | None) -> tuple[int, int]:
    counts.add(key, 0, timeout=timeout)
    try:
        hits = counts.incr(key)
        counts.touch(key, timeout)
    except ValueError:
        # Expired between add and incr: this is the first hit of a fresh window.
        counts.set(key, 1, timeout=timeout)
        hits = 1
    return hits, counts.get(also_read, 0) if also_read is not None else 0


def limit_window(*, tenant_key: str, name: str, subject: str, window_seconds: int) -> FixedWindow:
    """The current window of the limit ``name`` for ``subject`` in a tenant (``tenant_key``: its public id)."""
    return FixedWindow.at(f"rl:{tenant_key}:{name}:{subject}", seconds=window_seconds)


def is_within(window: FixedWindow, count: int, previous: int, limit: int) -> bool:
    """The sliding-window estimate: this window's hits plus the overlapping part of the previous one's."""
    return count + previous * window.overlap <= limit


def within_limit(*, tenant_key: str, name: str, subject: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one hit in a sliding window shared by all nodes; False once over ``limit``.

    The window is estimated from two fixed ones (this one, plus the previous one weighted by how
    much of it still overlaps), so a burst straddling a window edge is not let through twice.
    ``tenant_key`` (the tenant's public id) prefixes the key so tenants never share counters.
    """
    window = limit_window(tenant_key=tenant_key, name=name, subject=subject, window_seconds=window_seconds)
    count, previous = count_hit(window)
    return is_within(window, count, previous, limit)


def once_per(*, tenant_key: str, name: str, subject: str, seconds: int) -> bool:
    """True at most once per ``seconds`` for this key, across nodes (the first caller wins)."""
    key = f"rl:{tenant_key}:{name}:{subject}"
    redis = shared_redis()
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
# The latest answer and the configuration it is for: every send asks, and looking the cache up in
# Django's per-context handler and writing its configuration out (the key of ``_shared``) cost more
# than the counting. Settings are replaced, not edited in place, so an unchanged object is the same
# configuration.
_latest: tuple[dict[str, Any], tuple[FailSoftRedisCache, Any] | None] | None = None


def shared_redis() -> tuple[FailSoftRedisCache, Any] | None:
    """The default cache and its Redis client, shared by the process; None when it is not Redis."""
    global _latest
    config = settings.CACHES["default"]
    latest = _latest
    if latest is not None and latest[0] is config:
        return latest[1]
    backend = caches["default"]
    found: tuple[FailSoftRedisCache, Any] | None = None
    if isinstance(backend, FailSoftRedisCache):
        key = repr(config)
        found = _shared.get(key)
        if found is None:
            with _shared_lock:
                found = _shared.setdefault(key, (backend, backend._cache))
    _latest = (config, found)
    return found
