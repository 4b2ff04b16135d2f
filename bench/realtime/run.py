"""Realtime benchmark: P conversations (a visitor and an agent connection each) against real server
processes on PostgreSQL + Redis, every message persisted. Options and measured figures:
docs/performance.md, "Realtime".

  .venv/bin/python bench/realtime/run.py --conversations 100 --rate 200 --duration 10
  .venv/bin/python bench/realtime/run.py --mode ceiling --conversations 100 --duration 10
  .venv/bin/python bench/realtime/run.py --transport longpoll --conversations 20 --rate 100
  .venv/bin/python bench/realtime/run.py --mode idle --sockets 2000

Latency is visitor send -> agent receive, measured in this process (one clock). The last line
printed is ``key=value`` pairs for scripts.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.realtime.client import LongPollClient, SocketClient, bootstrap, idle_tokens_after_warm_up  # noqa: E402
from bench.realtime.harness import Server, Stack  # noqa: E402

PAD = "x" * 60  # with the JSON framing, ~100-byte frames like the relay comparison


@dataclass
class Stats:
    sent_at: dict[str, float] = field(default_factory=dict)  # client_id -> perf_counter at send
    acked: set[str] = field(default_factory=set)
    delivered: dict[str, float] = field(default_factory=dict)  # client_id -> latency (s)
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    last_delivery: float = 0.0
    polls: int = 0  # long-poll: agent polls answered during the measurement
    poll_frames: int = 0  # ... and the frames they carried

    def on_delivery(self, client_id: str) -> None:
        sent = self.sent_at.get(client_id)
        if sent is None:
            return  # the conversation's first message, sent during set-up
        if client_id in self.delivered:
            self.duplicates += 1
            return
        now = time.perf_counter()
        self.delivered[client_id] = now - sent
        self.last_delivery = now


@dataclass
class Pair:
    """One conversation: its visitor transport and its agent transport."""

    conversation: str
    visitor: SocketClient | LongPollClient
    agent: SocketClient | LongPollClient


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def agent_frame_handler(stats: Stats):
    def on_frame(frame: dict) -> None:
        if frame.get("type") == "message" and frame["message"]["author"]["type"] == "contact":
            stats.on_delivery(frame["message"].get("client_id") or "")
    return on_frame


def visitor_frame_handler(stats: Stats):
    def on_frame(frame: dict) -> None:
        if frame.get("type") == "ack":
            stats.acked.add(frame["client_id"])
        elif frame.get("type") == "error":
            stats.errors.append(frame)
    return on_frame


async def open_pair(stack: Stack, servers: list[Server], i: int, args: argparse.Namespace, stats: Stats) -> Pair:
    tenant = stack.seed["tenants"][i % len(stack.seed["tenants"])]
    vnode, anode = servers[i % len(servers)], servers[(i + 1) % len(servers)]
    boot = await bootstrap(base=vnode.http, widget_key=tenant["widget_key"], origin=stack.origin)
    token = boot["visitor_token"]
    cookie = f"{stack.seed['session_cookie']}={tenant['agent_sessions'][0]}"
    first = {"type": "send", "client_id": f"start-{i}", "conversation": None, "body": "hello"}
    if args.transport == "ws":
        visitor = await SocketClient.connect(f"{vnode.ws}/ws/visitor/", origin=stack.origin)
        await visitor.send({"type": "hello", "token": token, "resume": {}})
        await visitor.expect("welcome", timeout=60)
        await visitor.send(first)
        conv = (await visitor.expect("ack", timeout=60))["message"]["conversation"]
        visitor.on_frame = visitor_frame_handler(stats)
        agent = await SocketClient.connect(
            f"{anode.ws}/ws/agent/", origin=anode.http, cookie=cookie, on_frame=agent_frame_handler(stats)
        )
        await agent.send({"type": "hello", "resume": {conv: 0}, "inbox_since": None})
        await agent.expect("welcome", timeout=60)
        return Pair(conv, visitor, agent)
    csrf = secrets.token_hex(16)  # 32 characters: Django accepts an unmasked secret in cookie and header
    visitor_lp = LongPollClient(base=vnode.http, who="visitor", origin=stack.origin, token=token)
    frames = await visitor_lp.send([first])
    conv = next(f for f in frames if f["type"] == "ack")["message"]["conversation"]
    agent_lp = LongPollClient(base=anode.http, who="agent", origin=anode.http, cookie=f"{cookie}; csrftoken={csrf}")
    agent_lp.http.headers["X-CSRFToken"] = csrf
    await agent_lp.poll(hello={"type": "hello", "resume": {conv: 0}, "inbox_since": None})
    return Pair(conv, visitor_lp, agent_lp)


async def poll_forever(client: LongPollClient, stats: Stats, stop: asyncio.Event) -> None:
    handle = agent_frame_handler(stats)
    while not stop.is_set():
        try:
            frames = await client.poll()
            stats.polls += 1
            stats.poll_frames += len(frames)
            for frame in frames:
                handle(frame)
        except Exception as exc:  # a failed poll is retried, as a client would
            stats.errors.append({"type": "poll_failed", "detail": repr(exc)})
            await asyncio.sleep(0.5)


async def send_one(pair: Pair, client_id: str, stats: Stats) -> None:
    frame = {"type": "send", "client_id": client_id, "conversation": pair.conversation, "body": f"{client_id} {PAD}"}
    stats.sent_at[client_id] = time.perf_counter()
    if isinstance(pair.visitor, SocketClient):
        await pair.visitor.send(frame)
    else:
        for answer in await pair.visitor.send([frame]):
            if answer.get("type") == "ack":
                stats.acked.add(answer["client_id"])
            elif answer.get("type") == "error":
                stats.errors.append(answer)


async def drive_rate(pairs: list[Pair], args: argparse.Namespace, stats: Stats) -> float:
    """Open-loop load: message k leaves at start + k/R, whatever the server's pace."""
    total = int(args.rate * args.duration)
    start = time.perf_counter()
    inflight: set[asyncio.Task] = set()
    for k in range(total):
        delay = start + k / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send_one(pairs[k % len(pairs)], f"m{k}", stats))
        inflight.add(task)
        task.add_done_callback(inflight.discard)
    if inflight:
        await asyncio.gather(*inflight, return_exceptions=True)
    return time.perf_counter() - start


