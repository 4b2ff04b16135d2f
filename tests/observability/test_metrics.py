"""``/metrics``: each series moves when the thing it counts happens, read through the real ASGI app
as a scraper reads it; only the token or the allow-list may read it; multiprocess mode sums processes."""
from __future__ import annotations

import asyncio
import ipaddress
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from django.utils import timezone
from django_scopes import scope
from prometheus_client.parser import text_string_to_metric_families

from config.observability import db_pool
from config.observability import metrics as exposition
from push.webhooks import delivery as webhook_engine
from push.webhooks import services as webhook_services
from support.events import fanout
from support.events.dispatcher import drain
from support.services.conversations import start_conversation
from support.services.messages import post_message
from tests.realtime.conftest import application, open_agent, open_visitor, poll_waiting, visitor_token
from tests.realtime.test_longpoll import first_poll, start, vpost

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def scrape_client(**kwargs) -> httpx.AsyncClient:
    # httpx's ASGI transport connects from 127.0.0.1 (in the default METRICS_ALLOWED_IPS) unless told otherwise.
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application(), **kwargs), base_url="http://testserver")


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }


async def scrape() -> dict[tuple[str, frozenset], float]:
    async with scrape_client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return parse(response.text)


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


# --- who may read it ----------------------------------------------------------------------------------
async def test_only_the_allow_list_or_the_token_may_read_metrics(world, settings):
    async with scrape_client(client=("203.0.113.9", 4000)) as outside:
        assert (await outside.get("/metrics")).status_code == 403
        settings.METRICS_TOKEN = "scrape-secret-1"
        assert (await outside.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 403
        assert (await outside.get("/metrics", headers={"Authorization": "scrape-secret-1"})).status_code == 403
        answer = await outside.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1"})
        assert answer.status_code == 200 and "switchboard_messages_persisted_total" in answer.text
        settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("203.0.113.0/24")]
        assert (await outside.get("/metrics")).status_code == 200
    settings.METRICS_TOKEN = ""
    async with scrape_client() as loopback:  # 127.0.0.1 is no longer listed
        assert (await loopback.get("/metrics")).status_code == 403


def test_the_allow_list_and_token_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("METRICS_ALLOWED_IPS", "10.0.0.0/8, ::1")
    monkeypatch.setenv("METRICS_TOKEN", "t0k")
    code = "from django.conf import settings; print(settings.METRICS_ALLOWED_IPS, settings.METRICS_TOKEN)"
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                         env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[IPv4Network('10.0.0.0/8'), IPv6Network('::1/128')] t0k"
    monkeypatch.setenv("METRICS_ALLOWED_IPS", "not-an-address")
    failed = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"},
                            capture_output=True, text=True)
    assert failed.returncode != 0 and "METRICS_ALLOWED_IPS" in failed.stderr


# --- realtime series ----------------------------------------------------------------------------------
async def test_sockets_frames_messages_and_delivery_latency_move(world):
    before = await scrape()
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    token = await visitor_token(world.tenant)
    visitor = await open_visitor(token)
    await visitor.recv_type("welcome")
    opened = await scrape()
    assert value(opened, "switchboard_open_sockets", kind="visitor") == value(
        before, "switchboard_open_sockets", kind="visitor") + 1
    assert value(opened, "switchboard_open_sockets", kind="agent") == value(
        before, "switchboard_open_sockets", kind="agent") + 1

    await visitor.send({"type": "send", "conversation": None, "client_id": "m-1", "body": "hello"})
    conversation = (await visitor.recv_type("ack"))["message"]["conversation"]
    await agent.recv_type("conversation")  # the agent hears of it through a wake-up
    first = await scrape()
    # The second message's wake-up reaches this process's hub while the conversation's group has
    # a listener (the visitor follows it now): its commit-to-delivery time is observed.
    await visitor.send({"type": "send", "conversation": conversation, "client_id": "m-2", "body": "again"})
    await visitor.recv_type("ack")
    await agent.recv_type("conversation")
    sent = await scrape()
    assert value(first, "switchboard_messages_persisted_total") == value(
        before, "switchboard_messages_persisted_total") + 1
    assert value(sent, "switchboard_messages_persisted_total") == value(
        before, "switchboard_messages_persisted_total") + 2
    assert value(sent, "switchboard_frames_received_total", transport="ws") >= value(
        before, "switchboard_frames_received_total", transport="ws") + 4  # two hellos and two sends
    assert value(sent, "switchboard_frames_sent_total", transport="ws") >= value(
        before, "switchboard_frames_sent_total", transport="ws") + 4  # two welcomes and two acks
    assert value(sent, "switchboard_commit_to_delivery_seconds_count") > value(
        first, "switchboard_commit_to_delivery_seconds_count")

    await visitor.close()
    await agent.close()
    closed = await scrape()
    for kind in ("visitor", "agent"):
        was = value(before, "switchboard_open_sockets", kind=kind)
        assert value(closed, "switchboard_open_sockets", kind=kind) == was


