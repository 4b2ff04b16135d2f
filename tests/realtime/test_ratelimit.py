"""Rate-limit building blocks with a frozen clock."""
from __future__ import annotations

import uuid

import pytest
import redis
from django.core.cache import cache

from push import hub, ratelimit
from push.ratelimit import FloodGuard, TokenBucket, Verdict, within_limit_async, within_limits_async
from support import rate_limits
from support.rate_limits import once_per, within_limit
from tests.conftest import production_cache_on_redis, service_redis_url


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


@pytest.fixture
def redis_cache(request, settings):
    """The production cache backend (counters in one Redis round trip), on a real Redis."""
    url = production_cache_on_redis(request, settings, key_prefix="sb:test-ratelimit")
    keys = uuid.uuid4().hex
    yield keys
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"*{keys}*"):  # only this test's own keys, never FLUSHDB
        client.delete(key)


@pytest.mark.redis
def test_sliding_window_on_redis(redis_cache, monkeypatch):
    clock = Clock(now=60 * 1000 + 59.9)
    monkeypatch.setattr(ratelimit.time, "time", clock)
    tenant = redis_cache
    assert rate_limits.shared_redis() is not None  # the one-round-trip path, on a client shared by the process
    hits = [within_limit(tenant_key=tenant, name="send", subject="v", limit=3) for _ in range(3)]
    clock.now += 0.2
    hits += [within_limit(tenant_key=tenant, name="send", subject="v", limit=3) for _ in range(3)]
    assert hits == [True, True, True, False, False, False]
    # The counters are plain integers that the cache API reads too (and its keys expire).
    key = f"rl:{tenant}:send:v:{int(clock.now // 60)}"
    assert cache.get(key) == 3
    assert 0 < redis.Redis.from_url(service_redis_url()).ttl(cache.make_key(key)) <= 121
    cache.set(f"rl:{tenant}:send:w:{int(clock.now // 60)}", 5, timeout=60)  # written by the cache API
    assert not within_limit(tenant_key=tenant, name="send", subject="w", limit=5)
    clock.now += 120
    assert within_limit(tenant_key=tenant, name="send", subject="v", limit=3)


@pytest.mark.redis
def test_once_per_on_redis(redis_cache):
    tenant = redis_cache
    assert once_per(tenant_key=tenant, name="typing", subject="c", seconds=2)
    assert not once_per(tenant_key=tenant, name="typing", subject="c", seconds=2)
    assert once_per(tenant_key=tenant, name="typing", subject="other", seconds=2)
    assert cache.get(f"rl:{tenant}:typing:c") == 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_sliding_window_on_the_event_loop_shares_the_counters(redis_cache, monkeypatch):
    """``within_limit_async`` (the visitor's sends, on the loop's own Redis client) counts in the
    same keys as ``within_limit``, with the same window and expiry."""
    clock = Clock(now=60 * 1000 + 59.9)
    monkeypatch.setattr(ratelimit.time, "time", clock)
    tenant = redis_cache
    await hub.close_hub()
    try:
        hits = [await within_limit_async(tenant_key=tenant, name="send", subject="v", limit=3) for _ in range(2)]
        hits.append(within_limit(tenant_key=tenant, name="send", subject="v", limit=3))
        clock.now += 0.2  # the next window: the previous one still weighs almost fully
        hits += [await within_limit_async(tenant_key=tenant, name="send", subject="v", limit=3) for _ in range(3)]
        assert hits == [True, True, True, False, False, False]
        key = f"rl:{tenant}:send:v:{int(clock.now // 60)}"
        assert cache.get(key) == 3
        assert 0 < redis.Redis.from_url(service_redis_url()).ttl(cache.make_key(key)) <= 121
        clock.now += 120
        assert await within_limit_async(tenant_key=tenant, name="send", subject="v", limit=3)
    finally:
        await hub.close_hub()  # the loop's Redis clients, before the loop ends


