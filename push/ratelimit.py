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
from redis.commands.core import AsyncScript

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
            # make_key, not make_and_validate_key: the same keys; validation only warns about keys
            # memcached would refuse, and was a tenth of this function's cost.
            counts = await _Counters.of_running_loop().hit_all(
                [(backend.make_key(window.key), backend.make_key(window.previous_key), window.timeout)
                 for window, _ in windows])
            backend.succeeded()
            return all([is_within(window, count, previous, limit)
                        for (window, limit), (count, previous) in zip(windows, counts, strict=True)])
        except REDIS_DOWN as exc:
            backend.failed(exc)
    return _all_within(windows, backend.local)


def _all_within(windows: Sequence[tuple[FixedWindow, int]], counts: BaseCache) -> bool:
    """One hit on each window, counted in ``counts`` (this process's memory)."""
    return all([is_within(window, *count_locally(counts, window), limit) for window, limit in windows])


# One flush of ``_Counters`` in one command. KEYS: per counter, its window's key and the previous
# window's key; ARGV[1]: per counter, its number of hits and its expiry in seconds, as one string
# of numbers ("hits expiry hits expiry ...": redis-py's asyncio client packs each argument in
# Python, and two numbers a counter as arguments of their own cost more to pack than the keys).
# The reply: per counter, its count after the hits and the previous window's count (0 when there
# is none) — what INCR, EXPIRE and GET one hit at a time would leave and read, in one reply.
_COUNT_HITS = """
local reply = {}
local i = 1
for hits, expiry in string.gmatch(ARGV[1], '(%d+) (%d+)') do
    reply[i] = redis.call('INCRBY', KEYS[i], hits)
    redis.call('EXPIRE', KEYS[i], expiry)
    reply[i + 1] = tonumber(redis.call('GET', KEYS[i + 1])) or 0
    i = i + 2
end
return reply
"""

_Hits = Sequence[tuple[str, str, int]]  # one call's hits: (key, previous window's key, expiry) each


class _Counters:
    """One event loop's hits on their way to Redis: the hits that arrive while a flush is in flight
    go together in the next one, so a burst of sends costs one connection and one round trip, not a
    connection each (making one was most of a busy server's samples). A flush is one command (the
    script ``_COUNT_HITS``) with each counter once, however many hits it has (the visitors behind
    one IP share its counter): packing and parsing six commands a send (INCR, EXPIRE, GET per
    window) was ~80 µs a message, a tenth of the server's CPU at the ceiling."""

    of_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Counters] = weakref.WeakKeyDictionary()
    latest: _Counters | None = None  # the last loop's (kept alive until another loop asks), found without a lookup

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queued: list[tuple[_Hits, asyncio.Future[list[tuple[int, int]]]]] = []
        self.sending: asyncio.Task[None] | None = None
        self.script: AsyncScript | None = None

    @classmethod
    def of_running_loop(cls) -> _Counters:
        loop = asyncio.get_running_loop()
        counters = cls.latest
        if counters is None or counters.loop is not loop:
            counters = cls.of_loop.get(loop)
            if counters is None:
                counters = cls.of_loop[loop] = cls(loop)
            cls.latest = counters
        return counters

    async def hit_all(self, hits: _Hits) -> list[tuple[int, int]]:
        """One more hit on each ``(key, previous_key, timeout)`` (full cache keys), all in the same
        flush; for each, its count and the count under ``previous_key``."""
        future: asyncio.Future[list[tuple[int, int]]] = self.loop.create_future()
        self.queued.append((hits, future))
        if self.sending is None:
            # A context of its own: not the first sender's (its request may end before the task).
            self.sending = self.loop.create_task(self._send_all(), context=contextvars.Context())
        return await future

    async def _send_all(self) -> None:
        batch: list[tuple[_Hits, asyncio.Future[list[tuple[int, int]]]]] = []
        try:
            while self.queued:
                batch, self.queued = self.queued, []
                try:
                    counts = await self._count([hits for hits, _ in batch])
                except Exception as exc:  # noqa: BLE001 - each waiting call gets the failure (REDIS_DOWN: counted locally)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, counts, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            for _, future in batch + self.queued:  # cancelled (the loop is closing): nobody waits for ever
                if not future.done():
                    future.cancel()
            self.queued = []
            self.sending = None

    async def _count(self, calls: list[_Hits]) -> list[list[tuple[int, int]]]:
        """Every call's hits counted in one command; per call, per hit, its count and the previous
        window's. The hits on one counter see consecutive counts in the order they came, as if
        each had been sent on its own."""
        counters: dict[str, list[Any]] = {}  # key -> [hits, previous window's key, timeout]
        for hits in calls:
            for key, previous_key, timeout in hits:
                counter = counters.get(key)
                if counter is None:
                    counters[key] = [1, previous_key, timeout]
                else:
                    counter[0] += 1
                    counter[2] = timeout  # the latest hit's expiry, as EXPIRE after each hit would leave it
        keys: list[str] = []
        numbers: list[str] = []
        for key, (hits_on_key, previous_key, timeout) in counters.items():
            keys += (key, previous_key)
            numbers.append(f"{hits_on_key} {timeout}")
        reply = await self._script()(keys=keys, args=[" ".join(numbers)])
        # Per counter: its count before this flush's first hit, and the previous window's count.
        running = {key: [reply[2 * k] - hits_on_key, reply[2 * k + 1]]
                   for k, (key, (hits_on_key, _, _)) in enumerate(counters.items())}
        counts = []
        for hits in calls:
            mine = []
            for key, _, _ in hits:
                counter = running[key]
                counter[0] += 1
                mine.append((counter[0], counter[1]))
            counts.append(mine)
        return counts

    def _script(self) -> AsyncScript:
        """``_COUNT_HITS`` on this loop's client: EVALSHA, and on NOSCRIPT (a restarted or flushed
        Redis) SCRIPT LOAD and EVALSHA again (redis-py's ``AsyncScript``)."""
        client = _async_client()
        if self.script is None or self.script.registered_client is not client:
            self.script = client.register_script(_COUNT_HITS)
        return self.script


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
