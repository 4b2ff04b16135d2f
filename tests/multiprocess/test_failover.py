"""Two ASGI server processes on real PostgreSQL and Redis: a visitor on one, an agent on the other,
messages both ways; the visitor's process is SIGKILLed mid-stream, the visitor resumes on the
other one with its last seq and retries its unacknowledged sends: nothing lost, nothing twice."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from bench.realtime.client import SocketClient, bootstrap
from bench.realtime.harness import Stack
from tests.multiprocess.conversation_watch import Seen, WatchingAgent, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(400)]

VISITOR_MESSAGES = 60
AGENT_MESSAGES = 30
KILL_AFTER = 20  # visitor sends before its server is killed


@pytest.fixture
def stack(require_postgres, redis_url):
    with Stack(database_url=os.environ["DATABASE_URL"], redis_url=redis_url, agents=1) as s:
        yield s


class Visitor:
    """A widget: keeps its last seq, retries unacknowledged sends after reconnecting."""

    def __init__(self, token: str, origin: str) -> None:
        self.token = token
        self.origin = origin
        self.conversation: str | None = None
        self.seen = Seen()
        self.pending: dict[str, str] = {}  # client_id -> body, sent but not acknowledged
        self.sock: SocketClient | None = None
        self.connections = 0
        self.retried: list[str] = []

    def on_frame(self, frame: dict) -> None:
        if frame["type"] == "ack":
            self.pending.pop(frame["client_id"], None)
            self.seen.acked(frame["message"])
            self.conversation = frame["message"]["conversation"]
        elif frame["type"] == "message":
            self.seen.message(frame["message"])
            self.pending.pop(frame["message"].get("client_id") or "", None)

    async def connect(self, ws_base: str) -> None:
        self.sock = await SocketClient.connect(f"{ws_base}/ws/visitor/", origin=self.origin, on_frame=self.on_frame)
        resume = {self.conversation: self.seen.last_contiguous} if self.conversation else {}
        await self.sock.send({"type": "hello", "token": self.token, "resume": resume})
        await self.sock.expect("welcome", timeout=60)
        self.connections += 1
        for client_id, body in list(self.pending.items()):
            self.retried.append(client_id)
            await self._send(client_id, body)

    async def _send(self, client_id: str, body: str) -> None:
        assert self.sock is not None
        await self.sock.send({"type": "send", "client_id": client_id, "conversation": self.conversation, "body": body})

    async def say(self, client_id: str, body: str) -> None:
        self.pending[client_id] = body
        await self._send(client_id, body)


async def test_visitor_fails_over_to_another_node_without_loss_or_duplicates(stack):
    node_a, node_b = stack.start_servers(2)
    boot = await bootstrap(base=node_a.http, widget_key=stack.seed["widget_key"], origin=stack.origin)
    visitor = Visitor(boot["visitor_token"], stack.origin)
    await visitor.connect(node_a.ws)

    # The first message starts the conversation; wait for it so later sends can name it.
    await visitor.say("v-0", "hello from node A")
    await wait_until(lambda: visitor.conversation is not None and not visitor.pending, timeout=60, what="first ack")
    conv = visitor.conversation

    agent = await WatchingAgent.connect(stack, node_b, conv)
    agent_seen, agent_acks = agent.seen, agent.acks
    await wait_until(lambda: "v-0" in agent_seen.client_ids, timeout=60, what="agent sees the first message")

    async def visitor_talks() -> None:
        for i in range(1, VISITOR_MESSAGES):
            if i == KILL_AFTER:
                node_a.kill()  # mid-stream: sends are in flight, some unacknowledged
            try:
                await visitor.say(f"v-{i}", f"message {i}")
            except Exception:  # the socket died with its node: fail over, then carry on
                await visitor.sock.closed.wait()
                await visitor.connect(node_b.ws)
            if visitor.sock.closed.is_set():
                await visitor.connect(node_b.ws)
            await asyncio.sleep(0.005)

    await asyncio.gather(agent.reply(AGENT_MESSAGES, pause=0.01), visitor_talks())
    if visitor.sock.closed.is_set():  # killed after the last send: still must fail over
        await visitor.connect(node_b.ws)

    visitor_ids = {f"v-{i}" for i in range(VISITOR_MESSAGES)}
    await wait_until(lambda: len(agent_acks) == AGENT_MESSAGES, timeout=60, what="agent acks")
    await wait_until(lambda: visitor_ids <= set(agent_seen.client_ids), timeout=60, what="agent sees all")
    last_seq = max(agent_seen.seqs)
    await wait_until(
        lambda: not visitor.pending and visitor.seen.last_contiguous >= last_seq, timeout=60, what="visitor catches up"
    )

    assert node_a.process.returncode == -signal.SIGKILL and visitor.connections == 2
    print(f"failover: {len(visitor.retried)} unacknowledged sends retried on node B: {visitor.retried}")
    # Zero lost: both sides hold every seq from 1, with no gap; every send landed once.
    assert agent_seen.last_contiguous == max(agent_seen.seqs) == last_seq
    assert visitor.seen.last_contiguous == max(visitor.seen.seqs)
    assert sorted(c for c in agent_seen.client_ids if c.startswith("v-")) == sorted(visitor_ids)
    agent_reply_ids = [c for c in visitor.seen.client_ids if c.startswith("a-")]
    assert sorted(agent_reply_ids) == sorted(f"a-{i}" for i in range(AGENT_MESSAGES))
    # Zero duplicated: no message frame repeated a seq on either side ...
    assert visitor.seen.duplicates == [] and agent_seen.duplicates == []
    # ... and the database holds each client_id once: a fresh agent replays the whole history.
    fresh = await WatchingAgent.connect(stack, node_b, conv)
    history = fresh.seen
    await wait_until(lambda: history.last_contiguous >= last_seq, timeout=60, what="history replay")
    texts = [c for c in history.client_ids if c.startswith(("v-", "a-"))]
    assert len(texts) == len(set(texts)) == VISITOR_MESSAGES + AGENT_MESSAGES
    assert history.duplicates == []
    for sock in (visitor.sock, agent.sock, fresh.sock):
        await sock.close()
    node_b.stop()
