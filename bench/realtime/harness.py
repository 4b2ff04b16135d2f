"""Start real ASGI server processes on a scratch PostgreSQL database and Redis, on 127.0.0.1 only.

Used by ``bench/realtime/run.py`` and ``tests/multiprocess``. A ``Stack`` creates the database,
builds its schema and seed (``setup_db.py``), starts N uvicorn processes sharing it, and removes
everything on ``close()``.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

# Load runs send far faster than a person types: lift the per-visitor / per-IP / per-socket
# limits (they are tested elsewhere) so they do not shape the measurement.
UNTHROTTLED = {
    "RT_VISITOR_SENDS_PER_MINUTE": "10000000",
    "RT_IP_SENDS_PER_MINUTE": "10000000",
    "RT_IP_BOOTSTRAPS_PER_MINUTE": "10000000",
    "RT_IP_POLLS_PER_MINUTE": "10000000",
    "RT_FRAMES_PER_SECOND": "100000",
    "RT_FRAME_BURST": "100000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local_only(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to use a non-local service: {url}")


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no closing frames — a crashed node."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS for the server process")

    def cpu_seconds(self) -> float:
        cpu = process_cpu_seconds(self.process.pid)
        if cpu is None:
            raise RuntimeError(f"server process {self.process.pid} is gone")
        return cpu


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process so far, or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class DatabaseCpu:
    """The CPU that PostgreSQL's backends serving the scratch database spend in a window: a stored
    message's database share, which the servers' own figure leaves out (the relay has none).
    Backends are the server processes' pool connections, found in ``pg_stat_activity``; one that
    connects during the window counts from its start, one that leaves it loses its last ticks."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.start: dict[int, float] = {}

    def backends(self) -> list[int]:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchall()
        return [pid for (pid,) in rows]

    def begin(self) -> None:
        self.start = {pid: cpu for pid in self.backends() if (cpu := process_cpu_seconds(pid)) is not None}

    def seconds(self) -> float:
        """CPU seconds since ``begin``."""
        total = 0.0
        for pid in set(self.backends()) | set(self.start):
            cpu = process_cpu_seconds(pid)
            if cpu is not None:
                total += cpu - self.start.get(pid, 0.0)
        return total


def uvicorn_command(*, app: str, port: int, ws_protocol: str, ws_per_message_deflate: bool) -> list[str]:
    """How every bench server runs: the product's and the relay's get the same uvicorn options."""
    return [
        PYTHON, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        # As `manage.py serve`: forwarding headers are config.asgi's (config/forwarded.py), not uvicorn's.
        "--no-access-log", "--lifespan", "off", "--no-proxy-headers",
        "--ws-per-message-deflate", "true" if ws_per_message_deflate else "false",
        "--ws", ws_protocol,
    ]


def wait_healthy(base_url: str, process: subprocess.Popen, *, deadline: float,
                 request_timeout: float) -> Literal["healthy", "exited", "late"]:
    """Ask ``base_url``/healthz every 0.2 s until it answers 200 ("healthy"), ``process`` ends
    ("exited") or ``time.monotonic()`` passes ``deadline`` ("late")."""
    import httpx

    while True:
        if process.poll() is not None:
            return "exited"
        try:
            if httpx.get(f"{base_url}/healthz", timeout=request_timeout).status_code == 200:
                return "healthy"
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            return "late"
        time.sleep(0.2)


def start_processes(*, commands: dict[int, list[str]], env: dict[str, str], log_prefix: Path,
                    timeout: float) -> list[Server]:
    """Start one server per port at once, then wait until each answers /healthz (or fail with its log)."""
    started = []
    for port, command in commands.items():
        log_path = Path(f"{log_prefix}-{port}.log")
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
        started.append(Server(port, process, log_path))
    deadline = time.monotonic() + timeout
    for server in started:
        health = wait_healthy(server.http, server.process, deadline=deadline, request_timeout=2)
        if health == "exited":
            raise RuntimeError(f"server on port {server.port} exited:\n{server.log_path.read_text()[-4000:]}")
        if health == "late":
            for other in started:
                other.stop()
            raise RuntimeError(f"server on port {server.port} did not answer within {timeout}s")
    return started


# As `manage.py serve` runs (push/uvicorn_ws.py); "auto" is uvicorn's default.
SERVE_WS_PROTOCOL = "push.uvicorn_ws:SlimWebSocketProtocol"


