"""Realtime benchmark: P conversations (a visitor and an agent connection each) against real server
processes on PostgreSQL + Redis, every message persisted. Options and measured figures:
docs/performance.md, "Realtime".

  .venv/bin/python bench/realtime/run.py --conversations 100 --rate 200 --duration 10
  .venv/bin/python bench/realtime/run.py --mode ceiling --conversations 100 --duration 10
  .venv/bin/python bench/realtime/run.py --transport longpoll --conversations 20 --rate 100
  .venv/bin/python bench/realtime/run.py --mode idle --sockets 2000
  .venv/bin/python bench/realtime/run.py --mode ceiling --conversations 100 --tenants 100 --baseline
  .venv/bin/python bench/realtime/run.py --mode ceiling --conversations 100 --agents-per-tenant 100

Latency is visitor send -> agent receive, measured in this process (one clock). ``--baseline``
then drives a relay that stores nothing (bench/realtime/relay.py) with the same client and shape
and adds its figures (``relay_``) and the ratios. The last line printed is ``key=value`` pairs for
scripts.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.percentiles import percentile  # noqa: E402
from bench.realtime.client import LongPollClient, SocketClient, bootstrap, idle_tokens_after_warm_up  # noqa: E402
from bench.realtime.harness import DatabaseCpu, Relay, Server, Stack  # noqa: E402

PAD = "x" * 60  # with the JSON framing, ~100-byte frames like the relay comparison


@dataclass
class Stats:
    sent_at: dict[str, float] = field(default_factory=dict)  # client_id -> perf_counter at send
    acked: set[str] = field(default_factory=set)
    ack_latency: dict[str, float] = field(default_factory=dict)  # client_id -> send -> ack (s)
    delivered: dict[str, float] = field(default_factory=dict)  # client_id -> latency (s)
    duplicates: int = 0
    errors: list[dict] = field(default_factory=list)
    last_delivery: float = 0.0
    polls: int = 0  # long-poll: agent polls answered during the measurement
    poll_frames: int = 0  # ... and the frames they carried
    inbox_frames: int = 0  # `conversation` and `conversations` frames received by all agents during the measurement
    inbox_rows: int = 0  # ... and the inbox rows they carried

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

    def on_ack(self, client_id: str) -> None:
        self.acked.add(client_id)
        sent = self.sent_at.get(client_id)
        if sent is not None and client_id not in self.ack_latency:
            self.ack_latency[client_id] = time.perf_counter() - sent


@dataclass
class Pair:
    """One conversation: its visitor transport and its agent transport."""

    conversation: str
    visitor: SocketClient | LongPollClient
    agent: SocketClient | LongPollClient


def agent_frame_handler(stats: Stats):
    def on_frame(frame: dict) -> None:
        if frame.get("type") == "message" and frame["message"]["author"]["type"] == "contact":
            stats.on_delivery(frame["message"].get("client_id") or "")
        elif frame.get("type") == "conversation":
            stats.inbox_frames += 1
            stats.inbox_rows += 1
        elif frame.get("type") == "conversations":
            stats.inbox_frames += 1
            stats.inbox_rows += len(frame["conversations"])
    return on_frame


# An inbox frame's text starts so (the server writes `type` first); each row starts with its id.
INBOX_FRAME_START, ROW_START = '{"type":"conversation', '{"id":"cv_'


def inbox_skimmer(stats: Stats):
    """Counts an agent socket's inbox frames and their rows from the raw text, without decoding them:
    in the team shape they are most of what the load client receives."""
    def skim(raw: str) -> bool:
        if not raw.startswith(INBOX_FRAME_START):
            return False
        stats.inbox_frames += 1
        stats.inbox_rows += raw.count(ROW_START)
        return True
    return skim


def agent_hello(args: argparse.Namespace, resume: dict[str, int]) -> dict:
    return {"type": "hello", "resume": resume, "inbox_since": None, "inbox_frame": args.inbox_frame}


def placement(i: int, args: argparse.Namespace) -> tuple[int, int]:
    """Conversation ``i``'s tenant and the agent (index in the tenant) whose socket follows it.

    ``--tenants T``: round-robin over T tenants, all followed by each tenant's one agent.
    ``--agents-per-tenant N``: tenant ``i // N``, its ``i % N``-th agent (each agent follows one).
    """
    if args.agents_per_tenant:
        return i // args.agents_per_tenant, i % args.agents_per_tenant
    return i % args.tenants, 0


def inbox_only_agents(args: argparse.Namespace) -> list[tuple[int, int]]:
    """(tenant, agent) of every agent that follows no conversation but is online on the inbox."""
    if not args.agents_per_tenant:
        return []
    followed = {placement(i, args) for i in range(args.conversations)}
    return [(t, a) for t in range(args.tenants) for a in range(args.agents_per_tenant) if (t, a) not in followed]


def visitor_frame_handler(stats: Stats):
    def on_frame(frame: dict) -> None:
        if frame.get("type") == "ack":
            stats.on_ack(frame["client_id"])
        elif frame.get("type") == "error":
            stats.errors.append(frame)
    return on_frame


async def open_pair(stack: Stack | Relay, servers: list[Server], i: int, args: argparse.Namespace,
                    stats: Stats) -> Pair:
    tenant_index, agent_index = placement(i, args)
    tenant = stack.seed["tenants"][tenant_index]
    vnode, anode = servers[i % len(servers)], servers[(i + 1) % len(servers)]
    boot = await bootstrap(base=vnode.http, widget_key=tenant["widget_key"], origin=stack.origin)
    token = boot["visitor_token"]
    cookie = f"{stack.seed['session_cookie']}={tenant['agent_sessions'][agent_index]}"
    first = {"type": "send", "client_id": f"start-{i}", "conversation": None, "body": "hello"}
    if args.transport == "ws":
        visitor = await SocketClient.connect(f"{vnode.ws}/ws/visitor/", origin=stack.origin)
        await visitor.send({"type": "hello", "token": token, "resume": {}})
        await visitor.expect("welcome", timeout=60)
        await visitor.send(first)
        conv = (await visitor.expect("ack", timeout=60))["message"]["conversation"]
        visitor.on_frame = visitor_frame_handler(stats)
        agent = await SocketClient.connect(
            f"{anode.ws}/ws/agent/", origin=anode.http, cookie=cookie, on_frame=agent_frame_handler(stats),
            skim=inbox_skimmer(stats),
        )
        await agent.send(agent_hello(args, {conv: 0}))
        await agent.expect("welcome", timeout=60)
        return Pair(conv, visitor, agent)
    csrf = secrets.token_hex(16)  # 32 characters: Django accepts an unmasked secret in cookie and header
    visitor_lp = LongPollClient(base=vnode.http, who="visitor", origin=stack.origin, token=token)
    frames = await visitor_lp.send([first])
    conv = next(f for f in frames if f["type"] == "ack")["message"]["conversation"]
    agent_lp = LongPollClient(base=anode.http, who="agent", origin=anode.http, cookie=f"{cookie}; csrftoken={csrf}")
    agent_lp.http.headers["X-CSRFToken"] = csrf
    await agent_lp.poll(hello=agent_hello(args, {conv: 0}))
    return Pair(conv, visitor_lp, agent_lp)


async def open_inbox_agent(stack: Stack | Relay, server: Server, tenant_index: int, agent_index: int,
                           args: argparse.Namespace, stats: Stats) -> SocketClient | LongPollClient:
    """An agent online on its tenant's inbox only (``--agents-per-tenant``): it follows no conversation."""
    cookie = f"{stack.seed['session_cookie']}={stack.seed['tenants'][tenant_index]['agent_sessions'][agent_index]}"
    hello = agent_hello(args, {})
    if args.transport == "ws":
        agent = await SocketClient.connect(
            f"{server.ws}/ws/agent/", origin=server.http, cookie=cookie, on_frame=agent_frame_handler(stats),
            skim=inbox_skimmer(stats),
        )
        await agent.send(hello)
        await agent.expect("welcome", timeout=60)
        return agent
    csrf = secrets.token_hex(16)
    agent_lp = LongPollClient(base=server.http, who="agent", origin=server.http, cookie=f"{cookie}; csrftoken={csrf}")
    agent_lp.http.headers["X-CSRFToken"] = csrf
    await agent_lp.poll(hello=hello)
    return agent_lp


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
                stats.on_ack(answer["client_id"])
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


