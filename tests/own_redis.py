"""A redis-server of a test's own on a free port of 127.0.0.1, stopped and started again by its PID.

For outage tests: never the shared Redis on 6379, never anything but this process.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from bench.realtime.harness import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class OwnRedis:
    """A redis-server process of this test on 127.0.0.1:``port``, stopped and started by its PID."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        for _ in range(200):
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                assert self.process.poll() is None, (self.workdir / "redis.log").read_text()
                time.sleep(0.05)
        raise AssertionError("redis-server did not answer")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # this PID only
            self.process.wait(timeout=10)
        self.process = None
