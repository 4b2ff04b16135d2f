"""Catch-up past its limits: replays page past ``REPLAY_BATCH``; an inbox over ``INBOX_CATCHUP_MAX`` resyncs.

The limits are lowered to 2 so that a handful of messages or conversations crosses them.
"""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from push.protocol import delivery, inbox
from tests.realtime.conftest import open_agent, open_visitor, visitor_token
from tests.realtime.test_longpoll import CSRF, apost, as_agent, first_poll, start, vpost
from tests.realtime.test_visitor_socket import agent_posts, started

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(delivery, "REPLAY_BATCH", 2)
    monkeypatch.setattr(inbox, "INBOX_CATCHUP_MAX", 2)


async def _five_missed(world, conv_id: str) -> list[int]:
    """Five messages a visitor may see, with a note among them (it pages past what it skips)."""
    seqs = await sync_to_async(agent_posts)(world, conv_id, "m1", "m2")
    await sync_to_async(agent_posts)(world, conv_id, "psst", kind="note")
    return seqs + await sync_to_async(agent_posts)(world, conv_id, "m3", "m4", "m5")


def _stream(frames: list[dict]) -> list[tuple[str, int, int]]:
    return [(f["message"]["body"], f["message"]["seq"], f["prev_seq"]) for f in frames if f["type"] == "message"]


EXPECTED = [("m1", 2, 1), ("m2", 3, 2), ("m3", 5, 3), ("m4", 6, 5), ("m5", 7, 6)]


async def test_a_socket_resume_pages_past_the_replay_batch(world, small_batches):
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await sock.close()
    await _five_missed(world, conv_id)
    again = await open_visitor(token, resume={conv_id: 1})
    frames = [await again.recv_type("welcome"), *await again.drain(0.3)]
    assert _stream(frames) == EXPECTED  # all of them, in order, each once
    await again.close()


async def test_an_agent_subscribe_pages_past_the_replay_batch(world, small_batches):
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await _five_missed(world, conv_id)
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    await agent.drain()
    await agent.send({"type": "subscribe", "conversation": conv_id, "last_seq": 1})
    got = _stream(await agent.drain(0.3))
    assert got == [("m1", 2, 1), ("m2", 3, 2), ("psst", 4, 3), ("m3", 5, 4), ("m4", 6, 5), ("m5", 7, 6)]
    await agent.close()
    await sock.close()


async def test_a_long_poll_pages_past_the_replay_batch(world, http, small_batches):
    token, conv_id = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    await _five_missed(world, conv_id)
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert status == 200 and _stream(data["frames"]) == EXPECTED
    status, again = await vpost(http, "poll", {"token": token, "cursor": data["cursor"]})
    assert again["frames"] == []  # nothing twice


async def _conversations_started(world, count: int) -> set[str]:
    ids = set()
    for n in range(count):
        token = await visitor_token(world.tenant)
        sock = await open_visitor(token)
        await sock.recv_type("welcome")
        await sock.send({"type": "send", "conversation": None, "client_id": f"c-{n}", "body": "hi"})
        ids.add((await sock.recv_type("ack"))["message"]["conversation"])
        await sock.close()
    return ids


@pytest.mark.parametrize(("changed", "resync"), [(2, False), (3, True)])
async def test_a_socket_inbox_catch_up_over_its_limit_asks_for_a_resync(world, small_batches, changed, resync):
    agent = await open_agent(world.agent)
    since = (await agent.recv_type("welcome"))["inbox_since"]
    await agent.close()
    ids = await _conversations_started(world, changed)
    again = await open_agent(world.agent, hello={"inbox_since": since})
    welcome = await again.recv_type("welcome")
    rows = [f["conversation"]["id"] for f in await again.drain(0.3) if f["type"] == "conversation"]
    assert welcome["inbox_resync"] is resync
    assert len(rows) == 2 and set(rows) <= ids  # at most the limit, each once
    await again.close()


@pytest.mark.parametrize(("changed", "resync"), [(2, False), (3, True)])
async def test_a_long_poll_inbox_over_its_limit_asks_for_a_resync(world, http, small_batches, changed, resync):
    http.cookies.set("csrftoken", CSRF)
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None, "hello": {"type": "hello"}})
    assert status == 200 and data["frames"][0]["type"] == "welcome"
    ids = await _conversations_started(world, changed)
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    kinds = [f["type"] for f in data["frames"]]
    assert kinds == ["conversation", "conversation", *(["inbox_resync"] if resync else [])]
    assert {f["conversation"]["id"] for f in data["frames"] if f["type"] == "conversation"} <= ids
