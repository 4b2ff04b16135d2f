"""Faults on real services: a Celery worker SIGKILLed mid-handler (Celery on Redis, and on RabbitMQ),
a Redis restart with work pending.

These run real `celery worker` processes against a separate PostgreSQL database (created and
migrated here, named after DATABASE_URL's) and are skipped without DATABASE_URL and REDIS_URL. The
Redis-restart test runs its own redis-server on a free port and restarts only that one.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import service_redis_url, skip_without_service
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(300)]


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def driver(env: dict[str, str], *args: str) -> str:
    return run(env, sys.executable, "-m", "tests.outbox.fault_driver", *args)


@pytest.fixture(scope="module")
def fault_env(request, tmp_path_factory):
    db_url, redis_url = os.environ.get("DATABASE_URL", ""), service_redis_url() or ""
    if not db_url.startswith(("postgres://", "postgresql://")):
        skip_without_service(request.node, service="postgres",
                             reason="fault tests need a real PostgreSQL: set DATABASE_URL=postgres://…")
    if not redis_url:
        skip_without_service(request.node, service="redis",
                             reason="fault tests need a real Redis: set TEST_REDIS_URL (or REDIS_URL)=redis://…")
    if not shutil.which("redis-server"):
        skip_without_service(request.node, service="redis",
                             reason="fault tests need the redis-server binary to run their own Redis")
    import psycopg

    parsed = urlparse(db_url)
    # Named after the run's own database, so runs against different databases never share it.
    fault_db = f"{parsed.path.lstrip('/') or 'switchboard'}_outbox_fault"
    server = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {fault_db} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {fault_db}")
    tmp = tmp_path_factory.mktemp("outbox_fault")
    # Migrations generated from the current models into a temp package: the committed ones may lag.
    package = tmp / "outbox_fault_migrations"
    for app in ("support", "events", "push", "billing", "frontend"):
        (package / app).mkdir(parents=True)
        (package / app / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    env = {
        k: v for k, v in os.environ.items() if k not in {"TEST_DATABASE_NAME", "DJANGO_SETTINGS_MODULE"}
    } | {
        "DATABASE_URL": parsed._replace(path=f"/{fault_db}").geturl(),
        "REDIS_URL": redis_url,  # the worker's broker; CI names it TEST_REDIS_URL only
        "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp}",
        "DJANGO_SETTINGS_MODULE": "tests.outbox.fault_settings",
        "OUTBOX_FAULT_MIGRATIONS": "outbox_fault_migrations",
        "REDIS_PREFIX": f"sb_outbox_fault{os.getpid()}",
        "OUTBOX_EXTRA_HANDLER_MODULES": "tests.outbox.fault_handlers",
        "OUTBOX_LEASE_SECONDS": "4",
        "OUTBOX_SWEEP_SECONDS": "1",
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        "PYTHONUNBUFFERED": "1",
    }
    driver(env, "setup")
    env["TMP"] = str(tmp)
    yield env
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {fault_db} WITH (FORCE)")


def status(env: dict[str, str]) -> dict[str, int]:
    import psycopg

    with psycopg.connect(env["DATABASE_URL"]) as conn:
        counts = dict(conn.execute("SELECT status, count(*) FROM push_outboxdelivery GROUP BY status").fetchall())
        # Events no dispatcher has taken yet have no delivery rows: their handlers wait too.
        (waiting,) = conn.execute(
            "SELECT coalesce(sum(jsonb_array_length(handlers)), 0) FROM push_outboxevent WHERE NOT fanned_out"
        ).fetchone()
        counts["pending"] = counts.get("pending", 0) + waiting
        effects, distinct_effects = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM outbox_fault_effects"
        ).fetchone()
        runs = dict(conn.execute("SELECT event_id, count(*) FROM outbox_fault_runs GROUP BY event_id").fetchall())
    return {**{s: counts.get(s, 0) for s in ("pending", "running", "done", "dead")},
            "effects": effects, "distinct_effects": distinct_effects, "runs": runs}


class Worker:
    """A real `celery worker --pool solo -B` in its own process group (beat is its child)."""

    def __init__(self, env: dict[str, str], name: str):
        tmp = Path(env["TMP"])
        self.log = tmp / f"worker-{name}.log"
        self.proc = subprocess.Popen(
            [CELERY, "-A", "config", "worker", "--pool", "solo", "-B", "-s", str(tmp / f"beat-{name}"),
             "-n", f"{name}@%h", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )
        ready_or_exited = lambda: "ready." in self.log.read_text() or self.proc.poll() is not None  # noqa: E731
        assert wait_for(ready_or_exited, 60, every=0.2), self.tail()
        assert self.proc.poll() is None, self.tail()

    def tail(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture(params=["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def broker_env(request, fault_env):
    """The workers' environment with Celery on Redis (REDIS_URL) or on RabbitMQ (a private vhost)."""
    if request.param == "redis":
        return fault_env
    return fault_env | {"CELERY_BROKER_URL": request.getfixturevalue("rabbitmq_url")}