@dataclass
class Stack:
    database_url: str  # any database on the server; the scratch one is created next to it
    redis_url: str
    agents: int = 1  # per tenant
    tenants: int = 1
    extra_env: dict[str, str] = field(default_factory=dict)
    # As `manage.py serve` runs in production (see WS_PER_MESSAGE_DEFLATE there).
    ws_per_message_deflate: bool = False
    # Run this instead of uvicorn (``{port}`` is replaced), e.g. bench/realtime/memprofile.py's
    # traced server; it must serve config.asgi:application as the default command does.
    server_command: list[str] | None = None
    ws_protocol: str = SERVE_WS_PROTOCOL
    name: str = field(default_factory=lambda: f"sb_rt_{uuid.uuid4().hex[:10]}")
    servers: list[Server] = field(default_factory=list)
    seed: dict = field(default_factory=dict)
    # Server logs; removed with the stack unless BENCH_KEEP_LOGS=1 (then printed paths stay valid).
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sb-rt-logs-")))

    def __post_init__(self) -> None:
        _local_only(self.database_url)
        _local_only(self.redis_url)
        self.origin = "http://127.0.0.1:9"  # the "site" embedding the widget; never contacted

    @property
    def admin_url(self) -> str:
        """The server's maintenance database, to create and drop the scratch one from."""
        return _with_db(self.database_url, "postgres")

    @property
    def scratch_url(self) -> str:
        return _with_db(self.database_url, self.name)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TEST_DATABASE"))}
        env.update(
            DATABASE_URL=self.scratch_url,
            REDIS_URL=self.redis_url,
            REDIS_PREFIX=self.name,
            # Connections come from the per-process pool (DB_POOL_MAX_SIZE), as in production.
            # Production mode (no query log, no debug pages) on plain HTTP: 127.0.0.1 has no TLS.
            SECRET_KEY=f"bench-{self.name}-not-secret-0123456789abcdef0123456789",
            DEBUG="0",
            SECURE_SSL_REDIRECT="0",
            CELERY_EMBEDDED_WORKER="0",
            LOG_LEVEL=os.environ.get("BENCH_SERVER_LOG_LEVEL", "WARNING"),
            PYTHONUNBUFFERED="1",
            **UNTHROTTLED,
        )
        env.update(self.extra_env)
        return env

    def create(self) -> dict:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        out = subprocess.run(
            [PYTHON, str(ROOT / "bench/realtime/setup_db.py"), "--agents", str(self.agents),
             "--tenants", str(self.tenants), "--origin", self.origin],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError(f"setting up the scratch database failed:\n{out.stderr[-4000:]}")
        self.seed = json.loads(out.stdout.strip().splitlines()[-1])
        return self.seed

    def start_server(self, *, port: int | None = None, timeout: float = 90) -> Server:
        return self.start_servers(1, timeout=timeout, ports=[port] if port else None)[0]

    def start_servers(self, count: int, *, timeout: float = 90, ports: list[int] | None = None) -> list[Server]:
        """Launch ``count`` uvicorn processes at once and wait until each answers /healthz."""
        commands = {}
        for port in ports or [free_port() for _ in range(count)]:
            commands[port] = [arg.replace("{port}", str(port)) for arg in self.server_command] if self.server_command \
                else uvicorn_command(app="config.asgi:application", port=port, ws_protocol=self.ws_protocol,
                                     ws_per_message_deflate=self.ws_per_message_deflate)
        started = start_processes(commands=commands, env=self.env(), log_prefix=self.log_dir / self.name,
                                  timeout=timeout)
        self.servers.extend(started)
        return started

    def close(self) -> None:
        for server in self.servers:
            server.stop()
        if os.environ.get("BENCH_KEEP_LOGS") != "1":
            shutil.rmtree(self.log_dir, ignore_errors=True)
        try:
            with psycopg.connect(self.admin_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except psycopg.Error:
            pass
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(match=f"{self.name}*", count=1000))
            if keys:
                client.delete(*keys)
        except Exception:  # noqa: BLE001 - cleanup of a scratch prefix must not hide the result
            pass

    def __enter__(self) -> Stack:
        self.create()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Relay:
    """``bench/realtime/relay.py`` (stores nothing) on uvicorn processes started exactly as a
    ``Stack``'s, on the same Redis; a seed shaped like a ``Stack``'s so the same load client drives it."""

    redis_url: str
    agents: int = 1  # per tenant
    tenants: int = 1
    ws_per_message_deflate: bool = False
    ws_protocol: str = SERVE_WS_PROTOCOL
    name: str = field(default_factory=lambda: f"sb_relay_{uuid.uuid4().hex[:10]}")
    servers: list[Server] = field(default_factory=list)
    seed: dict = field(default_factory=dict)
    log_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sb-relay-logs-")))

    def __post_init__(self) -> None:
        _local_only(self.redis_url)
        self.origin = "http://127.0.0.1:9"
        tenants = [
            {"id": n, "widget_key": f"relay-{n}", "agent_sessions": [f"relay-{n}-{i}" for i in range(self.agents)]}
            for n in range(self.tenants)
        ]
        self.seed = {"origin": self.origin, "session_cookie": "sessionid", "tenants": tenants}

    def start_servers(self, count: int, *, timeout: float = 90) -> list[Server]:
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
        env.update(REDIS_URL=self.redis_url, REDIS_PREFIX=self.name, PYTHONUNBUFFERED="1")
        commands = {
            port: uvicorn_command(app="bench.realtime.relay:application", port=port, ws_protocol=self.ws_protocol,
                                  ws_per_message_deflate=self.ws_per_message_deflate)
            for port in [free_port() for _ in range(count)]
        }
        started = start_processes(commands=commands, env=env, log_prefix=self.log_dir / self.name, timeout=timeout)
        self.servers.extend(started)
        return started

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()
        if os.environ.get("BENCH_KEEP_LOGS") != "1":
            shutil.rmtree(self.log_dir, ignore_errors=True)