async def test_waiting_long_polls_and_their_frames_move(world, http, settings):
    settings.LONGPOLL_TIMEOUT_SECONDS = 5
    token, _conv = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    before = await scrape()
    waiting = asyncio.ensure_future(vpost(http, "poll", {"token": token, "cursor": cursor}))
    await poll_waiting()
    during = await scrape()
    assert value(during, "switchboard_waiting_longpolls", kind="visitor") == value(
        before, "switchboard_waiting_longpolls", kind="visitor") + 1
    status, _ = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": _conv, "client_id": "lp-2", "body": "again"}]})
    assert status == 200
    status, answer = await waiting
    assert status == 200 and answer["frames"]
    after = await scrape()
    assert value(after, "switchboard_waiting_longpolls", kind="visitor") == value(
        before, "switchboard_waiting_longpolls", kind="visitor")
    assert value(after, "switchboard_frames_received_total", transport="longpoll") == value(
        before, "switchboard_frames_received_total", transport="longpoll") + 1
    assert value(after, "switchboard_frames_sent_total", transport="longpoll") >= value(
        before, "switchboard_frames_sent_total", transport="longpoll") + 2  # the ack and the woken poll's message


def test_a_failed_publish_is_counted(settings):
    settings.REALTIME_BUS_URLS = [f"redis://127.0.0.1:{dead_port()}/0"]
    before = sample("switchboard_bus_publish_failures_total")
    fanout.publish("t0.cv.1", {"type": "conversation.seq", "seq": 1})  # from sync code: one PUBLISH, refused
    assert sample("switchboard_bus_publish_failures_total") == before + 1


# --- delivery series (state read at scrape time, and counters) ---------------------------------------
def test_outbox_backlog_age_and_dead_letters_move(world, settings):
    from tests.outbox.conftest import emit

    before = scrape_sync()
    from support.events import handlers

    name = f"test.metrics-dead-{uuid.uuid4().hex[:6]}"

    def broken(event):
        raise RuntimeError("always")

    handlers.outbox_handler(name, events=["t.metrics"], max_attempts=1)(broken)
    try:
        emit(world.tenant, "t.metrics")
        queued = scrape_sync()
        assert value(queued, "switchboard_outbox_backlog") == value(before, "switchboard_outbox_backlog") + 1
        assert value(queued, "switchboard_outbox_oldest_undispatched_seconds") > 0
        drain()
        dead = scrape_sync()
    finally:
        handlers.REGISTRY.pop(name, None)
    assert value(dead, "switchboard_outbox_backlog") == value(before, "switchboard_outbox_backlog")
    assert value(dead, "switchboard_outbox_dead_letters") == value(before, "switchboard_outbox_dead_letters") + 1
    assert value(dead, "switchboard_outbox_dead_lettered_total", handler=name) == 1
    assert value(dead, "switchboard_metrics_source_up", source="database") == 1


def test_webhook_failures_are_counted_and_failing_tenants_shown(world, outsider, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    before = scrape_sync()
    webhook_services.create_endpoint(tenant=world.tenant, url=f"http://127.0.0.1:{dead_port()}/hooks",
                                     event_types=["message.created"])
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type="contact", body="anyone?")
    drain()
    assert webhook_engine.deliver_due(now=timezone.now()) == 1
    after = scrape_sync()
    assert value(after, "switchboard_webhook_attempts_total", result="error") == value(
        before, "switchboard_webhook_attempts_total", result="error") + 1
    assert value(after, "switchboard_webhook_failing_endpoints") == value(
        before, "switchboard_webhook_failing_endpoints") + 1
    assert value(after, "switchboard_webhook_failing_tenants") == value(
        before, "switchboard_webhook_failing_tenants") + 1


