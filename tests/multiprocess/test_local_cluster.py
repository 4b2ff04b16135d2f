"""deploy/local-cluster on real PostgreSQL and Redis: nginx (deploy/nginx/switchboard.conf) spreads
HTTP over the three nodes and carries WebSocket upgrades and long-polls; a rolling restart closes a
socket with 1012 and it comes back through nginx; `stop` leaves no process behind."""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from bench.realtime.client import LongPollClient, SocketClient, bootstrap
from bench.realtime.harness import _with_db
from deploy.local_cluster import NGINX, alive, group_alive
from tests.conftest import skip_without_service

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.nginx, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://127.0.0.1:8000"  # allowed by seed_demo's tenant


@pytest.fixture
def cluster(request, require_postgres, redis_url, tmp_path):
    if not Path(NGINX).exists():
        skip_without_service(request.node, service="nginx",
                             reason="needs Debian's nginx: `make nginx` (apt-get install nginx)")
    name = f"sb_lc_{uuid.uuid4().hex[:10]}"
    database_url = _with_db(os.environ["DATABASE_URL"], name)
    env = {**os.environ, "PYTHON": sys.executable}
    command = [str(ROOT / "deploy/local-cluster"), "--dir", str(tmp_path / "cluster"), "--database-url", database_url,
               "--redis-url", redis_url, "--redis-prefix", name]
    started = subprocess.run([command[0], "start", *command[1:]], env=env, capture_output=True, text=True,
                             timeout=300)
    state_path = tmp_path / "cluster/state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else None
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        assert state is not None
        subprocess.run([sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=state["env"], check=True,
                       capture_output=True, timeout=300)
        with psycopg.connect(database_url) as conn:
            row = conn.execute("SELECT widget_key FROM support_tenant WHERE slug = 'demo'").fetchone()
        state["widget_key"] = row[0]
        state["command"] = command
        state["env_for_script"] = env
        yield state
    finally:
        if state_path.exists():
            subprocess.run([command[0], "stop", *command[1:]], env=env, timeout=300)
        with psycopg.connect(_with_db(os.environ["DATABASE_URL"], "postgres"), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(tmp_path / "cluster", ignore_errors=True)


def script(cluster: dict, action: str) -> subprocess.CompletedProcess:
    command = cluster["command"]
    return subprocess.run([command[0], action, *command[1:]], env=cluster["env_for_script"], capture_output=True,
                          text=True, timeout=300)


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

    pids = [info["pid"] for info in json.loads((Path(cluster["command"][2]) / "state.json").read_text())
            ["processes"].values()]
    assert script(cluster, "stop").returncode == 0
    assert not any(alive(pid) or group_alive(pid) for pid in pids)
