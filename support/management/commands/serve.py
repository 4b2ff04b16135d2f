"""Serve HTTP and WebSocket from one ASGI server (uvicorn), printing where everything is.

``--workers N`` runs N such processes on one port (each its own ``SO_REUSEPORT`` listening socket,
so the kernel spreads connections over them) under this one, which forwards SIGTERM/SIGINT and
starts a worker again if one dies. On SIGTERM each process drains (docs/operations.md, "Rolling
deploys"): it stops accepting, uvicorn closes every WebSocket with 1012 ("service restart"),
waiting long-polls answer at once (a hook of config/shutdown_hooks.py: push/draining.py),
in-flight requests finish, then it exits.
"""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config import shutdown_hooks
from config.env import env_int
from config.observability.db_pool import start_pool_sampler

MANAGE_PY = Path(__file__).resolve().parents[3] / "manage.py"

class DrainingServer(uvicorn.Server):
    """uvicorn's server, which also runs the apps' shutdown hooks (config/shutdown_hooks.py) when it shuts
    down: push's wakes this process's waiting long-polls."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        shutdown_hooks.run()
        await super().shutdown(sockets)


class Command(BaseCommand):
    help = "Run the whole product in one process (embedded default) or one ASGI node (production)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=env_int("WEB_CONCURRENCY", 1, minimum=1),
                            help="processes serving this port (default WEB_CONCURRENCY or 1); one per core")
        parser.add_argument("--graceful-timeout", type=int, default=30,
                            help="seconds a stopping process waits for in-flight requests before cancelling them")
        # A worker of `--workers N`: listen on a SO_REUSEPORT socket of its own (set by the parent).
        parser.add_argument("--reuse-port", action="store_true", help="(internal) run as one of --workers")

    def handle(self, *args: Any, host: str, port: int, workers: int, graceful_timeout: int, reuse_port: bool,
               **options: Any) -> None:
        if workers < 1:
            raise CommandError("--workers must be 1 or more")
        if workers > 1 and (settings.CELERY_EMBEDDED_WORKER or not settings.REDIS_URL):
            # In-memory channel layer and embedded Celery live in one process: a second one would
            # neither see the first one's wake-ups nor share its queue.
            raise CommandError("--workers above 1 needs the production stack (REDIS_URL, CELERY_EMBEDDED_WORKER=0)")
        if not reuse_port:
            self.banner(host=host, port=port, workers=workers)
        if workers > 1:
            raise SystemExit(supervise(host=host, port=port, workers=workers, graceful_timeout=graceful_timeout))
        if settings.CELERY_EMBEDDED_WORKER:
            from config.embedded_worker import start_embedded_worker

            start_embedded_worker()
        config = uvicorn.Config(
            "config.asgi:application", host=host, port=port, log_level="info", lifespan="off",
            # uvicorn's loggers go through Django's LOGGING (plain or JSON); the access log is
            # config/observability/logs.py's, which leaves query strings (tokens) out.
            log_config=None, access_log=False,
            timeout_graceful_shutdown=graceful_timeout,
            **websocket_options(),
        )
        start_pool_sampler()  # this process's database pool, for /metrics
        server = DrainingServer(config)
        server.run(sockets=[reuse_port_socket(host=host, port=port)] if reuse_port else None)

    def banner(self, *, host: str, port: int, workers: int) -> None:
        base = f"http://{host}:{port}"
        mode = "embedded default (SQLite, in-memory channel layer, in-process Celery worker)" if settings.EMBEDDED \
            else "production settings"
        self.stdout.write(
            f"\nSwitchboard — {mode}" + (f", {workers} worker processes" if workers > 1 else "") + "\n"
            f"  Agent dashboard   {base}/app/\n"
            f"  Admin             {base}/admin/\n"
            f"  Demo host page    {base}/demo/   (embeds the visitor widget)\n"
            f"  API docs          {base}/api/docs/\n"
            f"  Sign up           {base}/accounts/signup/\n"
        )
        if settings.EMBEDDED:
            self.stdout.write(
                "  Demo logins       owner@demo.example / agent1@demo.example / agent2@demo.example,"
                " password 'switchboard-demo'\n"
                "                    staff@demo.example (platform staff), same password\n"
            )
        self.stdout.flush()


def reuse_port_socket(*, host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def supervise(*, host: str, port: int, workers: int, graceful_timeout: int) -> int:
    """Run ``workers`` serving processes until SIGTERM/SIGINT, which each of them gets to drain."""
    # Fail here, not in N children, when the port is taken by something else.
    reuse_port_socket(host=host, port=port).close()
    command = [sys.executable, str(MANAGE_PY), "serve", "--host", host, "--port", str(port), "--workers", "1",
               "--graceful-timeout", str(graceful_timeout), "--reuse-port"]
    stopping: list[int] = []

    def stop(signum: int, frame: Any) -> None:
        # Workers get SIGTERM either way: a second SIGINT (a terminal's Ctrl-C reaches them too)
        # would make uvicorn quit without draining.
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [subprocess.Popen(command) for _ in range(workers)]  # noqa: S603 - our own argv
    forwarded = False
    while True:
        if stopping and not forwarded:
            forwarded = True
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
        if forwarded and all(child.poll() is not None for child in children):
            return 0
        for n, child in enumerate(children):
            if not forwarded and child.poll() is not None:
                sys.stderr.write(f"serve: worker {child.pid} exited with {child.returncode}; starting another\n")
                time.sleep(1)
                children[n] = subprocess.Popen(command)  # noqa: S603 - our own argv
        time.sleep(0.2)


def websocket_options() -> dict[str, Any]:
    """How uvicorn serves WebSockets here (also used by the tests that run a real server)."""
    return {
        # Per-message deflate keeps a compressor and a decompressor per socket: ~80 KB instead of
        # ~20 KB per idle socket when it was measured (docs/performance.md, "Tried and not
        # taken"), for ~100-byte frames that barely compress.
        "ws_per_message_deflate": False,
        # uvicorn's own WebSocket protocol, keeping less per open socket (push/uvicorn_ws.py).
        "ws": "push.uvicorn_ws:SlimWebSocketProtocol",
        # The largest frame uvicorn will buffer at all (its default is 16 MiB). Frames above
        # RT_FRAME_MAX_BYTES but below this get a `too_large` error frame and the socket goes on;
        # above it the socket is closed with 1009 (docs/protocol.md).
        "ws_max_size": settings.RT_WS_MAX_BYTES,
        # The client address (rate limits, sign-in throttling) comes from X-Forwarded-For only when
        # the peer is a trusted proxy (settings.FORWARDED_ALLOW_IPS, docs/operations.md): applied by
        # config.asgi itself (config/forwarded.py), not by uvicorn's middleware, whose frame would
        # stay alive around every open socket.
        "proxy_headers": False,
    }
