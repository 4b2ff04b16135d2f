"""Metrics and logs of a real cluster (deploy/local-cluster: nginx, 3 web nodes, 2 Celery workers,
beat) sharing one PROMETHEUS_MULTIPROC_DIR with LOG_FORMAT=json: any node's /metrics sums every
web and Celery process of the host, and each process's log lines are JSON with their ids."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.realtime.client import SocketClient, bootstrap

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.nginx, pytest.mark.timeout(600)]

ORIGIN = "http://127.0.0.1:8000"  # allowed by seed_demo's tenant
PROCESSES = 3 + 2  # web nodes (one process each) and Celery prefork children, each with its pool


@pytest.fixture
def cluster_env(tmp_path) -> dict[str, str]:
    directory = tmp_path / "metrics"
    directory.mkdir()
    return {
        "PROMETHEUS_MULTIPROC_DIR": str(directory), "LOG_FORMAT": "json", "DB_POOL_MAX_SIZE": "7",
        # Not the console backend of a machine without SMTP, which prints each email (bodies too) to stdout.
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")  # from 127.0.0.1: the default allow-list
    assert response.status_code == 200, response.text
    return samples(response.text)


async def until(predicate, *, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not await predicate():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.5)


async def test_every_node_sums_the_hosts_processes_and_logs_json_with_ids(cluster):
    url, nodes = cluster["url"], cluster["nodes"]
    boot = await bootstrap(base=url, widget_key=cluster["widget_key"], origin=ORIGIN)
    token = boot["visitor_token"]
    sock = await SocketClient.connect(url.replace("http://", "ws://") + "/ws/visitor/", origin=ORIGIN)
    await sock.send({"type": "hello", "token": token, "resume": {}})
    welcome = await sock.expect("welcome", timeout=60)
    await sock.send({"type": "send", "client_id": "c-1", "conversation": None, "body": "metrics body 1"})
    await sock.expect("ack", timeout=60)

    async with httpx.AsyncClient() as http:  # not through the public side, even from an allowed address
        assert (await http.get(f"{url}/metrics")).status_code == 404

    # Whichever node holds the socket and wrote the message, every node reports the host's sums.
    for port in nodes:
        seen = await scrape(port)
        assert seen[("switchboard_open_sockets", frozenset({("kind", "visitor")}))] == 1
        assert seen[("switchboard_messages_persisted_total", frozenset())] >= 1

    # The Celery prefork children sample their pools too: the pools' sizes add up over all five.
    async def all_pools_reported() -> bool:
        seen = await scrape(nodes[0])
        return seen.get(("switchboard_db_pool_connections", frozenset({("state", "max")}))) == 7 * PROCESSES
    await until(all_pools_reported)

    # The outbox is worked off by the workers: the backlog read at scrape time drains to 0.
    async def outbox_drained() -> bool:
        seen = await scrape(nodes[-1])
        return seen.get(("switchboard_outbox_backlog", frozenset())) == 0 and seen.get(
            ("switchboard_metrics_source_up", frozenset({("source", "database")}))) == 1
    await until(outbox_drained)

    await sock.close()
    async def socket_gone() -> bool:
        return (await scrape(nodes[1]))[("switchboard_open_sockets", frozenset({("kind", "visitor")}))] == 0
    await until(socket_gone)

    # Logs: every line of web, worker and beat is JSON; the socket's line names its connection and tenant.
    logs = Path(cluster["command"][2])
    web = [json.loads(line) for n in range(1, len(nodes) + 1)
           for line in (logs / f"web{n}.log").read_text().splitlines() if line.startswith("{")]
    [ended] = [line for line in web if line["message"].startswith("WS /ws/visitor/ ended")]
    assert ended["connection_id"] == welcome["connection"] and ended["tenant"].startswith("tn_")
    worker = [json.loads(line) for n in (1, 2)
              for line in (logs / f"worker{n}.log").read_text().splitlines() if line.startswith("{")]
    tasks = [line for line in worker if line["logger"] == "celery.app.trace"]
    assert tasks and all(line["request_id"] == line["data"]["id"] for line in tasks)
    beat = [line for line in (logs / "beat.log").read_text().splitlines() if line.startswith("{")]
    assert any(json.loads(line)["logger"] == "celery.beat" for line in beat)
    for name in [f"web{n}" for n in range(1, len(nodes) + 1)] + ["worker1", "worker2"]:
        assert "metrics body 1" not in (logs / f"{name}.log").read_text()
        assert token not in (logs / f"{name}.log").read_text()