@pytest.mark.django_db(transaction=True)
async def test_sliding_window_on_the_event_loop_in_memory(monkeypatch):
    """Without Redis (the embedded default) the loop counts in the local cache, as the sync path."""
    clock = Clock(now=60 * 1000 + 59.9)
    monkeypatch.setattr(ratelimit.time, "time", clock)
    key = uuid.uuid4().hex
    hits = [await within_limit_async(tenant_key=key, name="send", subject="v", limit=2) for _ in range(2)]
    hits.append(within_limit(tenant_key=key, name="send", subject="v", limit=2))
    assert hits == [True, True, False]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_concurrent_hits_on_the_event_loop_each_get_their_own_count(redis_cache):
    """Hits that arrive together go to Redis in one pipeline; each still gets its own count."""
    import asyncio

    tenant = redis_cache
    await hub.close_hub()
    try:
        verdicts = await asyncio.gather(*(
            within_limit_async(tenant_key=tenant, name="send", subject=f"s{k % 2}", limit=20) for k in range(60)
        ))
        assert sum(verdicts) == 40  # 20 for each subject, whichever 20 came first
        assert not await within_limit_async(tenant_key=tenant, name="send", subject="s0", limit=20)
    finally:
        await hub.close_hub()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_the_event_loop_counts_on_one_client(redis_cache):
    """Every hit of a loop goes through the same client (one connection pool), not one per call."""
    await hub.close_hub()
    try:
        for subject in ("a", "b", "c"):
            assert await within_limit_async(tenant_key=redis_cache, name="send", subject=subject, limit=5)
        assert len(hub.get_hub()._clients) == 1
    finally:
        await hub.close_hub()


