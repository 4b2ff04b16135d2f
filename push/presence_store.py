"""Where live connections are kept for presence: Redis across nodes, or process memory embedded.

A connection is an entry ``connection_id -> expiry`` under its subject (one agent or contact of
one tenant). Heartbeats push the expiry forward; a node that dies stops heartbeating, so its
entries pass their expiry and count as gone at once for reads, and the sweep removes them and
announces the change. Each write also swaps the subject's *announced* status (what others were
last told), atomically with the change, so that of two nodes racing on one agent exactly one
sees the transition and announces it.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from support.failsoft_cache import REDIS_DOWN
from support.sharding import shard_index

log = logging.getLogger(__name__)

Op = Literal["touch", "drop", "check"]


@dataclass(frozen=True)
class Subject:
    tenant_id: int
    kind: str  # "agent" | "contact"
    subject_id: int


@dataclass(frozen=True)
class Transition:
    previous: str  # "online" | "away" | "offline"
    status: str
    live: int  # live connections of the subject after the operation

    @property
    def changed(self) -> bool:
        return self.previous != self.status


def derived_status(*, live: int, available: bool) -> str:
    if live <= 0:
        return "offline"
    return "online" if available else "away"


class PresenceStore(Protocol):
    def apply(
        self, *, op: Op, subject: Subject, connection_id: str, expires_at: float, now: float, available: bool
    ) -> Transition: ...

    def live_counts(self, *, subjects: list[Subject], now: float) -> list[int]: ...

    def expired(self, *, now: float, limit: int) -> list[tuple[Subject, str]]: ...

    def clear(self) -> None: ...


class MemoryStore:
    """One process's connections (the embedded default runs one server process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: dict[Subject, dict[str, float]] = {}
        self._announced: dict[Subject, str] = {}

    def apply(
        self, *, op: Op, subject: Subject, connection_id: str, expires_at: float, now: float, available: bool
    ) -> Transition:
        with self._lock:
            conns = self._connections.setdefault(subject, {})
            if op == "touch":
                conns[connection_id] = expires_at
            elif op == "drop":
                conns.pop(connection_id, None)
            for conn_id in [c for c, exp in conns.items() if exp <= now]:
                del conns[conn_id]
            live = len(conns)
            if not conns:
                del self._connections[subject]
            status = derived_status(live=live, available=available)
            previous = self._announced.get(subject, "offline")
            if status == "offline":
                self._announced.pop(subject, None)
            else:
                self._announced[subject] = status
            return Transition(previous=previous, status=status, live=live)

    def live_counts(self, *, subjects: list[Subject], now: float) -> list[int]:
        with self._lock:
            return [
                sum(1 for exp in self._connections.get(s, {}).values() if exp > now) for s in subjects
            ]

    def expired(self, *, now: float, limit: int) -> list[tuple[Subject, str]]:
        with self._lock:
            found = [
                (subject, conn_id)
                for subject, conns in self._connections.items()
                for conn_id, exp in conns.items()
                if exp <= now
            ]
        return found[:limit]

    def clear(self) -> None:
        with self._lock:
            self._connections.clear()
            self._announced.clear()


# One atomic step per change, so that the connection set and the announced status never
# disagree between nodes. KEYS: the subject's connections (zset id -> expiry), the global expiry
# index (zset "tenant|kind|subject|conn" -> expiry), the subject's announced status.
# ARGV: op, connection id, index member, expiry, now, "1" if available, key lifetime (s).
_APPLY_LUA = """
if ARGV[1] == "touch" then
  redis.call("ZADD", KEYS[1], ARGV[4], ARGV[2])
  redis.call("ZADD", KEYS[2], ARGV[4], ARGV[3])
elseif ARGV[1] == "drop" then
  redis.call("ZREM", KEYS[1], ARGV[2])
  redis.call("ZREM", KEYS[2], ARGV[3])
end
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[5])
local live = redis.call("ZCARD", KEYS[1])
local status = "offline"
if live > 0 then
  redis.call("EXPIRE", KEYS[1], ARGV[7])
  if ARGV[6] == "1" then status = "online" else status = "away" end
end
local previous = redis.call("GET", KEYS[3]) or "offline"
if status == "offline" then
  redis.call("DEL", KEYS[3])
else
  redis.call("SET", KEYS[3], status, "EX", ARGV[7])
end
return {live, previous, status}
"""


