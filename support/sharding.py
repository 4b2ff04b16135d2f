"""Which of several Redis servers holds a key: consistent hashing shared by the wake-up bus
(groups over ``REALTIME_BUS_URLS``), presence (tenants over ``PRESENCE_REDIS_URLS``) and the cache
(keys over ``CACHE_REDIS_URLS``). Adding a server to a list of n moves about 1/(n+1) of the keys."""
from __future__ import annotations

import bisect
import zlib

_rings: dict[int, list[tuple[int, int]]] = {}


def shard_index(key: str, *, count: int) -> int:
    """Which of ``count`` servers carries ``key``; every process with the same list agrees."""
    if count <= 1:
        return 0
    ring = _ring(count)
    point = zlib.crc32(key.encode())
    at = bisect.bisect(ring, (point, count))
    return ring[at % len(ring)][1]


def _ring(count: int) -> list[tuple[int, int]]:
    ring = _rings.get(count)
    if ring is None:
        # Points per shard number, not per URL text: every process with the same list agrees.
        ring = _rings[count] = sorted(
            (zlib.crc32(f"shard-{index}-{replica}".encode()), index)
            for index in range(count) for replica in range(64)
        )
    return ring
