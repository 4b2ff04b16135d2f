"""The Redis cache, degrading to a per-process memory cache while Redis cannot be reached.

Everything we keep in the cache is either re-readable from the database (cached plans) or a
counter for a limit (rate limits, sign-in throttling, the outbox kick flag). While Redis is down,
reads and writes go to this process's own local-memory cache instead of raising: cached values
are read again from the database, limits count per process (fail open across nodes, never
unlimited). Redis is tried again ``RETRY_SECONDS`` after a failure; what was written locally
meanwhile is not copied back (docs/operations.md, "When Redis is down").
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT, BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache

from support.sharding import shard_index

log = logging.getLogger(__name__)

# What "Redis is unreachable" looks like from redis-py (refused, reset, timed out); a Redis that
# answers with an error is a bug, not an outage, and still raises.
REDIS_DOWN: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
RETRY_SECONDS = 1.0

T = TypeVar("T")


class FailSoftRedisCache(RedisCache):
    """``RedisCache`` that answers from ``local`` (a ``LocMemCache``) while Redis is unreachable."""

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self.local = LocMemCache(f"failsoft:{server}", {"OPTIONS": {"MAX_ENTRIES": 10_000}})
        self._down_until = 0.0
        self._state_lock = threading.Lock()

    # --- the switch -------------------------------------------------------------------------------
    def available(self) -> bool:
        """False for ``RETRY_SECONDS`` after a failure: callers go straight to ``local``."""
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        """Note that Redis could not be reached (logged once per outage, not per call)."""
        with self._state_lock:
            first = self._down_until == 0.0
            self._down_until = time.monotonic() + RETRY_SECONDS
        if first:
            log.warning("cache: Redis unreachable (%s); counting and caching per process until it is back", exc)

    def succeeded(self) -> None:
        if self._down_until:
            with self._state_lock:
                was_down, self._down_until = self._down_until != 0.0, 0.0
            if was_down:
                log.warning("cache: Redis reachable again")

    def _either(self, remote: Callable[[], T], local: Callable[[], T]) -> T:
        if not self.available():
            return local()
        try:
            result = remote()
        except REDIS_DOWN as exc:
            self.failed(exc)
            return local()
        self.succeeded()
        return result

    # --- the cache API ----------------------------------------------------------------------------
    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._either(lambda: super(FailSoftRedisCache, self).add(key, value, timeout, version),
                            lambda: self.local.add(key, value, timeout, version))

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self._either(lambda: super(FailSoftRedisCache, self).get(key, default, version),
                            lambda: self.local.get(key, default, version))

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self._either(lambda: super(FailSoftRedisCache, self).set(key, value, timeout, version),
                     lambda: self.local.set(key, value, timeout, version))

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self._either(lambda: super(FailSoftRedisCache, self).touch(key, timeout, version),
                            lambda: self.local.touch(key, timeout, version))

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self._either(lambda: super(FailSoftRedisCache, self).delete(key, version),
                            lambda: self.local.delete(key, version))

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        return self._either(lambda: super(FailSoftRedisCache, self).get_many(keys, version),
                            lambda: self.local.get_many(keys, version))

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self._either(lambda: super(FailSoftRedisCache, self).has_key(key, version),
                            lambda: self.local.has_key(key, version))

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self._either(lambda: super(FailSoftRedisCache, self).incr(key, delta, version),
                            lambda: self.local.incr(key, delta, version))

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        return self._either(lambda: super(FailSoftRedisCache, self).set_many(data, timeout, version),
                            lambda: self.local.set_many(data, timeout, version))

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        self._either(lambda: super(FailSoftRedisCache, self).delete_many(keys, version),
                     lambda: self.local.delete_many(keys, version))

    def clear(self) -> None:
        self.local.clear()
        self._either(lambda: super(FailSoftRedisCache, self).clear(), lambda: None)


class ShardedFailSoftCache(BaseCache):
    """The cache over several Redis servers (``CACHE_REDIS_URLS``): each key lives on one of them,
    chosen by consistent hashing of the full key (``support/sharding.py``), and each server is a
    ``FailSoftRedisCache`` of its own, so an outage degrades only the keys of that server (to this
    process's memory) while the others stay shared across the cluster."""

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(params)
        urls = [u.strip() for u in server.split(",")] if isinstance(server, str) else list(server)
        self.shards = [FailSoftRedisCache(url, params) for url in urls]

    def shard_of(self, key: Any, version: int | None = None) -> FailSoftRedisCache:
        return self.shards[shard_index(self.make_and_validate_key(key, version=version), count=len(self.shards))]

    def _by_shard(self, keys: Any, version: int | None) -> dict[FailSoftRedisCache, list[Any]]:
        grouped: dict[FailSoftRedisCache, list[Any]] = {}
        for key in keys:
            grouped.setdefault(self.shard_of(key, version), []).append(key)
        return grouped

    def add(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self.shard_of(key, version).add(key, value, timeout, version)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        return self.shard_of(key, version).get(key, default, version)

    def set(self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> None:
        self.shard_of(key, version).set(key, value, timeout, version)

    def touch(self, key: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> bool:
        return self.shard_of(key, version).touch(key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        return self.shard_of(key, version).delete(key, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        return self.shard_of(key, version).has_key(key, version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        return self.shard_of(key, version).incr(key, delta, version)

    def get_many(self, keys: Any, version: int | None = None) -> dict[Any, Any]:
        found: dict[Any, Any] = {}
        for shard, part in self._by_shard(keys, version).items():
            found.update(shard.get_many(part, version))
        return found

    def set_many(self, data: dict[Any, Any], timeout: Any = DEFAULT_TIMEOUT, version: int | None = None) -> list[Any]:
        failed: list[Any] = []
        for shard, part in self._by_shard(data, version).items():
            failed += shard.set_many({key: data[key] for key in part}, timeout, version)
        return failed

    def delete_many(self, keys: Any, version: int | None = None) -> None:
        for shard, part in self._by_shard(keys, version).items():
            shard.delete_many(part, version)

    def clear(self) -> None:
        for shard in self.shards:
            shard.clear()

    def close(self, **kwargs: Any) -> None:
        for shard in self.shards:
            shard.close(**kwargs)