async def drive_ceiling(pairs: list[Pair], args: argparse.Namespace, stats: Stats) -> float:
    """Closed loop: each visitor keeps ``--window`` sends unacknowledged, as fast as acks return."""
    deadline = time.perf_counter() + args.duration
    start = time.perf_counter()

    async def one_visitor(i: int, pair: Pair) -> None:
        n = 0
        while time.perf_counter() < deadline:
            ids = [f"c{i}-{n + j}" for j in range(args.window)]
            n += args.window
            for client_id in ids:
                await send_one(pair, client_id, stats)
            while not all(c in stats.acked for c in ids) and time.perf_counter() < deadline + 10:
                await asyncio.sleep(0.001)

    await asyncio.gather(*(one_visitor(i, p) for i, p in enumerate(pairs)))
    return time.perf_counter() - start


async def run_load(stack: Stack, servers: list[Server], args: argparse.Namespace) -> dict[str, object]:
    stats = Stats()
    gate = asyncio.Semaphore(args.setup_concurrency)

    async def opened(i: int) -> Pair:
        async with gate:
            return await open_pair(stack, servers, i, args, stats)

    t0 = time.perf_counter()
    results = await asyncio.gather(*(opened(i) for i in range(args.conversations)), return_exceptions=True)
    pairs = [r for r in results if isinstance(r, Pair)]
    setup_failed = len(results) - len(pairs)
    print(f"set up {len(pairs)} conversations in {time.perf_counter() - t0:.1f}s ({setup_failed} failed)", flush=True)
    if not pairs:
        raise SystemExit(f"no conversation could be set up: {next(r for r in results if not isinstance(r, Pair))!r}")
    stop = asyncio.Event()
    pollers = [
        asyncio.create_task(poll_forever(p.agent, stats, stop)) for p in pairs if isinstance(p.agent, LongPollClient)
    ]
    cpu0 = sum(s.cpu_seconds() for s in servers)
    client_cpu0 = time.process_time()
    stats.polls = stats.poll_frames = 0
    started = time.perf_counter()
    elapsed = await (drive_ceiling if args.mode == "ceiling" else drive_rate)(pairs, args, stats)
    # Give stragglers time to arrive; anything not delivered by then counts as lost.
    deadline = time.perf_counter() + args.drain
    while len(stats.delivered) < len(stats.sent_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = sum(s.cpu_seconds() for s in servers) - cpu0
    # This process drives every connection: if it is near one CPU-second per second, it is the bottleneck.
    client_busy = (time.process_time() - client_cpu0) / max(time.perf_counter() - started, 1e-9)
    polls, poll_frames = stats.polls, stats.poll_frames
    stop.set()
    for task in pollers:
        task.cancel()
    for p in pairs:
        await p.visitor.close()
        await p.agent.close()
    for err in stats.errors[:3]:
        print(f"error: {err}", flush=True)
    latencies_ms = [v * 1000 for v in stats.delivered.values()]
    delivered = len(stats.delivered)
    # Throughput over first send -> last delivery (a backlog that drains late lowers it).
    span = max(stats.last_delivery - started, 1e-9) if delivered else elapsed
    return {
        "mode": args.mode, "transport": args.transport, "conversations": len(pairs), "setup_failed": setup_failed,
        "servers": len(servers), "rate": args.rate if args.mode == "rate" else "max",
        "sent": len(stats.sent_at), "acked": len(stats.acked), "delivered": delivered,
        "lost": len(stats.sent_at) - delivered, "dup": stats.duplicates, "errors": len(stats.errors),
        "msgs_per_s": round(delivered / span, 1),
        "p50_ms": round(percentile(latencies_ms, 50), 2), "p95_ms": round(percentile(latencies_ms, 95), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2), "max_ms": round(max(latencies_ms, default=0), 2),
        "server_cpu_us_per_msg": round(cpu / delivered * 1e6) if delivered else "nan",
        "server_rss_mb": round(sum(s.rss_bytes() for s in servers) / 2**20, 1),
        "client_cpu_share": round(client_busy, 2),
        **({"polls": polls, "frames_per_poll": round(poll_frames / polls, 1) if polls else 0}
           if pollers else {}),
        **({"first_error": stats.errors[0].get("code", stats.errors[0].get("type"))} if stats.errors else {}),
    }


async def run_idle(stack: Stack, servers: list[Server], args: argparse.Namespace) -> dict[str, object]:
    """Open N visitor sockets that only say hello; server memory per socket from RSS growth."""
    server = servers[0]
    tenant = stack.seed["tenants"][0]
    tokens, warm = await idle_tokens_after_warm_up(http=server.http, ws=server.ws, widget_key=tenant["widget_key"],
                                             origin=stack.origin, count=args.sockets)
    rss0 = server.rss_bytes()
    gate = asyncio.Semaphore(args.setup_concurrency)
    sockets: list[SocketClient] = []
    failed = 0

    async def one(i: int) -> None:
        nonlocal failed
        async with gate:
            try:
                sock = await SocketClient.connect(f"{server.ws}/ws/visitor/", origin=stack.origin)
                await sock.send({"type": "hello", "token": tokens[i % len(tokens)], "resume": {}})
                await sock.expect("welcome", timeout=60)
                sockets.append(sock)
            except Exception:
                failed += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(args.sockets)))
    opened_in = time.perf_counter() - t0
    await asyncio.sleep(2)
    rss1 = server.rss_bytes()
    for sock in sockets + [warm]:
        await sock.close()
    n = len(sockets)
    return {
        "mode": "idle", "sockets": n, "failed": failed, "open_s": round(opened_in, 1),
        "server_rss_mb_before": round(rss0 / 2**20, 1), "server_rss_mb": round(rss1 / 2**20, 1),
        "kb_per_socket": round((rss1 - rss0) / max(n, 1) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["rate", "ceiling", "idle"], default="rate")
    parser.add_argument("--transport", choices=["ws", "longpoll"], default="ws")
    parser.add_argument("--conversations", "-P", type=int, default=50)
    parser.add_argument("--rate", "-R", type=float, default=100.0, help="aggregate messages/s (rate mode)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--window", type=int, default=2, help="unacknowledged sends per visitor (ceiling mode)")
    parser.add_argument("--sockets", type=int, default=1000, help="idle sockets to open (idle mode)")
    parser.add_argument("--servers", type=int, default=1, help="ASGI server processes")
    parser.add_argument("--tenants", type=int, default=1, help="conversations are spread over this many tenants")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait for deliveries after sending")
    parser.add_argument("--setup-concurrency", type=int, default=20)
    parser.add_argument("--ws-deflate", choices=["on", "off"], default="off",
                        help="offer WebSocket per-message-deflate (production: off)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL")
                        or "postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    if args.conversations < 1 or args.rate <= 0 or args.duration <= 0 or args.sockets < 1:
        parser.error("--conversations, --rate, --duration and --sockets must be positive")

    async def go() -> dict[str, object]:
        with Stack(database_url=args.database_url, redis_url=args.redis_url, tenants=args.tenants,
                   ws_per_message_deflate=args.ws_deflate == "on") as stack:
            servers = stack.start_servers(args.servers)
            print(f"servers on ports {[s.port for s in servers]}, database {stack.name}", flush=True)
            if args.mode == "idle":
                return await run_idle(stack, servers, args)
            return await asyncio.wait_for(run_load(stack, servers, args), timeout=args.duration * 3 + 600)

    result = asyncio.run(go())
    # The machine is shared (server, PostgreSQL, Redis and this client): say how busy it was.
    result["loadavg_1m"] = round(os.getloadavg()[0], 2)
    print(" ".join(f"{k}={v}" for k, v in result.items()))


if __name__ == "__main__":
    main()
