"""MQTT benchmark: messages/s and send→ack latency through the broker and mqtt_bridge, side by side
with the WebSocket path, in one run on the same stack (PostgreSQL, Redis, a private Mosquitto, one
ASGI server, one or more bridges). Figures: docs/performance.md, "MQTT".

  .venv/bin/python bench/mqtt/run.py --visitors 20 --window 2 --duration 10

Each visitor has its own conversation and keeps ``--window`` sends unacknowledged (closed loop):
first all over WebSockets to the server, then all over MQTT through the broker and the bridge.
Latency is send → own ``ack`` (the message committed), measured in this process. The last line
printed is ``key=value`` pairs for scripts.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import httpx  # noqa: E402

from bench.mqtt.client import MqttApp  # noqa: E402
from bench.mqtt.harness import start_bridge  # noqa: E402
from bench.percentiles import percentile  # noqa: E402
from bench.realtime.client import SocketClient, bootstrap  # noqa: E402
from bench.realtime.harness import Stack  # noqa: E402
from bench.realtime.run import PAD  # noqa: E402
from tests.own_mosquitto import OwnMosquitto, missing  # noqa: E402


class Driver:
    """One visitor's closed loop: ``window`` sends in flight, each resent on its ack."""

    def __init__(self, name: str, send, window: int) -> None:
        self.name, self.send_frame, self.window = name, send, window
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.conversation: str | None = None
        self.n = 0
        self.stop = False

    def next(self) -> None:
        if self.stop:
            return
        self.n += 1
        client_id = f"{self.name}-{self.n}"
        self.sent[client_id] = time.perf_counter()
        self.send_frame({"type": "send", "client_id": client_id, "conversation": self.conversation, "body": PAD})

    def on_frame(self, frame: dict) -> None:
        if frame.get("type") != "ack":
            return
        at = self.sent.pop(frame["client_id"], None)
        if at is not None and not self.stop:
            self.latencies.append(time.perf_counter() - at)
        self.conversation = frame["message"]["conversation"]
        self.next()


async def visitor_token(stack: Stack, base: str) -> str:
    boot = await bootstrap(base=base, widget_key=stack.seed["widget_key"], origin=stack.origin)
    return boot["visitor_token"]


async def ws_phase(stack: Stack, base: str, ws: str, args: argparse.Namespace) -> dict[str, float]:
    drivers, sockets = [], []
    for i in range(args.visitors):
        token = await visitor_token(stack, base)
        driver = Driver(f"w{i}", None, args.window)
        sock = await SocketClient.connect(f"{ws}/ws/visitor/", origin=stack.origin, on_frame=driver.on_frame)
        driver.send_frame = lambda frame, sock=sock: asyncio.ensure_future(sock.send(frame))
        await sock.send({"type": "hello", "token": token})
        await sock.expect("welcome", timeout=60)
        drivers.append(driver)
        sockets.append(sock)
    figures = await measure(drivers, args)
    for sock in sockets:
        await sock.close()
    return figures


async def mqtt_phase(stack: Stack, base: str, args: argparse.Namespace) -> dict[str, float]:
    drivers, apps = [], []
    async with httpx.AsyncClient(timeout=30) as http:
        for i in range(args.visitors):
            token = await visitor_token(stack, base)
            answer = await http.post(f"{base}/rt/mqtt/visitor/credentials", json={"token": token})
            answer.raise_for_status()
            app = MqttApp(answer.json()["mqtt"])
            await app.start()
            app.send({"type": "hello"})
            await app.recv_type("welcome", timeout=60)
            driver = Driver(f"m{i}", app.send, args.window)
            app.on_frame = driver.on_frame
            drivers.append(driver)
            apps.append(app)
    figures = await measure(drivers, args)
    for app in apps:
        app.close()
    return figures


async def measure(drivers: list[Driver], args: argparse.Namespace) -> dict[str, float]:
    for driver in drivers:  # warm-up: one round trip each (conversation created)
        driver.window = 1
        driver.next()
    while any(d.conversation is None for d in drivers):
        await asyncio.sleep(0.05)
    for driver in drivers:
        driver.latencies.clear()
        for _ in range(args.window - 1):
            driver.next()
    started = time.perf_counter()
    await asyncio.sleep(args.duration)
    elapsed = time.perf_counter() - started
    for driver in drivers:
        driver.stop = True
    latencies = [lat for d in drivers for lat in d.latencies]
    await asyncio.sleep(2)  # let what is in flight finish before the next phase
    return {
        "messages": len(latencies), "msgs_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000,
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="sb-mqtt-bench-"))
    broker = OwnMosquitto(workdir)
    broker.start()
    try:
        with Stack(database_url=args.database_url, redis_url=args.redis_url, agents=1,
                   extra_env={"MQTT_URL": broker.url}) as stack:
            (node,) = stack.start_servers(1)
            for _ in range(args.bridges):
                await asyncio.to_thread(start_bridge, stack)
            ws = await ws_phase(stack, node.http, node.ws, args)
            mqtt = await mqtt_phase(stack, node.http, args)
    finally:
        broker.stop()
    result: dict[str, object] = {"visitors": args.visitors, "window": args.window, "bridges": args.bridges}
    result.update({f"ws_{k}": round(v, 1) for k, v in ws.items()})
    result.update({f"mqtt_{k}": round(v, 1) for k, v in mqtt.items()})
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--window", type=int, default=2, help="unacknowledged sends per visitor")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending per transport")
    parser.add_argument("--bridges", type=int, default=1, help="mqtt_bridge processes")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    reason = missing()
    if reason:
        raise SystemExit(reason)
    result = asyncio.run(run(args))
    print(" ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
