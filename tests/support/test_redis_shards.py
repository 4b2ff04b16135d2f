"""The cache and presence over two Redis servers (CACHE_REDIS_URLS, PRESENCE_REDIS_URLS; both default
to REALTIME_BUS_URLS). The cache: each key on one server by consistent hashing, every process sees
the same value; a server that is down degrades only its own keys (to each process's memory, never
an error) and is used again when it is back. Presence: each tenant's connections on one server; an
outage of one touches only its tenants (the others keep their presence and are swept), and a
heartbeat after it is back writes the connection again."""
from __future__ import annotations

import uuid

import pytest
import redis
from django.core.cache.backends.locmem import LocMemCache

from push.presence_store import RedisStore, Subject
from support import failsoft_cache
from support.failsoft_cache import REDIS_DOWN, ShardedFailSoftCache
from support.sharding import shard_index

pytestmark = [pytest.mark.redis]


def cache_on(urls: list[str], *, process: str) -> ShardedFailSoftCache:
    """What one process builds from CACHES (config/settings.py), with a memory of its own (in one
    process, local-memory caches of the same name share their store)."""
    cache = ShardedFailSoftCache(urls, {"KEY_PREFIX": "sb_sharded:cache", "TIMEOUT": 300,
                                        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1}})
    for n, shard in enumerate(cache.shards):
        shard.local = LocMemCache(f"test-sharded:{process}:{n}:{uuid.uuid4().hex}", {})
    return cache


def test_keys_spread_over_both_servers_and_every_process_agrees(redis_servers):
    urls = [server.url for server in redis_servers]
    one, other = cache_on(urls, process="one"), cache_on(urls, process="other")  # two processes
    keys = [f"rate:{n}" for n in range(40)]
    one.set_many({key: n for n, key in enumerate(keys)})
    assert other.get_many(keys) == {key: n for n, key in enumerate(keys)}
    assert one.add("kick", 1) and not other.add("kick", 1)
    assert [one.incr("rate:0"), other.incr("rate:0")] == [1, 2]
    counts = [len(list(redis.Redis.from_url(url).scan_iter(match="sb_sharded:cache:*"))) for url in urls]
    assert all(n > 5 for n in counts) and sum(counts) == len(keys) + 1
    for key in keys:  # each key on the server the ring names, and on it only
        home = one.shard_of(key)
        assert home.get(key) is not None and all(s.get(key) is None for s in one.shards if s is not home)
    other.delete_many(keys)
    assert one.get_many(keys) == {}


def test_a_server_down_degrades_only_its_keys_and_is_used_again(redis_servers, monkeypatch):
    monkeypatch.setattr(failsoft_cache, "RETRY_SECONDS", 0.0)  # try Redis again at once
    urls = [server.url for server in redis_servers]
    one, other = cache_on(urls, process="one"), cache_on(urls, process="other")
    keys = [f"limit:{n}" for n in range(20)]
    on_a = [k for k in keys if one.shard_of(k) is one.shards[0]]
    on_b = [k for k in keys if one.shard_of(k) is one.shards[1]]
    assert on_a and on_b
    redis_servers[0].stop()
    for key in keys:
        one.set(key, "during")  # no error for either server's keys
    # Keys of the server that is up are still shared; those of the one down are this process's own.
    assert other.get_many(keys) == {key: "during" for key in on_b}
    assert one.get_many(keys) == {key: "during" for key in keys}
    redis_servers[0].start()  # back, empty: what was kept in memory is not copied over
    one.set(on_a[0], "after")
    assert other.get(on_a[0]) == "after" and other.get(on_a[1]) is None


def touch(store: RedisStore, subject: Subject, conn: str, *, now: float, ttl: float = 75) -> str:
    return store.apply(op="touch", subject=subject, connection_id=conn, expires_at=now + ttl, now=now,
                       available=True).status


def test_tenants_spread_over_both_servers_and_one_down_leaves_the_others(redis_servers):
    urls = [server.url for server in redis_servers]
    prefix = f"sb_test_presence_{uuid.uuid4().hex[:8]}"
    store = RedisStore(urls=urls, prefix=prefix)
    tenants = {shard_index(f"t{t}", count=2): t for t in range(1, 20)}
    assert set(tenants) == {0, 1}
    agents = {shard: Subject(tenant, "agent", 7) for shard, tenant in tenants.items()}
    for agent in agents.values():
        assert touch(store, agent, "c1", now=1000.0) == "online"
    for url, agent in zip(urls, [agents[0], agents[1]], strict=True):
        keys = {k.decode() for k in redis.Redis.from_url(url).scan_iter(match=f"{prefix}:*")}
        assert f"{prefix}:presence:t{agent.tenant_id}:agent:7:conns" in keys
        assert f"{prefix}:presence:expiries" in keys  # each server indexes its own entries

    redis_servers[0].stop()
    with pytest.raises(REDIS_DOWN):  # presence.py turns this into "nobody connected" and a log line
        store.live_counts(subjects=[agents[0]], now=1001.0)
    assert store.live_counts(subjects=[agents[1]], now=1001.0) == [1]
    assert touch(store, agents[1], "c2", now=1001.0, ttl=1) == "online"
    # The sweep goes on over the server that is up.
    assert store.expired(now=1003.0, limit=10) == [(agents[1], "c2")]

    redis_servers[0].start()  # back, empty: the next heartbeat writes the connection again
    assert store.live_counts(subjects=[agents[0]], now=1004.0) == [0]
    assert touch(store, agents[0], "c1", now=1004.0) == "online"
    assert store.live_counts(subjects=[agents[0], agents[1]], now=1005.0) == [1, 1]
    store.clear()
