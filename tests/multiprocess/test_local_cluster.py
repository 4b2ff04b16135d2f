"""deploy/local-cluster on real PostgreSQL and Redis: nginx (deploy/nginx/switchboard.conf) spreads
HTTP over the three nodes and carries WebSocket upgrades and long-polls; a rolling restart closes a
socket with 1012 and it comes back through nginx; `stop` leaves no process behind."""
from __future__ import annotations

import asyncio

import pytest

from bench.realtime.client import LongPollClient, SocketClient, bootstrap
from deploy.local_cluster import alive, group_alive
from tests.multiprocess.conftest import processes, script

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.nginx, pytest.mark.timeout(600)]

ORIGIN = "http://127.0.0.1:8000"  # allowed by seed_demo's tenant


async def test_nginx_balances_http_websocket_and_long_poll_and_a_rolling_restart_reconnects(cluster):
    import httpx

    url = cluster["url"]
    ws_url = url.replace("http://", "ws://")
    assert script(cluster, "status").returncode == 0  # nginx, 3 nodes, 2 workers and beat up

    # HTTP: least_conn over idle nodes takes each in turn.
    async with httpx.AsyncClient() as http:
        upstreams = {(await http.get(f"{url}/healthz")).headers["X-Switchboard-Upstream"] for _ in range(6)}
    assert upstreams == {f"127.0.0.1:{port}" for port in cluster["nodes"]}

    # WebSocket upgrade through nginx: a visitor says hello and sends.
    boot = await bootstrap(base=url, widget_key=cluster["widget_key"], origin=ORIGIN)
    token = boot["visitor_token"]
    sock = await SocketClient.connect(f"{ws_url}/ws/visitor/", origin=ORIGIN)
    await sock.send({"type": "hello", "token": token, "resume": {}})
    await sock.expect("welcome", timeout=60)
    await sock.send({"type": "send", "client_id": "c-1", "conversation": None, "body": "hello through nginx"})
    ack = await sock.expect("ack", timeout=60)
    conv = ack["message"]["conversation"]

    # Long-poll through nginx, as the same visitor: the message from the database, then a wake-up
    # for the socket's next one (whichever nodes each landed on).
    poller = LongPollClient(base=url, who="visitor", origin=ORIGIN, token=token)
    frames = await poller.poll(hello={"type": "hello", "token": token, "resume": {conv: 0}})
    assert [f["message"]["client_id"] for f in frames if f["type"] == "message"] == ["c-1"]
    waiting = asyncio.create_task(poller.poll())
    await asyncio.sleep(1)
    await sock.send({"type": "send", "client_id": "c-2", "conversation": conv, "body": "second"})
    got = await asyncio.wait_for(waiting, 60)
    assert [f["message"]["client_id"] for f in got if f["type"] == "message"] == ["c-2"]

    # Rolling restart: each node drains in turn; the socket's node closes it with 1012, and it
    # comes back through nginx to a node that is up and resumes.
    restarted = await asyncio.to_thread(script, cluster, "rolling-restart")
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    await asyncio.wait_for(sock.closed.wait(), 60)
    assert sock.close_code == 1012
    again = await SocketClient.connect(f"{ws_url}/ws/visitor/", origin=ORIGIN)
    await again.send({"type": "hello", "token": token, "resume": {conv: 1}})
    await again.expect("welcome", timeout=60)
    replay = await again.expect("message", timeout=60)
    assert replay["message"]["client_id"] == "c-2"
    await again.close()
    await poller.close()
    assert script(cluster, "status").returncode == 0

    pids = [info["pid"] for info in processes(cluster).values()]
    assert script(cluster, "stop").returncode == 0
    assert not any(alive(pid) or group_alive(pid) for pid in pids)