def _commands_sent(monkeypatch) -> list[tuple]:
    """Every command this loop's rate-limit client sends from now on (its arguments)."""
    client = ratelimit._async_client()
    real = client.execute_command
    sent: list[tuple] = []

    async def execute_command(*args, **options):
        sent.append(args)
        return await real(*args, **options)

    monkeypatch.setattr(client, "execute_command", execute_command)
    return sent


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_several_windows_count_in_one_round_trip(redis_cache, monkeypatch):
    """A send's two windows (per visitor, per IP) go to Redis in one command; each is counted, even
    when the other is already over, and the verdict is theirs together."""
    tenant = redis_cache
    await hub.close_hub()
    try:
        sent = _commands_sent(monkeypatch)
        limits = [("send.visitor", "v", 2), ("send.ip", "1.2.3.4", 3)]
        verdicts = [await within_limits_async(tenant_key=tenant, limits=limits) for _ in range(4)]
        assert verdicts == [True, True, False, False]
        names = [args[0] for args in sent]
        assert set(names) <= {"EVALSHA", "SCRIPT LOAD"} and names.count("SCRIPT LOAD") <= 1
        # One command per call for both windows (and one EVALSHA answered NOSCRIPT if this Redis
        # had not seen the script yet).
        assert names.count("EVALSHA") - names.count("SCRIPT LOAD") == 4
        bucket = int(ratelimit.time.time() // 60)
        assert cache.get(f"rl:{tenant}:send.visitor:v:{bucket}") == 4
        assert cache.get(f"rl:{tenant}:send.ip:1.2.3.4:{bucket}") == 4
        own = redis.Redis.from_url(service_redis_url())
        for name, subject in [("send.visitor", "v"), ("send.ip", "1.2.3.4")]:
            assert 0 < own.ttl(cache.make_key(f"rl:{tenant}:{name}:{subject}:{bucket}")) <= 121, "each counter expires"
    finally:
        await hub.close_hub()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_a_burst_on_one_counter_in_one_flush_gets_consecutive_counts(redis_cache, monkeypatch):
    """Hits that wait for the same flush go in one command with each counter once, and each hit
    still sees its own count (as if sent one by one) and the previous window's count."""
    import asyncio

    clock = Clock(now=60 * 1000 + 30.0)
    monkeypatch.setattr(ratelimit.time, "time", clock)
    tenant = redis_cache
    bucket = int(clock.now // 60)
    cache.set(f"rl:{tenant}:send.ip:ip:{bucket}", 3, timeout=120)  # counted before (by the cache API: same keys)
    cache.set(f"rl:{tenant}:send.ip:ip:{bucket - 1}", 7, timeout=120)  # the previous window
    await hub.close_hub()
    try:
        counters = ratelimit._Counters.of_running_loop()
        sent = _commands_sent(monkeypatch)
        ip = cache.make_key(f"rl:{tenant}:send.ip:ip:{bucket}"), cache.make_key(f"rl:{tenant}:send.ip:ip:{bucket - 1}")
        visitor = (cache.make_key(f"rl:{tenant}:send.visitor:v:{bucket}"),
                   cache.make_key(f"rl:{tenant}:send.visitor:v:{bucket - 1}"))
        # Five sends behind one IP; the first of them also counts a visitor's window.
        counts = await asyncio.gather(counters.hit_all([(*visitor, 121), (*ip, 121)]),
                                      *(counters.hit_all([(*ip, 121)]) for _ in range(4)))
        assert counts == [[(1, 0), (4, 7)], [(5, 7)], [(6, 7)], [(7, 7)], [(8, 7)]]
        names = [args[0] for args in sent]
        assert names.count("EVALSHA") - names.count("SCRIPT LOAD") == 1, "one flush, one command"
        assert sent[-1][2] == 4, "two counters (visitor, IP), each with its previous window: 4 keys"
        assert cache.get(f"rl:{tenant}:send.ip:ip:{bucket}") == 8
        assert 0 < redis.Redis.from_url(service_redis_url()).ttl(visitor[0]) <= 121, "a new counter expires"
        # Through the limits: of 30 sends at once behind one IP with a limit of 20, exactly 8 are
        # within (counts 9 to 16, plus half of the previous window's 7); every one was counted.
        verdicts = await asyncio.gather(*(within_limits_async(tenant_key=tenant, limits=[
            ("send.visitor", f"v{k}", 5), ("send.ip", "ip", 20)]) for k in range(30)))
        assert sum(verdicts) == 8
        assert cache.get(f"rl:{tenant}:send.ip:ip:{bucket}") == 38
        assert cache.get(f"rl:{tenant}:send.visitor:v7:{bucket}") == 1
    finally:
        await hub.close_hub()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
async def test_the_script_is_loaded_again_after_a_script_flush_or_a_restart(redis_server, settings, monkeypatch):
    """Redis forgets scripts on SCRIPT FLUSH and on restart: the next flush loads it again (NOSCRIPT,
    SCRIPT LOAD, EVALSHA) and counts in Redis, not in this process's memory."""
    settings.CACHES = {"default": {"BACKEND": "support.failsoft_cache.FailSoftRedisCache",
                                   "LOCATION": redis_server.url, "KEY_PREFIX": "sb:test-noscript",
                                   "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
    tenant = uuid.uuid4().hex
    own = redis.Redis.from_url(redis_server.url)
    await hub.close_hub()
    try:
        backend, _ = rate_limits.shared_redis()
        monkeypatch.setattr(backend, "failed", lambda exc: pytest.fail(f"counted locally: {exc}"))
        assert await within_limit_async(tenant_key=tenant, name="send", subject="v", limit=3)
        own.script_flush()
        sent = _commands_sent(monkeypatch)
        assert await within_limit_async(tenant_key=tenant, name="send", subject="v", limit=3)
        assert [args[0] for args in sent] == ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]
        key = f"rl:{tenant}:send:v:{int(ratelimit.time.time() // 60)}"
        assert int(own.get(cache.make_key(key))) == 2
        redis_server.stop()
        redis_server.start()  # an empty Redis: no counters, no scripts; the pool's connections are dead
        assert await within_limit_async(tenant_key=tenant, name="send", subject="v", limit=3)
        assert int(own.get(cache.make_key(key))) == 1
        assert own.ttl(cache.make_key(key)) > 0
    finally:
        await hub.close_hub()


@pytest.mark.django_db(transaction=True)
async def test_several_windows_in_memory(monkeypatch):
    """Without Redis every window counts in the local cache, the verdict is theirs together."""
    key = uuid.uuid4().hex
    limits = [("send.visitor", "v", 3), ("send.ip", "ip", 1)]
    assert [await within_limits_async(tenant_key=key, limits=limits) for _ in range(2)] == [True, False]
    assert within_limit(tenant_key=key, name="send.visitor", subject="v", limit=3)  # 2 counted before: 3rd
    assert not within_limit(tenant_key=key, name="send.visitor", subject="v", limit=3)