class RedisStore:
    """Connections of every node in Redis; keys start with ``<prefix>:presence:t<tenant>``.

    Over several servers (``urls``) each tenant's keys live on one of them (consistent hashing of
    ``t<tenant>``, support/sharding.py), with an expiry index per server: an outage of one server
    touches only its tenants, and the sweep goes on over the others.

    Scores are Unix times in seconds (floats), so every node's clock matters only to within the
    heartbeat margin (TTL minus heartbeat interval).
    """

    def __init__(self, *, url: str = "", urls: Sequence[str] = (), prefix: str, key_lifetime: int = 86_400) -> None:
        import redis

        # socket_timeout: a short bound so a stalled Redis fails a heartbeat, not a whole node.
        self._servers = [redis.Redis.from_url(u, socket_timeout=5, socket_connect_timeout=5) for u in urls or [url]]
        self._prefix = f"{prefix}:presence"
        self._key_lifetime = key_lifetime
        self._scripts = [server.register_script(_APPLY_LUA) for server in self._servers]

    def _shard(self, tenant_id: int) -> int:
        return shard_index(f"t{tenant_id}", count=len(self._servers))

    def _conns_key(self, s: Subject) -> str:
        return f"{self._prefix}:t{s.tenant_id}:{s.kind}:{s.subject_id}:conns"

    def _announced_key(self, s: Subject) -> str:
        return f"{self._prefix}:t{s.tenant_id}:{s.kind}:{s.subject_id}:announced"

    @property
    def _index_key(self) -> str:
        return f"{self._prefix}:expiries"

    @staticmethod
    def _member(s: Subject, connection_id: str) -> str:
        return f"{s.tenant_id}|{s.kind}|{s.subject_id}|{connection_id}"

    def apply(
        self, *, op: Op, subject: Subject, connection_id: str, expires_at: float, now: float, available: bool
    ) -> Transition:
        live, previous, status = self._scripts[self._shard(subject.tenant_id)](
            keys=[self._conns_key(subject), self._index_key, self._announced_key(subject)],
            args=[
                op, connection_id, self._member(subject, connection_id), repr(expires_at), repr(now),
                "1" if available else "0", self._key_lifetime,
            ],
        )
        return Transition(previous=_text(previous), status=_text(status), live=int(live))

    def live_counts(self, *, subjects: list[Subject], now: float) -> list[int]:
        counts: dict[Subject, int] = {}
        for shard in {self._shard(s.tenant_id) for s in subjects}:
            mine = [s for s in subjects if self._shard(s.tenant_id) == shard]
            pipe = self._servers[shard].pipeline(transaction=False)
            for s in mine:
                pipe.zcount(self._conns_key(s), f"({now!r}", "+inf")
            counts.update(zip(mine, (int(n) for n in pipe.execute()), strict=True))
        return [counts[s] for s in subjects]

    def expired(self, *, now: float, limit: int) -> list[tuple[Subject, str]]:
        """Connections past their expiry, from every server that answers (one that is down is
        skipped: its entries wait for the next sweep)."""
        found: list[tuple[Subject, str]] = []
        for index, server in enumerate(self._servers):
            try:
                raws = server.zrangebyscore(self._index_key, "-inf", repr(now), start=0, num=limit - len(found))
            except REDIS_DOWN as exc:
                if len(self._servers) == 1:
                    raise
                log.warning("presence sweep: server %d unreachable (%s); its entries wait", index, exc)
                continue
            for raw in raws:
                tenant_id, kind, subject_id, connection_id = _text(raw).split("|", 3)
                found.append((Subject(int(tenant_id), kind, int(subject_id)), connection_id))
            if len(found) >= limit:
                break
        return found

    def clear(self) -> None:
        """Delete every presence key under this prefix (tests and `flush` only)."""
        for server in self._servers:
            keys = list(server.scan_iter(match=f"{self._prefix}:*", count=500))
            if keys:
                server.delete(*keys)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_lock = threading.Lock()
_store: PresenceStore | None = None


def get_store() -> PresenceStore:
    """The process's store, chosen by settings: Redis (``PRESENCE_REDIS_URLS``) when ``REDIS_URL`` is set."""
    global _store
    if _store is None:
        from django.conf import settings

        with _lock:
            if _store is None:
                _store = (
                    RedisStore(urls=settings.PRESENCE_REDIS_URLS or [settings.REDIS_URL], prefix=settings.REDIS_PREFIX)
                    if settings.REDIS_URL
                    else MemoryStore()
                )
    return _store


def set_store(store: PresenceStore | None) -> None:
    """Replace the process's store (tests); ``None`` goes back to the one settings choose."""
    global _store
    _store = store
