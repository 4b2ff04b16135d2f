"""Agents' inbox rows carry the last message's preview: on live updates, on catch-up, and when read
back from the database, in one query per read. Visitors and other tenants never see it."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from push.protocol import AgentSession, to_us
from support.access import access_conversation
from support.services.messages import post_message
from tests.realtime.conftest import in_tenant, open_agent
from tests.realtime.test_visitor_socket import started

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "VIP customer, refund without asking"


async def test_agent_frames_carry_the_preview_and_nobody_else_sees_a_note(world, outsider):
    alice = await open_agent(world.agent)
    await alice.recv_type("welcome")
    theirs = await open_agent(outsider.agent)
    await theirs.recv_type("welcome")
    visitor, _, ack = await started(world, body="where is  my\norder?")
    conv_id = ack["message"]["conversation"]
    frame = await alice.recv_type("conversation")
    last = frame["conversation"]["last_message"]
    assert (last["id"], last["seq"], last["kind"]) == (ack["message"]["id"], 1, "text")
    assert last["author"] == {"type": "contact"} and last["preview"] == "where is my order?"
    assert last["attachment"] is None and last["created"] == ack["message"]["created"]
    await visitor.drain(0.2)

    await alice.send({"type": "send", "conversation": conv_id, "client_id": "n-1", "body": SECRET, "kind": "note"})
    await alice.recv_type("ack")
    frames = [f for f in await alice.drain(0.5) if f["type"] == "conversation"]
    assert frames and frames[-1]["conversation"]["last_message"]["kind"] == "note"
    assert frames[-1]["conversation"]["last_message"]["preview"] == SECRET
    assert frames[-1]["conversation"]["last_message"]["author"]["id"] == world.agent.public_id

    # The visitor's socket got nothing that mentions the note; the other tenant's agent nothing at all.
    assert SECRET not in json.dumps(await visitor.drain(0.5))
    seen_elsewhere = await theirs.drain(0.3)
    assert [f for f in seen_elsewhere if f["type"] == "conversation"] == []
    assert SECRET not in json.dumps(seen_elsewhere)
    for sock in (alice, theirs, visitor):
        await sock.close()


async def test_catch_up_after_reconnect_carries_the_preview(world):
    agent = await open_agent(world.agent)
    welcome = await agent.recv_type("welcome")
    await agent.close()
    visitor, _, ack = await started(world, body="hello after you left")
    again = await open_agent(world.agent, hello={"inbox_since": welcome["inbox_since"]})
    await again.recv_type("welcome")
    frame = await again.recv_type("conversation")
    assert frame["conversation"]["last_message"]["preview"] == "hello after you left"
    await again.close()
    await visitor.close()


def _conversations_with_messages(world, n: int) -> list[int]:
    from support.services.conversations import assign_conversation, start_conversation

    pks = []
    with in_tenant(world.tenant):
        for i in range(n):
            conv = start_conversation(tenant=world.tenant, contact=world.contact, team=world.team)
            assign_conversation(conversation=conv, assignee=world.agent2)
            post_message(conversation=conv, author_type="agent", author_membership=world.agent,
                         body=f"reply {i}", kind="note" if i % 2 else "text")
            pks.append(conv.pk)
    return pks


def test_rows_read_from_the_database_cost_one_query(world):
    """``InboxCursor.one`` (a wake-up without a row) and the ``inbox_since`` catch-up: one statement each,
    however many rows, with the last message and its author joined in."""
    pks = _conversations_with_messages(world, 4)
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="k", transport="ws")
    with CaptureQueriesContext(connection) as one:
        row = session.inbox.one(pks[0])
    assert len(one.captured_queries) == 1
    assert row is not None and row["last_message"]["preview"] == "reply 0"
    assert row["last_message"]["author"]["name"] == "Alice"

    fresh = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="k2", transport="ws")
    with in_tenant(world.tenant):
        since = to_us(access_conversation(world.tenant, row["id"]).created_at - timedelta(seconds=1))
    with CaptureQueriesContext(connection) as caught:
        rows, complete = fresh.inbox.catch_up(since)
    assert complete and len(caught.captured_queries) == 1
    assert sorted(r["last_message"]["preview"] for r in rows) == [f"reply {i}" for i in range(4)]
    assert {r["last_message"]["kind"] for r in rows} == {"text", "note"}


async def test_a_wake_up_without_a_row_reads_the_preview(world):
    pks = await sync_to_async(_conversations_with_messages)(world, 1)
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="k", transport="ws")
    frames = await session.on_event({"type": "inbox.changed", "conversation": pks[0]})
    assert [f["conversation"]["last_message"]["preview"] for f in frames] == ["reply 0"]


def test_an_event_alone_publishes_the_kept_preview(world, monkeypatch):
    """The batch's lock statement does not read the last message (a send replaces it); a batch that
    writes only an event reads it, in one statement, for the inbox row it publishes."""
    from support.events import fanout

    pks = _conversations_with_messages(world, 1)
    rows = []
    monkeypatch.setattr(fanout, "publish_inbox", lambda tenant_id, conv_id, payload=None: rows.append(payload))
    with in_tenant(world.tenant):
        conv = access_conversation(world.tenant, _public_id(pks[0]))
        with CaptureQueriesContext(connection) as caught:
            post_message(conversation=conv, author_type="system", kind="event", data={"event": "test"})
    assert [r["last_message"]["preview"] for r in rows] == ["reply 0"]
    assert rows[0]["last_message"]["author"]["name"] == "Alice" and rows[0]["last_seq"] == 3
    reads = [q["sql"] for q in caught.captured_queries if q["sql"].startswith("SELECT")]
    assert len(reads) == 2, reads  # the lock, and the kept last message with its author


def _public_id(pk: int) -> str:
    from django_scopes import scopes_disabled

    from support.models import Conversation

    with scopes_disabled():
        return Conversation.objects.get(pk=pk).public_id
