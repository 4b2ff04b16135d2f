"""Sends in flight on one socket (push/consumers.py, ``_Sends``): a burst of ``send`` frames is read
on while the first is written, so the burst shares a batch; seqs and answers keep the frames'
order, a frame of another type is answered after the sends before it, the socket is not read past
``SENDS_IN_FLIGHT_MAX``, and a socket that closes with sends in flight still has them written.
Long-poll: the sends of one request share a batch the same way."""
from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from asgiref.sync import sync_to_async
from django_scopes import scopes_disabled

from push import consumers, group_commit
from support.events import fanout
from support.models import Message
from tests.realtime.test_longpoll import start as lp_start
from tests.realtime.test_longpoll import vpost
from tests.realtime.test_visitor_socket import agent_posts, started, visitor_with_agent_following

pytestmark = pytest.mark.django_db(transaction=True)


class Gate:
    """Holds every batch written until opened; records each batch's client ids."""

    def __init__(self, monkeypatch) -> None:
        self.batches: list[list[str | None]] = []
        self.open = threading.Event()
        real = group_commit.post_messages

        def gated(requests):
            self.batches.append([r.client_id for r in requests])
            self.open.wait(10)
            return real(requests)

        monkeypatch.setattr(group_commit, "post_messages", gated)

    async def held(self, count: int) -> None:
        """Until ``count`` batches have reached the database thread."""
        for _ in range(500):
            if len(self.batches) >= count:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"{count} batches expected, saw {self.batches}")


@sync_to_async
def _stored(conversation_id: str) -> list[tuple[int, str | None]]:
    with scopes_disabled():
        return list(Message.objects.filter(conversation__public_id=conversation_id)
                    .order_by("seq").values_list("seq", "client_id"))


def _send(conv_id: str, client_id: str) -> dict:
    return {"type": "send", "conversation": conv_id, "client_id": client_id, "body": f"body {client_id}"}


async def test_a_burst_shares_a_batch_and_keeps_its_order_in_seqs_and_acks(world, monkeypatch):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    gate = Gate(monkeypatch)
    ids = [f"b-{k}" for k in range(6)]
    for client_id in ids:
        await visitor.send(_send(conv_id, client_id))
    await gate.held(1)
    await asyncio.sleep(0.1)  # every frame of the burst is read meanwhile (one at a time, they were not)
    gate.open.set()
    acks = [await visitor.recv_type("ack") for _ in ids]
    assert [a["client_id"] for a in acks] == ids
    assert [a["message"]["seq"] for a in acks] == [2, 3, 4, 5, 6, 7]
    assert [a["prev_seq"] for a in acks] == [1, 2, 3, 4, 5, 6]  # each ack is the message itself
    # One or two batches (the first send may have gone alone), in the frames' order; one at a time,
    # the burst was six batches.
    assert len(gate.batches) <= 2 and [c for batch in gate.batches for c in batch] == ids
    assert [cid for _, cid in (await _stored(conv_id))] == ["c-1", *ids]
    # The sender gets its messages once, as acks: no wake-up of its own sends comes back as a frame.
    assert [f for f in await visitor.drain() if f["type"] == "message"] == []
    await visitor.close()


async def test_a_frame_after_sends_is_answered_after_them(world, monkeypatch):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    gate = Gate(monkeypatch)
    await visitor.send(_send(conv_id, "s-1"))
    await visitor.send(_send(conv_id, "s-2"))
    await visitor.send({"type": "ping"})
    await gate.held(1)
    await asyncio.sleep(0.1)
    gate.open.set()
    frames = [await visitor.recv() for _ in range(3)]
    assert [(f["type"], f.get("client_id")) for f in frames] == [("ack", "s-1"), ("ack", "s-2"), ("pong", None)]
    await visitor.close()


async def test_a_refused_send_of_a_burst_is_answered_in_its_place_and_fails_alone(world, outsider, monkeypatch):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    _, _, theirs = await started(outsider, client_id="o-1")
    gate = Gate(monkeypatch)
    await visitor.send(_send(conv_id, "r-1"))
    await visitor.send(_send(theirs["message"]["conversation"], "r-2"))  # another tenant's conversation
    await visitor.send(_send(conv_id, "r-3"))
    gate.open.set()
    frames = [await visitor.recv() for _ in range(3)]
    assert [(f["type"], f.get("client_id"), f.get("code")) for f in frames] == [
        ("ack", "r-1", None), ("error", "r-2", "not_found"), ("ack", "r-3", None)]
    assert [f["message"]["seq"] for f in frames if f["type"] == "ack"] == [2, 3]
    assert [cid for _, cid in (await _stored(conv_id))] == ["c-1", "r-1", "r-3"]
    await visitor.close()


