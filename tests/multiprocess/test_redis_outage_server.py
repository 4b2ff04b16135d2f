"""A Redis outage under a real uvicorn server process: the HTTP handshake never fails, new sockets
are closed with 1013, open ones stay open and get what was sent meanwhile once Redis is back.

The server's Redis (channel layer, cache, presence, broker) is a redis-server of this test's own
(tests/own_redis.py), stopped and started again by its PID; the database is a scratch PostgreSQL
one (bench/realtime/harness.py).
"""
from __future__ import annotations

import contextlib
import json
import os

import httpx
import pytest
import websockets

from bench.realtime.client import SocketClient, bootstrap
from bench.realtime.harness import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


@pytest.fixture
def stack(require_postgres, redis_server):
    with Stack(database_url=os.environ["DATABASE_URL"], redis_url=redis_server.url, agents=1) as s:
        yield s


async def refused_with(ws_url: str, origin: str, token: str) -> tuple[int | None, list[dict]]:
    """Open a socket and say hello: the close code and frames, or (None, frames) if it was welcomed.

    A failed handshake (an HTTP 500) raises here."""
    async with websockets.connect(ws_url, origin=origin, open_timeout=30) as ws:  # type: ignore[arg-type]
        frames: list[dict] = []
        # The server may refuse (1013) before our hello is written: sending then raises, but what
        # it sent before closing is still buffered and read below.
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.send(json.dumps({"type": "hello", "token": token}))
        try:
            async for raw in ws:
                frames.append(json.loads(raw))
                if frames[-1]["type"] == "welcome":
                    return None, frames
        except websockets.ConnectionClosed:
            pass
        return ws.close_code, frames


async def first_refusal(ws_url: str, origin: str, token: str, *, tries: int = 100) -> tuple[int | None, list[dict]]:
    """``refused_with`` again and again until a socket is refused (at most ``tries`` times, while the
    server has yet to notice an outage): that close code and its frames; None if every one was welcomed."""
    for _ in range(tries):
        code, frames = await refused_with(ws_url, origin, token)
        if code is not None:
            break
    return code, frames


async def test_redis_outage_on_a_real_server(stack, redis_server):
    node = stack.start_server()
    origin = stack.origin
    token = (await bootstrap(base=node.http, widget_key=stack.seed["widget_key"], origin=origin))["visitor_token"]
    other = (await bootstrap(base=node.http, widget_key=stack.seed["widget_key"], origin=origin))["visitor_token"]
    visitor, _ = await SocketClient.open(f"{node.ws}/ws/visitor/", origin=origin,
                                         hello={"type": "hello", "token": token})
    await visitor.send({"type": "send", "conversation": None, "client_id": "v-0", "body": "before"})
    conv = (await visitor.expect("ack", timeout=30))["message"]["conversation"]
    cookie = f"{stack.seed['session_cookie']}={stack.seed['agent_sessions'][0]}"
    agent, _ = await SocketClient.open(f"{node.ws}/ws/agent/", origin=node.http, cookie=cookie,
                                       hello={"type": "hello", "resume": {conv: 0}, "inbox_since": None})
    await agent.expect("message", timeout=30, where=lambda f: f["message"]["body"] == "before")

    redis_server.stop()
    try:
        # Until the server's layer has seen its connection fail, a socket may still be welcomed;
        # after, every new one is refused with 1013 and says why. No handshake fails.
        code, frames = await first_refusal(f"{node.ws}/ws/visitor/", origin, other)
        assert code == 1013
        assert [(f["type"], f.get("code")) for f in frames] == [("error", "unavailable")]

        # The open sockets stay open; a send is acknowledged (it is in PostgreSQL).
        await agent.send({"type": "send", "conversation": conv, "client_id": "a-1", "body": "during"})
        during = await agent.expect("ack", timeout=30)
        await visitor.send({"type": "ping"})
        await visitor.expect("pong", timeout=30)

        async with httpx.AsyncClient(base_url=node.http, headers={"Origin": origin}, timeout=60) as http:
            first = await http.post("/rt/visitor/poll", json={"token": other, "cursor": None})
            assert first.status_code == 200 and first.json()["frames"][0]["type"] == "welcome"
            waiting = await http.post("/rt/visitor/poll", json={"token": other, "cursor": first.json()["cursor"]})
            assert waiting.status_code == 503 and int(waiting.headers["Retry-After"]) > 0
    finally:
        redis_server.start()

    # Back: the visitor's open socket gets the reply sent during the outage, and live delivery resumes.
    got = await visitor.expect("message", timeout=60, where=lambda f: f["message"]["body"] == "during")
    assert got["message"]["seq"] == during["message"]["seq"]
    await agent.send({"type": "send", "conversation": conv, "client_id": "a-2", "body": "after"})
    await visitor.expect("message", timeout=60, where=lambda f: f["message"]["body"] == "after")
    again, welcome = await SocketClient.open(f"{node.ws}/ws/visitor/", origin=origin,
                                             hello={"type": "hello", "token": other})
    assert welcome["type"] == "welcome"
    for sock in (again, visitor, agent):
        await sock.close()
