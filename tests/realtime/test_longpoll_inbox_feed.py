"""Long-poll agents get their inbox from the process's per-tenant feed (push/inbox_feed.py), as the
agent sockets do: one batch per ``RT_INBOX_COALESCE_MS`` interval, the latest row of each changed
conversation, framed as the client's hello asked (the cursor remembers it), never another tenant's.
"""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection

from push import longpoll
from tests.realtime.conftest import application
from tests.realtime.test_longpoll import CSRF, apost, as_agent, start
from tests.realtime.test_visitor_socket import agent_posts

pytestmark = pytest.mark.django_db(transaction=True)


class Agent:
    """One long-polling agent connection (its own client, cookies and cursor); rows by conversation."""

    def __init__(self, membership, **hello):
        self.membership, self.hello = membership, hello
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=application()), base_url="http://testserver")
        self.cursor: str | None = None
        self.rows: dict[str, dict] = {}
        self.kinds: list[str] = []
        self.answers = 0

    async def open(self):
        await as_agent(self.http, self.membership)
        self.http.cookies.set("csrftoken", CSRF)
        status, data = await apost(self.http, "poll", {"cursor": None, "hello": {"type": "hello", **self.hello}})
        assert status == 200 and data["frames"][0]["type"] == "welcome", data
        self.cursor = data["cursor"]
        return self

    async def poll(self):
        status, data = await apost(self.http, "poll", {"cursor": self.cursor})
        if status == 503 and connection.vendor == "sqlite":
            # SQLite's shared-cache test database refuses a read while another thread writes
            # ("database table is locked", no busy timeout there): the poll answers 503 and, as the
            # client does, is sent again with the same cursor.
            await asyncio.sleep(0.05)
            status, data = await apost(self.http, "poll", {"cursor": self.cursor})
        assert status == 200, data
        self.cursor = data["cursor"]
        for frame in data["frames"]:
            if frame["type"] == "conversation":
                self._row(frame["conversation"])
            elif frame["type"] == "conversations":
                for row in frame["conversations"]:
                    self._row(row)
            else:
                continue
            self.kinds.append(frame["type"])
        if data["frames"]:
            self.answers += 1
        return data["frames"]

    def _row(self, row):
        held = self.rows.get(row["id"])
        assert held is None or held["updated"] <= row["updated"], "an older row replaced a newer one"
        self.rows[row["id"]] = row


def _posts(world, conversation_id, body):
    """``agent_posts``, sent again when SQLite's shared-cache test database refuses the write while
    a poll's thread reads ("database table is locked": no busy timeout there, unlike a file)."""
    for attempt in range(20):
        try:
            return agent_posts(world, conversation_id, body)
        except OperationalError as exc:
            if connection.vendor != "sqlite" or "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(0.02)


async def waiting(count: int, timeout: float = 5) -> None:
    """Wait until ``count`` long-polls of this process wait for a wake-up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while longpoll.idle_polls < count:
        assert loop.time() < deadline, f"{longpoll.idle_polls} of {count} long-polls are waiting"
        await asyncio.sleep(0.01)


async def test_a_team_of_long_poll_agents_gets_the_last_state_of_every_changed_conversation(
    world, outsider, http, settings
):
    settings.RT_INBOX_COALESCE_MS = 100
    settings.LONGPOLL_TIMEOUT_SECONDS = 0.5
    batched = [await Agent(world.agent, inbox_frame="conversations").open() for _ in range(3)]
    old = [await Agent(world.agent2).open() for _ in range(2)]
    stranger = await Agent(outsider.agent, inbox_frame="conversations").open()
    team = [*batched, *old]
    convs = [(await start(http, world, client_id=f"c-{k}"))[1] for k in range(3)]

    async def keep_polling(agent, stop):
        while not stop.is_set():
            await agent.poll()

    stop = asyncio.Event()
    polls = [asyncio.create_task(keep_polling(agent, stop)) for agent in [*team, stranger]]
    last_seq = {}
    for k in range(6):
        for conv_id in convs:
            last_seq[conv_id] = (await sync_to_async(_posts)(world, conv_id, f"reply {k}"))[-1]
        await asyncio.sleep(0.03)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while any({c: a.rows.get(c, {}).get("last_seq") for c in convs} != last_seq for a in team):
        assert loop.time() < deadline, [{c: a.rows.get(c, {}).get("last_seq") for c in convs} for a in team]
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # anything late (and wrong) would arrive now
    stop.set()
    await asyncio.gather(*polls)
    for agent in team:
        assert {c: agent.rows[c]["last_seq"] for c in convs} == last_seq  # the final state of each, kept
    for agent in batched:  # asked in its hello; later polls (their cursor) keep to it
        assert set(agent.kinds) == {"conversations"}
    for agent in old:
        assert set(agent.kinds) == {"conversation"}
    assert stranger.rows == {}  # another tenant's agent gets nothing of it
    for agent in [*team, stranger]:
        await agent.http.aclose()


async def test_a_burst_within_one_interval_answers_each_waiting_poll_once(world, http, settings):
    settings.RT_INBOX_COALESCE_MS = 2_000
    settings.LONGPOLL_TIMEOUT_SECONDS = 10
    agents = [await Agent(world.agent, inbox_frame=kind).open() for kind in ["conversations", "conversation"] * 2]
    _, conv_id = await start(http, world)
    for agent in agents:  # the new conversation's row (a catch-up)
        while conv_id not in agent.rows:
            await agent.poll()
    polls = [asyncio.create_task(agent.poll()) for agent in agents]
    await waiting(len(agents))
    await sync_to_async(agent_posts)(world, conv_id, "first")  # out at once: the feed's interval begins
    await asyncio.gather(*polls)
    answers = [agent.answers for agent in agents]
    polls = [asyncio.create_task(agent.poll()) for agent in agents]
    await waiting(len(agents))
    seqs = await sync_to_async(agent_posts)(world, conv_id, *[f"burst {k}" for k in range(8)])
    frames = await asyncio.gather(*polls)
    for agent, got, before in zip(agents, frames, answers, strict=True):
        assert agent.answers == before + 1
        rows = [f["conversation"] for f in got if f["type"] == "conversation"]
        rows += [row for f in got if f["type"] == "conversations" for row in f["conversations"]]
        assert [(row["id"], row["last_seq"]) for row in rows] == [(conv_id, seqs[-1])]  # once, its last state
    # Nothing else comes of the burst: the next polls wait.
    polls = [asyncio.create_task(agent.poll()) for agent in agents]
    await waiting(len(agents))
    await asyncio.sleep(0.3)
    assert not any(poll.done() for poll in polls)
    for poll in polls:
        poll.cancel()
    await asyncio.gather(*polls, return_exceptions=True)
    for agent in agents:
        await agent.http.aclose()
