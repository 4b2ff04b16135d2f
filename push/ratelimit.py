"""Rate limits of the realtime transports.

Two kinds: an in-memory token bucket per connection (a socket's own frames; persistent flooding
ends in close 4429), and the cache-counted sliding windows of ``support.rate_limits`` shared by
every node and transport (sends per visitor, sends/bootstraps/polls per IP), counted here from the
event loop: ``within_limit_async`` counts the same keys as ``within_limit`` on the loop's own Redis
client (a thread hop per visitor send cost more than its round trips), ``within_limits_async``
several windows (a send's per-visitor and per-IP ones) in one round trip; while Redis is
unreachable, in this process's memory, like the sync path.
"""
from __future__ import annotations

import asyncio
import contextvars
import re
import time
import weakref
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache

from support.failsoft_cache import REDIS_DOWN
from support.rate_limits import FixedWindow, count_locally, is_within, limit_window, shared_redis, within_limit


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


async def within_limit_async(
    *, tenant_key: str, name: str, subject: str, limit: int, window_seconds: int = 60
) -> bool:
    """``within_limit`` from the event loop, without a thread hop: the same counters (keys, values,
    expiry) through this loop's asyncio Redis client (``Hub.redis_client``), and the same counting
    in this process's memory while Redis is unreachable."""
    return await within_limits_async(tenant_key=tenant_key, limits=[(name, subject, limit)],
                                     window_seconds=window_seconds)


async def within_limits_async(
    *, tenant_key: str, limits: Sequence[tuple[str, str, int]], window_seconds: int = 60
) -> bool:
    """``within_limit_async`` for several ``(name, subject, limit)`` windows at once, e.g. a send's
    per-visitor and per-IP limits: one hit on each (every window is counted, even when an earlier
    one is already over), in one Redis round trip; True when every window is within its limit."""
    windows = [(limit_window(tenant_key=tenant_key, name=name, subject=subject, window_seconds=window_seconds), limit)
               for name, subject, limit in limits]
    redis = shared_redis()
    if redis is None:
        if not isinstance(caches["default"], LocMemCache):  # a cache that does I/O: off the loop
            return all([await sync_to_async(within_limit, thread_sensitive=False)(
                tenant_key=tenant_key, name=name, subject=subject, limit=limit, window_seconds=window_seconds)
                for name, subject, limit in limits])
        return _all_within(windows, cache)
    backend, _ = redis
    if backend.available():
        try:
            counts = await _Counters.of_running_loop().hit_all(
                [(backend.make_and_validate_key(window.key), backend.make_and_validate_key(window.previous_key))
                 for window, _ in windows],
                timeout=windows[0][0].timeout,
            )
            backend.succeeded()
            return all(is_within(window, count, previous, limit)
                       for (window, limit), (count, previous) in zip(windows, counts, strict=True))
        except REDIS_DOWN as exc:
            backend.failed(exc)
    return _all_within(windows, backend.local)


def _all_within(windows: Sequence[tuple[FixedWindow, int]], counts: BaseCache) -> bool:
    """One hit on each window, counted in ``counts`` (this process's memory)."""
    return all([is_within(window, *count_locally(counts, window), limit) for window, limit in windows])


class _Counters:
    """One event loop's hits on their way to Redis: the hits that arrive while a pipeline is in
    flight go together in the next one, so a burst of sends costs one connection and one round
    trip, not a connection each (making one was most of a busy server's samples)."""

    of_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Counters] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queued: list[tuple[str, str, int, asyncio.Future[tuple[int, int]]]] = []
        self.sending: asyncio.Task[None] | None = None

    @classmethod
    def of_running_loop(cls) -> _Counters:
        loop = asyncio.get_running_loop()
        counters = cls.of_loop.get(loop)
        if counters is None:
            counters = cls.of_loop[loop] = cls(loop)
        return counters

    async def hit_all(self, keys: Sequence[tuple[str, str]], *, timeout: int) -> list[tuple[int, int]]:
        """One more hit on each ``(key, previous_key)`` (full cache keys), all in the same pipeline;
        for each, its count and the count under ``previous_key``."""
        futures: list[asyncio.Future[tuple[int, int]]] = []
        for key, previous_key in keys:
            future: asyncio.Future[tuple[int, int]] = self.loop.create_future()
            self.queued.append((key, previous_key, timeout, future))
            futures.append(future)
        if self.sending is None:
            # A context of its own: not the first sender's (its request may end before the task).
            self.sending = self.loop.create_task(self._send_all(), context=contextvars.Context())
        return [await future for future in futures]

    async def _send_all(self) -> None:
        items: list[tuple[str, str, int, asyncio.Future[tuple[int, int]]]] = []
        try:
            while self.queued:
                items, self.queued = self.queued, []
                try:
                    # Counters are plain integers, which is also how the cache stores them, so the
                    # sync path (``support.rate_limits.count_hit``) and the cache API read the same keys.
                    pipe = _async_client().pipeline(transaction=False)
                    for key, previous_key, timeout, _ in items:
                        pipe.incr(key)
                        pipe.expire(key, timeout)
                        pipe.get(previous_key)
                    results = await pipe.execute()
                except Exception as exc:  # noqa: BLE001 - each waiting hit gets the failure (REDIS_DOWN: counted locally)
                    for *_, future in items:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for k, (*_, future) in enumerate(items):
                    if not future.done():
                        future.set_result((int(results[3 * k]), int(results[3 * k + 2] or 0)))
        finally:
            for *_, future in items + self.queued:  # cancelled (the loop is closing): nobody waits for ever
                if not future.done():
                    future.cancel()
            self.queued = []
            self.sending = None


def _async_client() -> Any:
    """This loop's asyncio client of the cache's Redis (its first server, where the cache writes),
    with the cache's socket timeouts, and one retry without back-off (a server restarted since
    the last call); a failure after that counts in memory at once (``FailSoftRedisCache``)."""
    from push.hub import get_hub

    config: dict[str, Any] = settings.CACHES["default"]
    location = config["LOCATION"]
    url = re.split("[;,]", location)[0] if isinstance(location, str) else location[0]
    options = {k: v for k, v in config.get("OPTIONS", {}).items() if k in ("socket_connect_timeout", "socket_timeout")}
    return get_hub().redis_client(url, retries=1, **options)
