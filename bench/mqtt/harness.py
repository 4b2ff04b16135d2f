"""MQTT bridges as processes next to a ``bench.realtime.harness.Stack`` (same database, Redis, broker)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.realtime.harness import PYTHON, ROOT, Server, Stack


def start_bridge(stack: Stack, *, timeout: float = 60) -> Server:
    """``manage.py mqtt_bridge`` with the stack's environment (MQTT_URL in ``stack.extra_env``);
    returns once it serves. ``Server.kill()`` SIGKILLs it; its ``port`` is its log's number."""
    number = len(list(stack.log_dir.glob("bridge-*.log")))
    log_path = Path(stack.log_dir / f"bridge-{number}.log")
    process = subprocess.Popen([PYTHON, "manage.py", "mqtt_bridge"], cwd=ROOT, env=stack.env(),
                               stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    bridge = Server(number, process, log_path)
    stack.servers.append(bridge)  # stopped with the stack
    deadline = time.monotonic() + timeout
    while "serving" not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            bridge.stop()
            raise RuntimeError(f"mqtt_bridge did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.1)
    return bridge
