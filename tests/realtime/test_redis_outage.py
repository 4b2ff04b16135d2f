"""A Redis outage on real Redis: the test runs its own redis-server, stops it and starts it again.

The app's wake-up bus, cache and presence store point at a redis-server of this test's own on a
free port (never the shared one). While it is down: no 500, new sockets are refused with 1013,
open sockets stay open and their sends are acknowledged (the database is the record), long-poll
answers from the database or 503 with Retry-After. When it is back, what was sent meanwhile
reaches the other side (the hub tells every connection to catch up), and live delivery resumes.
"""
from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
import redis
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.cache import cache

from push import hub
from push.presence_store import RedisStore, set_store
from push.ratelimit import within_limit_async
from support import failsoft_cache
from support.rate_limits import once_per, within_limit
from tests.conftest import skip_without_service
from tests.own_redis import REDIS_SERVER, OwnRedis
from tests.realtime.conftest import (
    SITE,
    Socket,
    application,
    open_agent,
    open_visitor,
    poll_waiting,
    visitor_token,
)
from tests.realtime.test_visitor_socket import agent_posts

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

@pytest.fixture
async def own_redis(request, tmp_path, settings):
    if not Path(REDIS_SERVER).exists():
        skip_without_service(request.node, service="redis", reason="needs the redis-server binary")
    server = OwnRedis(tmp_path)
    server.start()
    prefix = f"sb_outage_{uuid.uuid4().hex[:8]}"
    settings.REALTIME_BUS_URLS = [server.url]
    settings.REALTIME_BUS_PREFIX = f"{prefix}:bus"
    settings.CACHES = {"default": {
        "BACKEND": "support.failsoft_cache.FailSoftRedisCache", "LOCATION": server.url,
        "KEY_PREFIX": f"{prefix}:cache", "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }}
    await hub.close_hub()
    set_store(RedisStore(url=server.url, prefix=prefix))
    yield server
    set_store(None)
    server.stop()
    await hub.close_hub()  # this test's Redis connections, before its event loop ends


async def _bus_reachable(expected: bool, timeout: float = 20) -> None:
    """Wait until this loop's hub has noticed Redis going away (or coming back)."""
    bus = hub.get_hub()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while bus.reachable() != expected:
        assert loop.time() < deadline, f"the hub never saw Redis {'back' if expected else 'gone'}"
        await asyncio.sleep(0.05)


async def _frame_with_body(sock: Socket, body: str, timeout: float = 20) -> dict:
    """The next ``message`` frame carrying ``body`` (other frames skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await sock.recv(max(0.1, deadline - loop.time()))
        assert frame["type"] not in ("__closed__", "error"), frame
        if frame["type"] == "message" and frame["message"]["body"] == body:
            return frame


async def _pong(sock: Socket) -> None:
    await sock.send({"type": "ping"})
    assert (await sock.recv_type("pong"))["type"] == "pong"


async def _conversation_followed_live(world, body: str) -> tuple[Socket, Socket, str]:
    """A visitor's socket that started a conversation with ``body``, and an agent's socket following it."""
    visitor = await open_visitor(await visitor_token(world.tenant))
    await visitor.recv_type("welcome")
    await visitor.send({"type": "send", "conversation": None, "client_id": "v-1", "body": body})
    conv_id = (await visitor.recv_type("ack"))["message"]["conversation"]
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    await agent.send({"type": "subscribe", "conversation": conv_id, "last_seq": 0})
    await _frame_with_body(agent, body)
    return visitor, agent, conv_id


async def test_a_redis_outage_costs_latency_only(world, own_redis, http, caplog):
    # Before: a visitor's conversation, followed live by an agent.
    visitor, agent, conv_id = await _conversation_followed_live(world, "before")
    leaving = await open_visitor(await visitor_token(world.tenant))
    await leaving.recv_type("welcome")
    poll_token = await visitor_token(world.tenant)
    first = await http.post("/rt/visitor/poll", json={"token": poll_token, "cursor": None},
                            headers={"Origin": SITE})
    assert first.status_code == 200
    cursor = first.json()["cursor"]

    own_redis.stop()
    await _bus_reachable(False)
    try:
        # A new socket: accepted, told why, closed with 1013 (never a 500 at the handshake).
        comm = WebsocketCommunicator(application(), "/ws/visitor/", headers=[(b"origin", SITE.encode()),
                                                                            (b"host", b"testserver")])
        connected, _ = await comm.connect()
        assert connected
        refused = Socket(comm)
        frame = await refused.recv()
        assert (frame["type"], frame["code"]) == ("error", "unavailable")
        assert await refused.closed_code() == 1013

        # A socket can close (its groups are left without Redis, quietly).
        await leaving.close()

        # Open sockets stay open; a send reaches the database and is acknowledged.
        await _pong(visitor)
        await _pong(agent)
        await agent.send({"type": "send", "conversation": conv_id, "client_id": "a-1", "body": "during"})
        ack = await agent.recv_type("ack")
        assert ack["message"]["body"] == "during"
        await agent.send({"type": "typing", "conversation": conv_id, "on": True})
        await agent.send({"type": "presence", "status": "away"})
        await _pong(agent)

        # Long-poll: sends are acknowledged; a poll the database answers is answered, one that
        # would have to wait for a wake-up is told to come back.
        sent = await http.post("/rt/visitor/send", headers={"Origin": SITE}, json={
            "token": poll_token, "frames": [{"type": "send", "conversation": None, "client_id": "p-1", "body": "lp"}],
        })
        assert sent.status_code == 200 and sent.json()["frames"][0]["type"] == "ack"
        answered = await http.post("/rt/visitor/poll", json={"token": poll_token, "cursor": cursor},
                                   headers={"Origin": SITE})
        assert answered.status_code == 200
        assert [f["message"]["body"] for f in answered.json()["frames"] if f["type"] == "message"] == ["lp"]
        waiting = await http.post("/rt/visitor/poll", json={"token": poll_token, "cursor": answered.json()["cursor"]},
                                  headers={"Origin": SITE})
        assert waiting.status_code == 503
        assert waiting.json()["error"]["code"] == "unavailable"
        assert int(waiting.headers["Retry-After"]) > 0
        bootstrap = await http.post("/rt/widget/bootstrap", json={"widget_key": world.tenant.widget_key},
                                    headers={"Origin": SITE})
        assert bootstrap.status_code == 200
    finally:
        own_redis.start()

    # Back: the visitor's open socket gets what was sent during the outage, from the database...
    during = await _frame_with_body(visitor, "during")
    assert during["message"]["seq"] == ack["message"]["seq"]
    # ...then live delivery resumes on the same sockets, and new sockets are accepted again.
    await agent.send({"type": "send", "conversation": conv_id, "client_id": "a-2", "body": "after"})
    await _frame_with_body(visitor, "after")
    fresh = await open_visitor(await visitor_token(world.tenant))
    assert (await fresh.recv_type("welcome"))["type"] == "welcome"
    await fresh.close()
    await visitor.close()
    await agent.close()
    # An outage is logged as warnings, never as errors with tracebacks (Django logs every 5xx
    # answer, the documented 503 included, as an error of its own).
    errors = [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert [r.getMessage() for r in errors if not (r.name == "django.request" and r.status_code == 503)] == []


async def test_a_message_sent_while_redis_is_down_is_delivered_after_it_returns(world, own_redis):
    """Both sides keep their sockets; the one that missed the wake-up catches up when Redis is back."""
    visitor, agent, conv_id = await _conversation_followed_live(world, "hello")

    own_redis.stop()
    try:
        await visitor.send({"type": "send", "conversation": conv_id, "client_id": "v-2", "body": "while down"})
        assert (await visitor.recv_type("ack"))["message"]["body"] == "while down"
        # Its wake-up could not be published: nothing reaches the agent while Redis is down.
        assert all(f.get("message", {}).get("body") != "while down" for f in await agent.drain(0.5))
    finally:
        own_redis.start()
    frame = await _frame_with_body(agent, "while down")
    assert frame["prev_seq"] == frame["message"]["seq"] - 1  # nothing skipped, nothing twice
    await _pong(agent)
    await visitor.close()
    await agent.close()



def test_limits_and_the_cache_work_per_process_while_redis_is_down(world, own_redis, client, settings, monkeypatch):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 2
    monkeypatch.setattr(failsoft_cache, "RETRY_SECONDS", 0.0)  # try Redis on every call, so its return is seen
    key = uuid.uuid4().hex
    own_redis.stop()
    try:
        # Limits fail open across nodes only: this process still counts, and refuses past the limit.
        assert [within_limit(tenant_key=key, name="send", subject="s", limit=2) for _ in range(3)] == [
            True, True, False]
        assert once_per(tenant_key=key, name="typing", subject="c", seconds=5)
        assert not once_per(tenant_key=key, name="typing", subject="c", seconds=5)
        cache.set("plan-of-something", "free", 30)
        assert cache.get("plan-of-something") == "free"
        # Sign-in throttling still throttles (per process), never a 500.
        statuses = [client.post("/accounts/login/", {"username": world.owner.user.email, "password": "wrong"},
                                REMOTE_ADDR="192.0.2.44").status_code for _ in range(3)]
        assert statuses == [400, 400, 429]
    finally:
        own_redis.start()
    # Back on Redis, which never saw those hits.
    assert cache.get("plan-of-something") is None
    assert within_limit(tenant_key=key, name="send", subject="s", limit=2)
    assert redis.Redis.from_url(own_redis.url).dbsize() > 0


async def test_limits_counted_on_the_event_loop_work_per_process_while_redis_is_down(own_redis, monkeypatch):
    """The visitor's send limits count on the loop's own Redis client (no thread hop), with the same
    fallback as the cache: while Redis is down this process counts, and refuses past the limit."""
    monkeypatch.setattr(failsoft_cache, "RETRY_SECONDS", 0.0)  # try Redis on every call, so its return is seen
    key = uuid.uuid4().hex
    assert await within_limit_async(tenant_key=key, name="send", subject="up", limit=5)
    own_redis.stop()
    try:
        assert [await within_limit_async(tenant_key=key, name="send", subject="s", limit=2) for _ in range(3)] == [
            True, True, False]
    finally:
        own_redis.start()
    # Back on Redis, which never saw those hits; and the same counters as the sync path.
    assert await within_limit_async(tenant_key=key, name="send", subject="s", limit=2)
    assert await sync_to_async(within_limit)(tenant_key=key, name="send", subject="s", limit=2)
    assert not await within_limit_async(tenant_key=key, name="send", subject="s", limit=2)


async def test_a_waiting_poll_reads_what_it_missed_when_redis_is_back(world, own_redis, http, settings):
    settings.LONGPOLL_TIMEOUT_SECONDS = 60  # the poll must still be waiting when Redis returns
    token = await visitor_token(world.tenant)
    sent = await http.post("/rt/visitor/send", headers={"Origin": SITE}, json={
        "token": token, "frames": [{"type": "send", "conversation": None, "client_id": "p-1", "body": "hi"}]})
    conv_id = sent.json()["frames"][0]["message"]["conversation"]
    first = await http.post("/rt/visitor/poll", headers={"Origin": SITE},
                            json={"token": token, "cursor": None, "hello": {"type": "hello", "resume": {conv_id: 1}}})
    cursor = first.json()["cursor"]
    waiting = asyncio.ensure_future(
        http.post("/rt/visitor/poll", headers={"Origin": SITE}, json={"token": token, "cursor": cursor}))
    await poll_waiting()

    own_redis.stop()
    try:
        await _bus_reachable(False)
        # Committed while Redis is down: its wake-up is lost.
        await sync_to_async(agent_posts)(world, conv_id, "while down")
        assert not waiting.done()
    finally:
        own_redis.start()
    answer = await asyncio.wait_for(waiting, 30)
    assert answer.status_code == 200
    assert [f["message"]["body"] for f in answer.json()["frames"] if f["type"] == "message"] == ["while down"]