def test_celery_queue_depth_counts_waiting_task_messages(settings):
    from config.celery import app

    settings.CELERY_TASK_DEFAULT_QUEUE = queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    assert value(scrape_sync(), "switchboard_celery_queue_depth", queue=queue) == 0
    app.send_task("events.sweep_outbox", queue=queue)
    app.send_task("events.sweep_outbox", queue=queue)
    try:
        assert value(scrape_sync(), "switchboard_celery_queue_depth", queue=queue) == 2
    finally:
        with app.connection_for_write() as conn:
            conn.default_channel.queue_purge(queue)
    assert value(scrape_sync(), "switchboard_metrics_source_up", source="broker") == 1


@pytest.mark.postgres
def test_database_pool_usage_moves_with_connections_in_use(require_postgres):
    from django.db import connection
    from psycopg_pool import ConnectionPool

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    # A fixed size: a pool below its maximum may be opening a connection, which counts as not idle.
    pool = ConnectionPool(kwargs=params, min_size=2, max_size=2, open=True)
    pool.wait()
    try:
        with pool.connection():
            db_pool.sample_pool(pool)
            busy = scrape_sync()
        db_pool.sample_pool(pool)
        idle = scrape_sync()
    finally:
        pool.close()
    assert value(busy, "switchboard_db_pool_connections", state="in_use") == 1
    assert value(idle, "switchboard_db_pool_connections", state="in_use") == 0
    assert value(idle, "switchboard_db_pool_connections", state="idle") == 2
    assert value(idle, "switchboard_db_pool_connections", state="max") == 2


# --- multiprocess mode ---------------------------------------------------------------------------------
CHILD = """
import sys
from push import metrics
metrics.frames_received("ws", 3)
metrics.socket_opened("visitor")
print("ready", flush=True)
sys.stdin.readline()
"""


def test_multiprocess_mode_sums_processes_and_forgets_dead_ones(tmp_path, settings):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, cwd=ROOT)
        for _ in range(2)
    ]
    try:
        for child in children:
            assert child.stdout.readline().strip() == "ready"
        settings.PROMETHEUS_MULTIPROC_DIR = str(tmp_path)
        both = scrape_sync()
        children[0].communicate("\n", timeout=30)  # one process ends (without telling anyone)
        one = scrape_sync()
    finally:
        exposition._registries.pop(str(tmp_path), None)
        for child in children:
            if child.poll() is None:
                child.communicate("\n", timeout=30)
    assert value(both, "switchboard_frames_received_total", transport="ws") == 6
    assert value(both, "switchboard_open_sockets", kind="visitor") == 2
    assert value(one, "switchboard_frames_received_total", transport="ws") == 6  # counters keep what was counted
    assert value(one, "switchboard_open_sockets", kind="visitor") == 1  # a dead process holds no socket


# --- helpers ----------------------------------------------------------------------------------------------
def scrape_sync() -> dict[tuple[str, frozenset], float]:
    from prometheus_client import generate_latest

    return parse(generate_latest(exposition.registry()).decode())


def sample(name: str, **labels: str) -> float:
    return value(scrape_sync(), name, **labels)


def dead_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_grafana_dashboard_reads_only_series_that_metrics_exposes(world):
    import json
    import re

    from prometheus_client import generate_latest

    from support.events import metrics as outbox_metrics

    outbox_metrics.dead_lettered("test.dashboard")  # a counter labelled by handler shows once one went dead
    exposed = {sample_name for sample_name, _labels in parse(generate_latest(exposition.registry()).decode())}
    dashboard = json.loads((ROOT / "deploy" / "grafana-dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    used = {name for expr in exprs for name in re.findall(r"\bswitchboard_\w+", expr)}
    assert used and used <= exposed, used - exposed
    assert {name.removesuffix("_total") for name in used} >= {
        "switchboard_open_sockets", "switchboard_waiting_longpolls", "switchboard_messages_persisted",
        "switchboard_commit_to_delivery_seconds_bucket", "switchboard_outbox_backlog",
        "switchboard_celery_queue_depth", "switchboard_db_pool_connections",
    }
