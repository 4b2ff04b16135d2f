"""The cluster under faults (deploy/local-cluster: nginx, 3 web nodes, 2 Celery workers, beat, on real
PostgreSQL and Redis). Visitors and agents talk through nginx over WebSocket and long-poll while
(a) a node is SIGKILLed, (b) every node is restarted one at a time (a rolling deploy: each drains,
closing its sockets with 1012) and (c) a Celery worker is SIGKILLed in the middle of an outbox
batch. Then: every send acknowledged and stored once, every client holds every message of its
conversations with none delivered twice, and every outbox delivery is done, each stored message's
effect applied exactly once (tests/outbox/fault_handlers.py) and each conversation metered once."""
from __future__ import annotations

import asyncio
import os
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import websockets

from bench.realtime.client import LongPollClient, SocketClient, bootstrap
from bench.realtime.harness import UNTHROTTLED
from deploy.local_cluster import alive
from tests.multiprocess.conftest import processes, script
from tests.multiprocess.conversation_watch import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.nginx, pytest.mark.timeout(600)]

ORIGIN = "http://127.0.0.1:8000"  # allowed by seed_demo's tenant
WS_VISITORS = LP_VISITORS = 3
VISITOR_PAUSE = 0.3  # seconds between a visitor's acknowledged send and its next
AGENT_PAUSE = 0.4
LEASE_SECONDS = 5  # OUTBOX_LEASE_SECONDS: how soon the killed worker's batch is taken over


@pytest.fixture
def cluster_env(tmp_path) -> dict[str, str]:
    return {
        **UNTHROTTLED,  # every client comes from 127.0.0.1: the per-IP limits are tested elsewhere
        "OUTBOX_EXTRA_HANDLER_MODULES": "tests.outbox.fault_handlers",
        "OUTBOX_FAULT_HOLD_FILE": str(tmp_path / "hold"),
        "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
        "OUTBOX_RETRY_BASE_SECONDS": "1",
    }


@dataclass
class Stream:
    """What one client holds of each conversation, as a client keeps it: seqs from `message`
    frames and acks; a `message` frame for a seq it already had as a `message` is a duplicate."""

    seqs: dict[str, dict[int, str]] = field(default_factory=dict)  # conversation -> seq -> message id
    framed: dict[str, set[int]] = field(default_factory=dict)
    duplicates: list[tuple[str, int]] = field(default_factory=list)

    def follow(self, conv: str) -> None:
        self.seqs.setdefault(conv, {})
        self.framed.setdefault(conv, set())

    def message(self, message: dict) -> None:
        conv, seq = message["conversation"], message["seq"]
        self.follow(conv)
        if seq in self.framed[conv]:
            self.duplicates.append((conv, seq))
        self.framed[conv].add(seq)
        self.seqs[conv][seq] = message["id"]

    def acked(self, message: dict) -> None:
        self.follow(message["conversation"])
        self.seqs[message["conversation"]].setdefault(message["seq"], message["id"])

    def resume(self) -> dict[str, int]:
        """The last seq held per conversation (protocol.md: keep the last seq, resume after it)."""
        return {conv: max(seqs, default=0) for conv, seqs in self.seqs.items()}


class Client(ABC):
    """One visitor or agent on one transport, through nginx; sends until acknowledged (the same
    client_id on every retry) and counts what it survived."""

    def __init__(self, name: str, base: str) -> None:
        self.name = name
        self.base = base
        self.stream = Stream()
        self.sent: list[str] = []  # client_ids, each acknowledged before the next is sent
        self.drops: list[int | None] = []  # close codes of sockets that ended under it
        self.retries: list[int | str] = []  # long-poll: statuses / errors retried

    @abstractmethod
    async def say(self, conv: str, client_id: str) -> dict:
        """Send one message (retrying with the same ``client_id``) and return its ack's message."""

    @abstractmethod
    async def close(self) -> None:
        """End the connection."""