async def run_load(stack: Stack | Relay, servers: list[Server], args: argparse.Namespace) -> dict[str, object]:
    stats = Stats()
    gate = asyncio.Semaphore(args.setup_concurrency)

    async def opened(i: int) -> Pair:
        async with gate:
            return await open_pair(stack, servers, i, args, stats)

    async def inbox_agent(k: int, tenant: int, agent: int) -> SocketClient | LongPollClient:
        async with gate:
            return await open_inbox_agent(stack, servers[k % len(servers)], tenant, agent, args, stats)

    t0 = time.perf_counter()
    results = await asyncio.gather(*(opened(i) for i in range(args.conversations)), return_exceptions=True)
    pairs = [r for r in results if isinstance(r, Pair)]
    setup_failed = len(results) - len(pairs)
    extra = await asyncio.gather(*(inbox_agent(k, t, a) for k, (t, a) in enumerate(inbox_only_agents(args))),
                                 return_exceptions=True)
    inbox_agents = [r for r in extra if isinstance(r, (SocketClient, LongPollClient))]
    setup_failed += len(extra) - len(inbox_agents)
    print(f"set up {len(pairs)} conversations and {len(inbox_agents)} inbox-only agents in "
          f"{time.perf_counter() - t0:.1f}s ({setup_failed} failed)", flush=True)
    if not pairs:
        raise SystemExit(f"no conversation could be set up: {next(r for r in results if not isinstance(r, Pair))!r}")
    # Long-poll agents poll from now on, as a dashboard does: their first polls (a full read each, the
    # catch-up of the set-up message) belong to set-up, not to the measured window.
    stop = asyncio.Event()
    pollers = [
        asyncio.create_task(poll_forever(agent, stats, stop))
        for agent in [p.agent for p in pairs] + inbox_agents if isinstance(agent, LongPollClient)
    ]
    settled_in = await settle(servers)
    profilers = start_profilers(stack, servers, args)
    database = DatabaseCpu(stack.scratch_url) if isinstance(stack, Stack) else None
    if database:
        database.begin()
    cpu0 = sum(s.cpu_seconds() for s in servers)
    client_cpu0 = time.process_time()
    stats.polls = stats.poll_frames = stats.inbox_frames = stats.inbox_rows = 0
    started = time.perf_counter()
    elapsed = await (drive_ceiling if args.mode == "ceiling" else drive_rate)(pairs, args, stats)
    # Give stragglers time to arrive; anything not delivered by then counts as lost.
    deadline = time.perf_counter() + args.drain
    while len(stats.delivered) < len(stats.sent_at) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    cpu = sum(s.cpu_seconds() for s in servers) - cpu0
    db_cpu = database.seconds() if database else 0.0
    for profiler in profilers:
        profiler.wait()
    # This process drives every connection: if it is near one CPU-second per second, it is the bottleneck.
    client_busy = (time.process_time() - client_cpu0) / max(time.perf_counter() - started, 1e-9)
    polls, poll_frames, inbox_frames, inbox_rows = stats.polls, stats.poll_frames, stats.inbox_frames, stats.inbox_rows
    stop.set()
    for task in pollers:
        task.cancel()
    for p in pairs:
        await p.visitor.close()
        await p.agent.close()
    for agent in inbox_agents:
        await agent.close()
    for err in stats.errors[:3]:
        print(f"error: {err}", flush=True)
    latencies_ms = [v * 1000 for v in stats.delivered.values()]
    ack_ms = [v * 1000 for v in stats.ack_latency.values()]
    delivered = len(stats.delivered)
    # Throughput over first send -> last delivery (a backlog that drains late lowers it).
    span = max(stats.last_delivery - started, 1e-9) if delivered else elapsed
    return {
        "mode": args.mode, "transport": args.transport, "conversations": len(pairs), "setup_failed": setup_failed,
        "tenants": args.tenants, "agents_online": len(pairs) + len(inbox_agents), "settle_s": settled_in,
        "servers": len(servers), "rate": args.rate if args.mode == "rate" else "max",
        "sent": len(stats.sent_at), "acked": len(stats.acked), "delivered": delivered,
        "lost": len(stats.sent_at) - delivered, "dup": stats.duplicates, "errors": len(stats.errors),
        "msgs_per_s": round(delivered / span, 1),
        "p50_ms": round(percentile(latencies_ms, 50), 2), "p95_ms": round(percentile(latencies_ms, 95), 2),
        "p99_ms": round(percentile(latencies_ms, 99), 2), "max_ms": round(max(latencies_ms, default=0), 2),
        "ack_p50_ms": round(percentile(ack_ms, 50), 2), "ack_p99_ms": round(percentile(ack_ms, 99), 2),
        "server_cpu_us_per_msg": round(cpu / delivered * 1e6) if delivered else "nan",
        # PostgreSQL's backends for this run's database (0 for the relay, which stores nothing), and
        # the two together: what a delivered message costs the machine, less Redis and the client.
        "db_cpu_us_per_msg": round(db_cpu / delivered * 1e6) if delivered else "nan",
        "stored_cpu_us_per_msg": round((cpu + db_cpu) / delivered * 1e6) if delivered else "nan",
        "server_rss_mb": round(sum(s.rss_bytes() for s in servers) / 2**20, 1),
        "client_cpu_share": round(client_busy, 2),
        "inbox_frames_per_msg": round(inbox_frames / delivered, 2) if delivered else 0,
        "inbox_rows_per_msg": round(inbox_rows / delivered, 2) if delivered else 0,
        **({"polls": polls, "frames_per_poll": round(poll_frames / polls, 1) if polls else 0}
           if pollers else {}),
        **({"first_error": stats.errors[0].get("code", stats.errors[0].get("type"))} if stats.errors else {}),
    }