async def test_the_socket_is_not_read_past_the_sends_in_flight_cap(world, monkeypatch):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    monkeypatch.setattr(consumers, "SENDS_IN_FLIGHT_MAX", 2)
    queued: list[str | None] = []
    real_enqueue = group_commit.enqueue

    def counted(request):
        queued.append(request.client_id)
        return real_enqueue(request)

    monkeypatch.setattr(group_commit, "enqueue", counted)
    gate = Gate(monkeypatch)
    for k in range(4):
        await visitor.send(_send(conv_id, f"p-{k}"))
    await gate.held(1)
    await asyncio.sleep(0.2)
    assert queued == ["p-0", "p-1"]  # two in flight; the third frame waits unread
    gate.open.set()
    acks = [await visitor.recv_type("ack") for _ in range(4)]
    assert [a["client_id"] for a in acks] == ["p-0", "p-1", "p-2", "p-3"]
    assert queued == ["p-0", "p-1", "p-2", "p-3"]
    await visitor.close()


async def test_a_socket_closed_with_sends_in_flight_still_has_them_written(world, monkeypatch, caplog):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    gate = Gate(monkeypatch)
    for k in range(3):
        await visitor.send(_send(conv_id, f"x-{k}"))
    await gate.held(1)
    closing = asyncio.create_task(visitor.close())
    await asyncio.sleep(0.1)
    with caplog.at_level(logging.ERROR):
        gate.open.set()
        await closing
        for _ in range(100):
            if len(await _stored(conv_id)) == 4:
                break
            await asyncio.sleep(0.02)
    assert [cid for _, cid in (await _stored(conv_id))] == ["c-1", "x-0", "x-1", "x-2"]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_the_sends_of_one_long_poll_request_share_a_batch_in_their_order(world, http, monkeypatch):
    token, conv_id = await lp_start(http, world)
    batches: list[list[str | None]] = []
    real = group_commit.post_messages

    def counted(requests):
        batches.append([r.client_id for r in requests])
        return real(requests)

    monkeypatch.setattr(group_commit, "post_messages", counted)
    ids = [f"l-{k}" for k in range(4)]
    status, data = await vpost(http, "send", {"token": token, "frames": [_send(conv_id, c) for c in ids]})
    assert status == 200
    assert [(f["client_id"], f["message"]["seq"]) for f in data["frames"]] == list(zip(ids, [2, 3, 4, 5]))
    assert sorted(len(b) for b in batches) != [1, 1, 1, 1]  # not one batch each
    assert [c for batch in batches for c in batch] == ids


async def test_sends_in_flight_behind_a_gap_each_get_their_ack_after_what_was_missed(world, monkeypatch):
    """Two sends of an agent whose socket missed earlier messages (their wake-ups lost): the first
    ack comes after the missed messages, then the second; neither send comes back as a plain
    message. (Acks made at once by both sends, the second's catch-up delivered the first's message
    and the first got no ack at all: the MQTT failover test caught it.)"""
    visitor, agent, conv_id = await visitor_with_agent_following(world)
    lost: list[str] = []
    monkeypatch.setattr(fanout, "_publish_now", lambda group, event: lost.append(group))
    missed = await sync_to_async(agent_posts)(world, conv_id, "missed one", "missed two")
    monkeypatch.undo()
    assert lost and missed == [2, 3]
    gate = Gate(monkeypatch)
    await agent.send({"type": "send", "conversation": conv_id, "client_id": "a-1", "body": "one"})
    await agent.send({"type": "send", "conversation": conv_id, "client_id": "a-2", "body": "two"})
    await gate.held(1)
    await asyncio.sleep(0.1)
    gate.open.set()
    frames = []
    while len([f for f in frames if f["type"] == "ack"]) < 2:
        frames.append(await agent.recv())
    seen = [(f["type"], f["message"]["seq"], f.get("client_id")) for f in frames if f["type"] in ("message", "ack")]
    assert seen == [("message", 2, None), ("message", 3, None), ("ack", 4, "a-1"), ("ack", 5, "a-2")]
    assert [f for f in await agent.drain() if f["type"] == "message" and f["message"]["seq"] > 3] == []
    await agent.close()
    await visitor.close()
