"""Two Redis servers (REALTIME_BUS_URLS; presence and the cache follow it) under two real server
processes: wake-up groups, presence and cache keys land on both; a restart of either one loses
nothing (open sockets stay open, sends are acknowledged, no 500, new sockets and waiting polls get
the documented retryable answers), presence reads "offline" only for the tenants of the server
that is down, and once it is back every message sent meanwhile reaches the agent, live delivery
goes on and the next heartbeats bring presence back.

Both servers are this test's own (tests/own_redis.py), stopped and started by PID; the Celery
broker stays on the shared test Redis."""
from __future__ import annotations

import asyncio
import os

import httpx
import pytest
import redis

from bench.realtime.client import SocketClient, bootstrap
from bench.realtime.harness import Stack
from support.sharding import shard_index
from tests.multiprocess.conversation_watch import wait_until
from tests.multiprocess.test_redis_outage_server import first_refusal

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(400)]

VISITORS = 8


@pytest.fixture
def buses(redis_servers):
    return redis_servers


async def team_online(http: httpx.AsyncClient, token: str) -> bool:
    """What a visitor's first poll says: is an agent of the tenant online (presence)?"""
    answer = await http.post("/rt/visitor/poll", json={"token": token, "cursor": None})
    assert answer.status_code == 200, answer.text
    return bool(next(f for f in answer.json()["frames"] if f["type"] == "welcome")["team_online"])


async def test_delivery_and_presence_survive_a_restart_of_either_redis(require_postgres, redis_url, buses):
    urls = ",".join(bus.url for bus in buses)
    # Six tenants: tenant ids 1-6 hash to both servers. Heartbeats every second: presence comes
    # back within one after a restart.
    with Stack(database_url=os.environ["DATABASE_URL"], redis_url=redis_url, agents=1, tenants=6,
               extra_env={"REALTIME_BUS_URLS": urls, "PRESENCE_HEARTBEAT_SECONDS": "1",
                          "PRESENCE_TTL_SECONDS": "10"}) as stack:
        node_a, node_b = stack.start_servers(2)
        origin = stack.origin
        # The first tenant (visitors, an agent) and one whose presence is on the other server (an agent).
        tenants = stack.seed["tenants"]
        home = [shard_index(f"t{t['id']}", count=2) for t in tenants]
        other = tenants[home.index(1 - home[0])]
        presence_of = {tenants[0]["widget_key"]: home[0], other["widget_key"]: 1 - home[0]}
        cookie = f"{stack.seed['session_cookie']}={other['agent_sessions'][0]}"
        other_agent, _ = await SocketClient.open(f"{node_b.ws}/ws/agent/", origin=node_b.http, cookie=cookie,
                                                 hello={"type": "hello", "resume": {}, "inbox_since": None})
        seen: dict[str, list[str]] = {}  # client_id -> conversations it arrived in (at the agent)

        def on_agent_frame(frame: dict) -> None:
            if frame["type"] == "message" and frame["message"].get("client_id"):
                seen.setdefault(frame["message"]["client_id"], []).append(frame["message"]["conversation"])

        cookie = f"{stack.seed['session_cookie']}={stack.seed['agent_sessions'][0]}"
        agent, _ = await SocketClient.open(f"{node_b.ws}/ws/agent/", origin=node_b.http, cookie=cookie,
                                           hello={"type": "hello", "resume": {}, "inbox_since": None},
                                           on_frame=on_agent_frame)
        visitors: list[tuple[SocketClient, str]] = []
        for i in range(VISITORS):
            token = (await bootstrap(base=node_a.http, widget_key=stack.seed["widget_key"], origin=origin))[
                "visitor_token"]
            sock, _ = await SocketClient.open(f"{node_a.ws}/ws/visitor/", origin=origin,
                                              hello={"type": "hello", "token": token})
            await sock.send({"type": "send", "conversation": None, "client_id": f"start-{i}", "body": "hi"})
            conv = (await sock.expect("ack", timeout=60))["message"]["conversation"]
            await agent.send({"type": "subscribe", "conversation": conv, "last_seq": 0})
            visitors.append((sock, conv))
        await wait_until(lambda: all(f"start-{i}" in seen for i in range(VISITORS)), timeout=60, what="first sends")
        spares = {key: (await bootstrap(base=node_a.http, widget_key=key, origin=origin))["visitor_token"]
                  for key in presence_of}
        spare = spares[stack.seed["widget_key"]]

        # Groups, presence and cache keys land on both servers.
        for bus in buses:
            server = redis.Redis.from_url(bus.url)
            assert server.pubsub_channels(), f"no group on {bus.url}"
            assert list(server.scan_iter(match=f"{stack.name}:presence:t*")), f"no presence on {bus.url}"
            assert list(server.scan_iter(match=f"{stack.name}:cache:*")), f"no cache key on {bus.url}"

        for shard, bus in enumerate(buses):
            bus.stop()
            try:
                # Until the nodes notice, a socket may still be welcomed; then new ones get 1013.
                # Never a failed handshake (refused_with raises on one).
                code, frames = await first_refusal(f"{node_a.ws}/ws/visitor/", origin, spare)
                assert code == 1013 and [f.get("code") for f in frames] == ["unavailable"]
                for i, (sock, conv) in enumerate(visitors):
                    await sock.send({"type": "send", "conversation": conv, "client_id": f"down{shard}-{i}",
                                     "body": f"while bus {shard} is down"})
                    await sock.expect("ack", timeout=60)  # stored: PostgreSQL is the record
                # On the node that has seen the outage (above): a poll that would wait gets 503.
                async with httpx.AsyncClient(base_url=node_a.http, headers={"Origin": origin}, timeout=60) as http:
                    first = await http.post("/rt/visitor/poll", json={"token": spare, "cursor": None})
                    assert first.status_code == 200
                    waiting = await http.post("/rt/visitor/poll", json={"token": spare,
                                                                        "cursor": first.json()["cursor"]})
                    assert waiting.status_code == 503 and int(waiting.headers["Retry-After"]) > 0
                    # Presence reads "nobody online" for the tenant on the server that is down only.
                    for key, token in spares.items():
                        assert await team_online(http, token) is (presence_of[key] != shard), (key, shard)
            finally:
                bus.start()
            # Back: everything sent meanwhile reaches the agent; then live delivery.
            await wait_until(lambda s=shard: all(f"down{s}-{i}" in seen for i in range(VISITORS)), timeout=90,
                             what=f"catch-up after bus {shard} is back")
            for i, (sock, conv) in enumerate(visitors):
                await sock.send({"type": "send", "conversation": conv, "client_id": f"up{shard}-{i}", "body": "back"})
            await wait_until(lambda s=shard: all(f"up{s}-{i}" in seen for i in range(VISITORS)), timeout=90,
                             what=f"live delivery after bus {shard} is back")
            # The agents' next heartbeats write their connections again.
            async with httpx.AsyncClient(base_url=node_a.http, headers={"Origin": origin}, timeout=60) as http:
                for _ in range(100):
                    back = [await team_online(http, token) for token in spares.values()]
                    if all(back):
                        break
                    await asyncio.sleep(0.2)
                assert all(back), f"presence not back after server {shard} restarted"

        # Each message reached the agent in its own conversation, and none twice.
        convs = {f"{kind}-{i}": conv for kind in ("start", "down0", "up0", "down1", "up1")
                 for i, (_, conv) in enumerate(visitors)}
        assert {cid: where for cid, where in seen.items() if cid in convs} == {cid: [c] for cid, c in convs.items()}
        for sock, _ in visitors:
            await sock.close()
        await agent.close()
        await other_agent.close()