async def settle(servers: list[Server], *, quiet: float = 0.1, window: float = 1.0, limit: float = 120.0) -> float:
    """Wait until every server is nearly idle (under ``quiet`` of a core over ``window``), at most ``limit`` s.

    Set-up leaves work behind — with many agents in a tenant each agent coming online wakes every
    other one (presence) — which would otherwise be counted against the first messages.
    """
    start = time.perf_counter()
    while True:
        before = [s.cpu_seconds() for s in servers]
        await asyncio.sleep(window)
        busiest = max(s.cpu_seconds() - b for s, b in zip(servers, before, strict=True)) / window
        waited = time.perf_counter() - start
        if busiest < quiet or waited >= limit:
            if busiest >= quiet:
                print(f"warning: servers still busy ({busiest:.0%} of a core) after {waited:.0f}s", flush=True)
            return round(waited, 1)


def start_profilers(stack: Stack | Relay, servers: list[Server], args: argparse.Namespace) -> list[subprocess.Popen]:
    """``--profile DIR``: py-spy samples each server for the sending window (GIL-holding samples,
    without pausing the process), as collapsed stacks in DIR/<stack>-<port>.txt."""
    if not args.profile:
        return []
    args.profile.mkdir(parents=True, exist_ok=True)
    py_spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen([
            str(py_spy), "record", "--pid", str(server.process.pid), "--rate", "200", "--gil", "--nonblocking",
            "--duration", str(max(1, round(args.duration))), "--format", "raw",
            "--output", str(args.profile / f"{stack.name}-{server.port}.txt"),
        ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for server in servers
    ]


async def run_idle(stack: Stack | Relay, servers: list[Server], args: argparse.Namespace) -> dict[str, object]:
    """Open N visitor sockets that only say hello (``--transport longpoll``: N visitors that only
    poll); server memory per connection from RSS growth, then the server CPU they cost while idle
    over ``--duration`` s (heartbeats; for long-polls each poll's request cycle)."""
    server = servers[0]
    tenant = stack.seed["tenants"][0]
    tokens, warm = await idle_tokens_after_warm_up(http=server.http, ws=server.ws, widget_key=tenant["widget_key"],
                                             origin=stack.origin, count=args.sockets)
    rss0 = server.rss_bytes()
    gate = asyncio.Semaphore(args.setup_concurrency)
    sockets: list[SocketClient] = []
    pollers: list[LongPollClient] = []
    polls = 0
    failed = 0
    stop = asyncio.Event()

    async def keep_polling(client: LongPollClient) -> None:
        nonlocal polls
        while not stop.is_set():
            try:
                await client.poll()
                polls += 1
            except Exception:  # noqa: BLE001 - counted as failed below; a client would retry
                await asyncio.sleep(1)

    async def one(i: int) -> None:
        nonlocal failed
        async with gate:
            try:
                if args.transport == "longpoll":
                    client = LongPollClient(base=server.http, who="visitor", origin=stack.origin,
                                            token=tokens[i % len(tokens)])
                    await client.poll(hello={"type": "hello", "resume": {}})
                    pollers.append(client)
                else:
                    sock = await SocketClient.connect(f"{server.ws}/ws/visitor/", origin=stack.origin)
                    await sock.send({"type": "hello", "token": tokens[i % len(tokens)], "resume": {}})
                    await sock.expect("welcome", timeout=60)
                    sockets.append(sock)
            except Exception:
                failed += 1

    t0, open_cpu0 = time.perf_counter(), sum(s.cpu_seconds() for s in servers)
    await asyncio.gather(*(one(i) for i in range(args.sockets)))
    opened_in, open_cpu = time.perf_counter() - t0, sum(s.cpu_seconds() for s in servers) - open_cpu0
    polling = [asyncio.create_task(keep_polling(c)) for c in pollers]
    await asyncio.sleep(2)
    rss1 = server.rss_bytes()
    # Idle cost: the servers' CPU over the window (heartbeats every PRESENCE_HEARTBEAT_SECONDS,
    # polls every LONGPOLL_TIMEOUT_SECONDS: set them in the environment to shorten a run).
    cpu0, polls0, w0 = sum(s.cpu_seconds() for s in servers), polls, time.perf_counter()
    await asyncio.sleep(args.duration)
    cpu, window, window_polls = sum(s.cpu_seconds() for s in servers) - cpu0, time.perf_counter() - w0, polls - polls0
    stop.set()
    for task in polling:
        task.cancel()
    for sock in sockets + [warm]:
        await sock.close()
    for client in pollers:
        await client.close()
    n = len(sockets) + len(pollers)
    return {
        "mode": "idle", "transport": args.transport, "sockets": n, "failed": failed,
        "open_s": round(opened_in, 1), "cpu_ms_per_open": round(open_cpu / max(n, 1) * 1000, 2),
        "server_rss_mb_before": round(rss0 / 2**20, 1), "server_rss_mb": round(rss1 / 2**20, 1),
        "kb_per_socket": round((rss1 - rss0) / max(n, 1) / 1024, 1),
        "idle_cpu_share": round(cpu / window, 3),
        "idle_cpu_us_per_conn_s": round(cpu / window / max(n, 1) * 1e6, 1),
        **({"polls": window_polls, "cpu_ms_per_poll": round(cpu / window_polls * 1000, 2) if window_polls else 0}
           if pollers else {}),
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
    parser.add_argument("--tenants", type=int, default=None,
                        help="conversations are spread over this many tenants, one agent each (default 1)")
    parser.add_argument("--agents-per-tenant", type=int, default=None,
                        help="team shape: tenants of N agents, all online, each following one conversation")
    parser.add_argument("--inbox-frame", choices=["conversations", "conversation"], default="conversations",
                        help="what the agents ask for in hello: several inbox rows per frame, or one (older clients)")
    parser.add_argument("--baseline", action="store_true",
                        help="then run the relay that stores nothing (bench/realtime/relay.py), same shape")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="py-spy each server during the sending window; collapsed stacks into DIR")
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
    if args.agents_per_tenant is not None:
        if args.tenants is not None:
            parser.error("--agents-per-tenant sets the number of tenants; leave out --tenants")
        if args.agents_per_tenant < 1:
            parser.error("--agents-per-tenant must be positive")
        args.tenants = math.ceil(args.conversations / args.agents_per_tenant)
    elif args.tenants is None:
        args.tenants = 1
    if args.tenants < 1:
        parser.error("--tenants must be positive")
    if args.baseline and args.transport != "ws":
        parser.error("--baseline: the relay speaks WebSocket only")
    raise_open_files_limit(args)
    agents = args.agents_per_tenant or 1
    deflate = args.ws_deflate == "on"

    async def measure(stack: Stack | Relay) -> dict[str, object]:
        servers = stack.start_servers(args.servers)
        print(f"{type(stack).__name__.lower()}: servers on ports {[s.port for s in servers]}, {stack.name}",
              flush=True)
        if args.mode == "idle":
            result = await run_idle(stack, servers, args)
        else:
            result = await asyncio.wait_for(run_load(stack, servers, args), timeout=args.duration * 3 + 600)
        # The machine is shared (server, PostgreSQL, Redis and this client): say how busy it was.
        result["loadavg_1m"] = round(os.getloadavg()[0], 2)
        return result

    async def ours() -> dict[str, object]:
        with Stack(database_url=args.database_url, redis_url=args.redis_url, tenants=args.tenants, agents=agents,
                   ws_per_message_deflate=deflate) as stack:
            return await measure(stack)

    async def relay() -> dict[str, object]:
        with Relay(redis_url=args.redis_url, tenants=args.tenants, agents=agents,
                   ws_per_message_deflate=deflate) as stack:
            return await measure(stack)

    result = asyncio.run(ours())
    if args.baseline:
        print(" ".join(f"{k}={v}" for k, v in result.items()), flush=True)  # in case the relay run fails
        result = with_baseline(result, asyncio.run(relay()))
    print(" ".join(f"{k}={v}" for k, v in result.items()))


def with_baseline(ours: dict[str, object], relay: dict[str, object]) -> dict[str, object]:
    """Our figures, the ratios to the relay's (our msgs/s ÷ its; our CPU per message ÷ its), then its own."""
    def ratio(key: str) -> object:
        a, b = ours.get(key), relay.get(key)
        return round(a / b, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else "nan"

    ratios = {} if ours.get("mode") == "idle" else {
        "ceiling_vs_relay": ratio("msgs_per_s"), "cpu_vs_relay": ratio("server_cpu_us_per_msg"),
        # Servers and database together against the relay (whose database share is 0).
        "stored_cpu_vs_relay": ratio("stored_cpu_us_per_msg"),
    }
    shape = {"mode", "transport", "servers", "rate", "tenants"}
    return {**ours, **ratios, **{f"relay_{k}": v for k, v in relay.items() if k not in shape}}


def raise_open_files_limit(args: argparse.Namespace) -> None:
    """Every socket is a file descriptor here and in the server (which inherits this limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    agents = args.tenants * (args.agents_per_tenant or 1)
    wanted = (args.sockets if args.mode == "idle" else 2 * args.conversations + agents) + 1024
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < wanted:
            print(f"warning: open files limited to {target} (hard limit); {wanted} wanted", flush=True)


if __name__ == "__main__":
    main()