class SocketTalker(Client):
    def __init__(self, name: str, base: str, *, path: str, origin: str, hello: Callable[[Stream], dict],
                 cookie: str | None = None) -> None:
        super().__init__(name, base)
        self.url = base.replace("http://", "ws://") + path
        self.origin, self.cookie, self.hello = origin, cookie, hello
        self.sock: SocketClient | None = None
        self.upstream = ""  # the node that holds the socket (nginx's X-Switchboard-Upstream)
        self.acks: dict[str, asyncio.Future[dict]] = {}

    def on_frame(self, frame: dict) -> None:
        if frame["type"] == "message":
            self.stream.message(frame["message"])
        elif frame["type"] == "ack":
            self.stream.acked(frame["message"])
            waiter = self.acks.get(frame["client_id"])
            if waiter is not None and not waiter.done():
                waiter.set_result(frame["message"])
        elif frame["type"] == "error" and frame.get("client_id"):
            waiter = self.acks.get(frame["client_id"])
            if waiter is not None and not waiter.done():  # unavailable / rate_limited: send again
                waiter.set_exception(ConnectionError(frame["code"]))

    async def connect(self) -> None:
        if self.sock is not None:
            self.drops.append(self.sock.close_code)
        self.sock, _ = await SocketClient.open(self.url, origin=self.origin, cookie=self.cookie,
                                               hello=self.hello(self.stream), on_frame=self.on_frame)
        response = self.sock.ws.response
        self.upstream = response.headers.get("X-Switchboard-Upstream", "") if response else ""

    async def say(self, conv: str, client_id: str) -> dict:
        self.sent.append(client_id)
        while True:
            if self.sock is None or self.sock.closed.is_set():
                await self.connect()
            assert self.sock is not None
            waiter = self.acks[client_id] = asyncio.get_running_loop().create_future()
            closed = asyncio.ensure_future(self.sock.closed.wait())
            try:
                await self.sock.send({"type": "send", "client_id": client_id, "conversation": conv,
                                      "body": f"{self.name} {client_id}"})
                await asyncio.wait({waiter, closed}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
            except websockets.ConnectionClosed:
                pass
            finally:
                closed.cancel()
            if waiter.done() and not waiter.exception():
                return waiter.result()
            if waiter.done():  # refused for now: the same client_id again after a pause
                await asyncio.sleep(0.5)
            elif not self.sock.closed.is_set():  # no answer in 30 s: a hung socket, start again
                await self.sock.close()
                await self.sock.closed.wait()

    async def close(self) -> None:
        if self.sock is not None:
            await self.sock.close()


class PollTalker(Client):
    def __init__(self, name: str, base: str, *, who: str, origin: str, hello: Callable[[Stream], dict],
                 token: str | None = None, cookie: str | None = None) -> None:
        super().__init__(name, base)
        self.hello = hello
        csrf = secrets.token_hex(16)  # agents: Django accepts an unmasked secret in cookie and header
        self.lp = LongPollClient(base=base, who=who, origin=origin, token=token, attempts=12,
                                 cookie=f"{cookie}; csrftoken={csrf}" if cookie else None)
        if cookie:
            self.lp.http.headers["X-CSRFToken"] = csrf
        self.stopping = asyncio.Event()
        self.poller: asyncio.Task | None = None

    def start(self) -> None:
        self.poller = asyncio.create_task(self._poll_forever())

    async def _poll_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                frames = await self.lp.poll(hello=self.hello(self.stream) if self.lp.cursor is None else None)
            except (ConnectionError, httpx.HTTPError):
                await asyncio.sleep(0.5)
                continue
            for frame in frames:
                if frame["type"] == "message":
                    self.stream.message(frame["message"])

    async def say(self, conv: str, client_id: str) -> dict:
        self.sent.append(client_id)
        frame = {"type": "send", "client_id": client_id, "conversation": conv, "body": f"{self.name} {client_id}"}
        while True:
            try:
                answers = await self.lp.send([frame])
            except (ConnectionError, httpx.HTTPError):
                await asyncio.sleep(0.5)
                continue
            ack = next((a for a in answers if a["type"] == "ack"), None)
            if ack is not None:
                self.stream.acked(ack["message"])
                return dict(ack["message"])
            await asyncio.sleep(0.5)  # an `error` (unavailable): the same client_id again

    async def close(self) -> None:
        self.stopping.set()
        if self.poller is not None:
            self.poller.cancel()
        await self.lp.close()

    @property
    def retried(self) -> list[int | str]:
        return self.lp.retried


def query(cluster: dict, sql: str, params: list | None = None) -> list[tuple]:
    with psycopg.connect(cluster["database_url"]) as conn:
        return conn.execute(sql, params or []).fetchall()


async def test_visitors_and_agents_lose_and_repeat_nothing_through_a_node_crash_a_rolling_deploy_and_a_killed_worker(
        cluster, cluster_env):
    url = cluster["url"]
    cookies = [f"{cluster['session_cookie']}={session}" for session in cluster["agent_sessions"][:2]]

    # Visitors, half on sockets, half long-polling; each starts a conversation.
    visitors: list[Client] = []
    convs: dict[Client, str] = {}
    for i in range(WS_VISITORS + LP_VISITORS):
        token = (await bootstrap(base=url, widget_key=cluster["widget_key"], origin=ORIGIN))["visitor_token"]

        def hello(stream: Stream, token: str = token) -> dict:
            return {"type": "hello", "token": token, "resume": stream.resume()}

        visitor: Client = SocketTalker(f"ws-visitor{i}", url, path="/ws/visitor/", origin=ORIGIN, hello=hello) \
            if i < WS_VISITORS else PollTalker(f"lp-visitor{i}", url, who="visitor", origin=ORIGIN, token=token,
                                              hello=hello)
        convs[visitor] = (await visitor.say(None, f"{visitor.name}-0"))["conversation"]  # type: ignore[arg-type]
        if isinstance(visitor, PollTalker):
            visitor.start()
        visitors.append(visitor)
    every_conv = list(convs.values())

    # Two agents following every conversation: one on a socket, one long-polling.
    def agent_hello(stream: Stream) -> dict:
        return {"type": "hello", "resume": stream.resume(), "inbox_since": None}

    ws_agent = SocketTalker("ws-agent", url, path="/ws/agent/", origin=url, cookie=cookies[0], hello=agent_hello)
    lp_agent = PollTalker("lp-agent", url, who="agent", origin=url, cookie=cookies[1], hello=agent_hello)
    agents: list[Client] = [ws_agent, lp_agent]
    for agent in agents:
        for conv in every_conv:
            agent.stream.follow(conv)
    await ws_agent.connect()
    lp_agent.start()
    clients = visitors + agents

    stop = asyncio.Event()

    async def visitor_talks(visitor: Client) -> None:
        n = 1
        while not stop.is_set():
            await visitor.say(convs[visitor], f"{visitor.name}-{n}")
            n += 1
            await asyncio.sleep(VISITOR_PAUSE)

    async def agent_talks(agent: Client) -> None:
        n = 0
        while not stop.is_set():
            await agent.say(every_conv[n % len(every_conv)], f"{agent.name}-{n}")
            n += 1
            await asyncio.sleep(AGENT_PAUSE)

    talking = [asyncio.create_task(visitor_talks(v)) for v in visitors] + \
        [asyncio.create_task(agent_talks(a)) for a in agents]
    sockets = [c for c in clients if isinstance(c, SocketTalker)]
    try:
        clock = asyncio.get_running_loop().time
        phases = {"start": clock()}
        await asyncio.sleep(3)

        # (a) A node crashes: the one holding most sockets. Its sockets drop without a close frame;
        # its waiting polls and in-flight requests fail at nginx (502) and are retried elsewhere.
        by_node: dict[str, int] = {}
        for sock in sockets:
            by_node[sock.upstream] = by_node.get(sock.upstream, 0) + 1
        victim_port = max(by_node, key=lambda k: by_node[k]).rsplit(":", 1)[1]
        victim = f"web{cluster['nodes'].index(int(victim_port)) + 1}"
        on_victim = [s for s in sockets if s.upstream.endswith(f":{victim_port}")]
        killed = await asyncio.to_thread(script, cluster, "kill", victim)
        assert killed.returncode == 0, killed.stderr[-3000:]
        await wait_until(lambda: all(s.drops for s in on_victim), timeout=60, every=0.1,
                         what="sockets of the crashed node back")
        assert on_victim and all(s.drops[0] not in (1000, 1012) for s in on_victim), [s.drops for s in on_victim]
        await asyncio.sleep(2)
        restarted = await asyncio.to_thread(script, cluster, "restart", victim)
        assert restarted.returncode == 0, restarted.stderr[-3000:]

        phases["crash"] = clock()
        # (b) A rolling deploy: every node in turn drains (stops accepting, closes its sockets with
        # 1012, answers its waiting polls) and exits, and is started again.
        drops_before = {s.name: len(s.drops) for s in sockets}
        rolled = await asyncio.to_thread(script, cluster, "rolling-restart")
        assert rolled.returncode == 0, rolled.stderr[-3000:]
        # Every node restarted, so every socket was told to go elsewhere (at least once).
        await wait_until(lambda: all(1012 in s.drops[drops_before[s.name]:] for s in sockets), timeout=60,
                         every=0.1, what="every socket closed with 1012 and reconnected")

        phases["rolling"] = clock()
        # (c) A Celery worker is SIGKILLed in the middle of an outbox batch: the hold file makes the
        # first handler run to reach it hang, so its worker is caught holding claimed deliveries.
        hold = Path(cluster_env["OUTBOX_FAULT_HOLD_FILE"])
        hold.touch()
        held = Path(f"{hold}.held")
        await wait_until(lambda: held.exists() and held.read_text().isdigit(), timeout=60,
                         every=0.1, what="a worker holding a batch")
        hold.unlink()
        held_pid = int(held.read_text())
        worker = next(name for name, info in processes(cluster).items()
                      if name.startswith("worker") and os.getpgid(held_pid) == info["pid"])
        in_flight = query(cluster, "SELECT count(*) FROM push_outboxdelivery WHERE status = 'running'")[0][0]
        killed = await asyncio.to_thread(script, cluster, "kill", worker)
        assert killed.returncode == 0 and not alive(held_pid), killed.stderr[-3000:]
        assert in_flight >= 1
        restarted = await asyncio.to_thread(script, cluster, "restart", worker)
        assert restarted.returncode == 0, restarted.stderr[-3000:]
        await asyncio.sleep(2)
        phases["worker"] = clock()
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*talking), 120)

    # Zero lost, zero duplicated: the database holds each send once ...
    rows = query(cluster, """SELECT c.public_id, c.last_seq, m.seq, m.client_id, m.kind FROM support_message m
                             JOIN support_conversation c ON c.id = m.conversation_id
                             WHERE c.public_id = ANY(%s)""", [every_conv])
    stored_ids = [r[3] for r in rows if r[3]]
    sent_ids = [cid for c in clients for cid in c.sent]
    assert sorted(stored_ids) == sorted(set(sent_ids)) and len(set(sent_ids)) == len(sent_ids)
    last_seq = {r[0]: r[1] for r in rows}
    seqs_of = {conv: sorted(r[2] for r in rows if r[0] == conv) for conv in every_conv}
    assert all(seqs_of[conv] == list(range(1, last_seq[conv] + 1)) for conv in every_conv)
    visible = {conv: {r[2] for r in rows if r[0] == conv and r[4] != "note"} for conv in every_conv}

    # ... and every client receives all of it, none twice (stragglers are still on their way).
    # Visitors see no notes and only some system events: every text message, nothing hidden.
    texts = {conv: {r[2] for r in rows if r[0] == conv and r[4] == "text"} for conv in every_conv}

    def complete() -> bool:
        return all(set(a.stream.seqs[conv]) == set(seqs_of[conv]) for a in agents for conv in every_conv) and all(
            set(v.stream.seqs[convs[v]]) >= texts[convs[v]] for v in visitors)

    await wait_until(complete, timeout=60, every=0.1, what="every client holds every message")
    for client in clients:
        assert client.stream.duplicates == [], (client.name, client.stream.duplicates)
    for visitor in visitors:
        assert set(visitor.stream.seqs[convs[visitor]]) <= visible[convs[visitor]]

    # Every outbox event handled once: every delivery done, one effect per stored message (the
    # held one ran twice: in the killed worker and again after its lease), one usage row per
    # conversation (billing's metering, idempotent by event id).
    await wait_until(lambda: query(cluster, "SELECT count(*) FROM push_outboxdelivery WHERE status <> 'done'")[0][0]
                     == 0, timeout=90, every=0.1, what="every outbox delivery done")
    events = query(cluster, "SELECT public_id FROM push_outboxevent WHERE type = 'message.created'")
    effects = query(cluster, "SELECT event_id, count(*) FROM outbox_fault_effects GROUP BY event_id")
    assert sorted(e for e, _ in effects) == sorted(e for (e,) in events) and all(n == 1 for _, n in effects)
    held_runs = query(cluster, """SELECT count(*), count(DISTINCT pid) FROM outbox_fault_runs
                                  WHERE event_id = (SELECT event_id FROM outbox_fault_runs WHERE pid = %s
                                                    ORDER BY id DESC LIMIT 1)""", [held_pid])
    assert held_runs == [(2, 2)]
    metered = query(cluster, """SELECT count(*), count(DISTINCT u.event_id) FROM billing_usagerecord u
                                JOIN push_outboxevent e ON e.public_id = u.event_id
                                WHERE e.type = 'conversation.created'""")
    created = query(cluster, "SELECT count(*) FROM push_outboxevent WHERE type = 'conversation.created'")[0][0]
    assert metered == [(created, created)]

    marks = list(phases.items())
    print("cluster faults: seconds per phase", {name: round(at - marks[i - 1][1], 1) for i, (name, at) in
                                                enumerate(marks) if i}, "then checks", round(clock() - marks[-1][1], 1))
    print(f"cluster faults: {len(stored_ids)} messages; socket drops "
          f"{ {s.name: s.drops for s in sockets} }; long-poll retries "
          f"{ {c.name: c.retried for c in clients if isinstance(c, PollTalker)} }")
    for client in clients:
        await client.close()
    assert script(cluster, "status").returncode == 0  # every process up again