def test_sigkilled_worker_mid_handler_event_still_handled_and_effect_once(broker_env, tmp_path):
    fault_env = broker_env
    marker = tmp_path / "handler-started"
    before = status(fault_env)
    first = Worker(fault_env, "first")
    second = None
    try:
        scheme = fault_env.get("CELERY_BROKER_URL", fault_env["REDIS_URL"]).split("://")[0]
        assert f"transport:   {scheme}://" in first.tail()  # Celery's banner: the broker it uses
        driver(fault_env, "emit", "1", "--hold", "120", "--marker", str(marker))
        driver(fault_env, "emit", "5")
        assert wait_for(marker.exists, 60, every=0.2), first.tail()
        first.kill()  # SIGKILL in the middle of the handler: no ack, no outcome recorded
        assert status(fault_env)["running"] >= 1

        second = Worker(fault_env, "second")
        assert wait_for(lambda: status(fault_env)["done"] == before["done"] + 6, 60, every=0.2), second.tail()
        after = status(fault_env)
        assert after["effects"] == after["distinct_effects"] == before["effects"] + 6
        new_runs = {k: v for k, v in after["runs"].items() if k not in before["runs"]}
        assert len(new_runs) == 6
        # The killed event ran twice (the second run after the lease expired), the others once.
        assert sorted(new_runs.values()) == [1, 1, 1, 1, 1, 2]
        assert after["pending"] == after["running"] == after["dead"] == 0
    finally:
        first.kill()
        if second:
            second.kill()


def _redis_up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_own_redis(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    assert wait_for(lambda: _redis_up(port), 15, every=0.2), "own redis-server did not start"
    return proc


def test_redis_restart_with_pending_events_loses_none(fault_env):
    port = _free_port()  # its own Redis on a free port: restarted twice, so the same port both times
    # Short dispatch runs in small batches: a running task must not drain the events committed
    # while Redis is down (the database is the queue), or nothing would wait for the broker's return.
    env = fault_env | {"REDIS_URL": f"redis://127.0.0.1:{port}/0",
                       "OUTBOX_TASK_BUDGET_SECONDS": "1", "OUTBOX_BATCH_SIZE": "5"}
    redis = _start_own_redis(port)
    worker = None
    try:
        before = status(env)
        worker = Worker(env, "redis")
        # A backlog (0.1 s of work each), then Redis dies with kicks and sweeps queued in it.
        driver(env, "emit", "20", "--work", "0.1")
        redis.kill()
        redis.wait(timeout=10)
        # Commits go on while the broker is down: their kicks fail, the events are safe in PostgreSQL.
        emitted = json.loads(driver(env, "emit", "10", "--work", "0.1"))
        assert emitted["emitted"] == 10
        assert status(env)["pending"] + status(env)["running"] > 0, "nothing was pending when Redis went down"
        redis = _start_own_redis(port)  # empty: --save '' means every queued task message is gone
        assert wait_for(lambda: status(env)["done"] == before["done"] + 30, 90, every=0.2), worker.tail()
        after = status(env)
        assert after["effects"] == after["distinct_effects"] == before["effects"] + 30
        assert after["pending"] == after["running"] == after["dead"] == 0
    finally:
        if worker:
            worker.kill()
        redis.kill()
        redis.wait(timeout=10)
