"""Read receipts update the inbox rows of the tenant's other agent connections (unread state, "seen")."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from support.models import Conversation
from support.services.reads import mark_read
from tests.realtime.conftest import in_tenant, open_agent
from tests.realtime.test_visitor_socket import agent_posts, started

pytestmark = pytest.mark.django_db(transaction=True)


def unread(row: dict) -> int:
    """What the dashboard counts as unread for agents: messages after the agents' read mark."""
    return row["last_seq"] - row["agent_last_read_seq"]


async def rows(sock, conv_id: str, timeout: float = 0.3) -> list[dict]:
    return [f["conversation"] for f in await sock.drain(timeout)
            if f["type"] == "conversation" and f["conversation"]["id"] == conv_id]


async def row_where(sock, conv_id: str, wanted, timeout: float = 5) -> dict:
    """The first inbox row of ``conv_id`` that is ``wanted`` (rows may be held a moment by coalescing,
    longer on a loaded machine: wait for the state, not for a quiet spell)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        frame = await sock.recv(max(0.01, deadline - loop.time()))
        if frame["type"] == "conversation" and frame["conversation"]["id"] == conv_id and wanted(frame["conversation"]):
            return frame["conversation"]


async def agents(world, outsider):
    alice, bob, stranger = (await open_agent(world.agent), await open_agent(world.agent2),
                            await open_agent(outsider.owner))
    for sock in (alice, bob, stranger):
        await sock.recv_type("welcome")
    return alice, bob, stranger


async def test_an_agents_read_reaches_the_other_agents_inbox(world, outsider):
    alice, bob, stranger = await agents(world, outsider)
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "anyone?"})
    await visitor.recv_type("ack")
    before = await row_where(bob, conv_id, lambda row: row["last_seq"] == 2)
    assert unread(before) == 2
    await bob.drain()
    await alice.drain()

    await alice.send({"type": "read", "conversation": conv_id, "seq": 2})
    row = (await bob.recv_type("conversation"))["conversation"]
    assert row["id"] == conv_id and row["agent_last_read_seq"] == 2 and unread(row) == 0
    assert row["updated"] > before["updated"]
    # The reader's other tabs learn it too; another tenant's agents hear nothing.
    assert (await row_where(alice, conv_id, lambda row: row["agent_last_read_seq"] == 2))["last_seq"] == 2
    assert [f for f in await stranger.drain() if f["type"] == "conversation"] == []

    # A read that moves nothing (backwards, or again) publishes nothing.
    await alice.send({"type": "read", "conversation": conv_id, "seq": 1})
    await alice.send({"type": "read", "conversation": conv_id, "seq": 2})
    assert await rows(bob, conv_id) == []
    for sock in (alice, bob, stranger, visitor):
        await sock.close()


async def test_a_visitors_read_reaches_the_agents_inbox(world, outsider):
    alice, bob, stranger = await agents(world, outsider)
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await sync_to_async(agent_posts)(world, conv_id, "Hi, how can I help?")
    assert (await row_where(bob, conv_id, lambda row: row["last_seq"] == 2))["contact_last_read_seq"] == 1
    await visitor.send({"type": "read", "conversation": conv_id, "seq": 2})
    row = (await bob.recv_type("conversation"))["conversation"]
    assert (row["id"], row["contact_last_read_seq"], row["last_seq"]) == (conv_id, 2, 2)
    assert [f for f in await stranger.drain() if f["type"] == "conversation"] == []
    for sock in (alice, bob, stranger, visitor):
        await sock.close()


async def test_a_dashboard_that_was_away_catches_up_on_reads(world, outsider):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]

    def age_the_conversation() -> None:  # last changed an hour ago: outside any catch-up overlap
        with in_tenant(world.tenant):
            Conversation.objects.filter(public_id=conv_id).update(updated_at=timezone.now() - timedelta(hours=1))

    await sync_to_async(age_the_conversation)()
    bob = await open_agent(world.agent2)
    watermark = (await bob.recv_type("welcome"))["inbox_since"]
    await bob.close()
    quiet = await open_agent(world.agent2, hello={"inbox_since": watermark})
    await quiet.recv_type("welcome")
    assert await rows(quiet, conv_id) == []  # nothing changed since: nothing to catch up
    await quiet.close()

    def read_elsewhere() -> None:  # e.g. on another node, or the REST-less conversation page
        with in_tenant(world.tenant):
            from support.access import access_conversation

            assert mark_read(conversation=access_conversation(world.tenant, conv_id), reader="agent", seq=1).changed

    await sync_to_async(read_elsewhere)()
    again = await open_agent(world.agent2, hello={"inbox_since": watermark})
    await again.recv_type("welcome")
    row = (await again.recv_type("conversation"))["conversation"]
    assert (row["id"], row["agent_last_read_seq"]) == (conv_id, 1)
    for sock in (again, visitor):
        await sock.close()
