"""What one message costs, and that the cheap paths keep the guarantees.

A message's after-commit wake-up carries it (when small), and the sender's ack is built from the
row it just wrote: a connection whose follow is contiguous delivers without reading the database.
A gap, a missing payload or a message a visitor may not see must never be papered over.
"""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from push.protocol import AGENT, AgentSession, Follow, Session, VisitorSession, sending
from support.access import access_conversation
from support.payloads import message_payload
from support.services.messages import CARRIED_BODY_MAX, post_message
from tests.realtime.conftest import in_tenant
from tests.realtime.test_inbox_cost import QueryCounter
from tests.realtime.test_visitor_socket import started, visitor_with_agent_following

pytestmark = pytest.mark.django_db(transaction=True)


def _post(world, conv_id: str, body: str, *, kind: str = "text", author: str = "agent", data=None) -> dict:
    """Post through the service and return the message as a wake-up would carry it."""
    with in_tenant(world.tenant):
        conv = access_conversation(world.tenant, conv_id)
        result = post_message(
            conversation=conv, author_type=author, body=body, kind=kind, data=data,
            author_membership=world.agent if author == "agent" else None,
        )
        return message_payload(result.message, conversation_public_id=conv_id)


def _pk(world, conv_id: str) -> int:
    with in_tenant(world.tenant):
        return access_conversation(world.tenant, conv_id).pk


async def started_conversation(world) -> tuple[str, int]:
    """A conversation a visitor started (seq 1) and left: its outside id and primary key."""
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await visitor.close()
    return conv_id, await sync_to_async(_pk)(world, conv_id)


class CatchUps:
    """Counts database replays (``Session.replay``) per session kind."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        real = Session.replay

        def counted(session, *args):
            self.calls.append(session.kind)
            return real(session, *args)

        monkeypatch.setattr(Session, "replay", counted)


async def test_a_visitor_message_reads_the_database_once_the_lock(world, monkeypatch):
    """Pinned: a visitor's message to an open conversation, with the agent following it, costs one
    read of rows (the locked row, which is also the access check, the client_id check and the
    inbox row) and three writes: two round trips on PostgreSQL (BEGIN aside; the COMMIT goes with
    the writes), four on SQLite. The old path took
    13 statements: a separate access read, the lock, the client_id read, the tenant, the
    after-commit inbox read, and two reads each for the sender's ack and the agent's delivery."""
    visitor, agent, conv_id = await visitor_with_agent_following(world)
    await agent.drain(0.2)
    queries = QueryCounter(monkeypatch)
    catch_ups = CatchUps(monkeypatch)
    built_again = []  # the ack's payload is the one the batch built for the wake-up
    monkeypatch.setattr(sending, "message_payload", lambda *args, **kwargs: built_again.append(args))
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "again"})
    reply = await visitor.recv_type("ack")
    assert (reply["message"]["seq"], reply["prev_seq"]) == (2, 1)
    got = await agent.recv_type("message")
    assert (got["message"], got["prev_seq"]) == (reply["message"], 1)
    assert (await agent.recv_type("conversation"))["conversation"]["last_seq"] == 2
    await agent.drain(0.2)
    monkeypatch.undo()
    # On PostgreSQL a round trip carries several statements (support/round_trip.py): the lock, and
    # the ids the new rows will have; then the three writes.
    together = connection.vendor == "postgresql"
    assert len([sql for sql in queries.statements if not sql.startswith("BEGIN")]) == (2 if together else 4)
    sent = [statement for sql in queries.statements for statement in sql.split("; ")]
    verbs = [sql.split(None, 1)[0].upper() for sql in sent]
    assert verbs.count("SELECT") == (2 if together else 1), sent
    if connection.features.has_select_for_update:  # SQLite locks the whole database instead
        assert "FOR UPDATE" in sent[verbs.index("SELECT")]
    if together:
        assert "nextval" in sent[verbs.index("SELECT") + 1]
    # INSERT message, UPDATE conversation, INSERT outbox event (its deliveries are the
    # dispatcher's to write), on PostgreSQL the COMMIT with them, and, on SQLite only, the BEGIN
    # IMMEDIATE that psycopg sends implicitly.
    writes = ["INSERT", "UPDATE", "INSERT", *(["COMMIT"] if together else [])]
    assert [v for v in verbs if v not in ("BEGIN", "SELECT")] == writes, verbs
    assert catch_ups.calls == [] and built_again == []
    await agent.close()
    await visitor.close()


async def test_a_visitor_never_receives_a_note_through_the_carried_message(world, monkeypatch):
    visitor, agent, conv_id = await visitor_with_agent_following(world)
    await agent.drain(0.2)
    catch_ups = CatchUps(monkeypatch)
    await agent.send({"type": "send", "conversation": conv_id, "client_id": "n-1", "body": "vip", "kind": "note"})
    assert (await agent.recv_type("ack"))["message"]["kind"] == "note"
    await agent.send({"type": "send", "conversation": conv_id, "client_id": "r-1", "body": "Hello!"})
    await agent.recv_type("ack")
    frames = [f for f in [await visitor.recv_type("message"), *await visitor.drain(0.3)] if f["type"] == "message"]
    # The note (seq 2) was seen and skipped; the reply follows the last message the visitor got.
    assert [(f["message"]["seq"], f["message"]["body"], f["prev_seq"]) for f in frames] == [(3, "Hello!", 1)]
    assert catch_ups.calls == []  # both came carried: nothing was read back
    await agent.close()
    await visitor.close()


async def test_a_visitor_session_skips_carried_notes_and_agents_only_events(world):
    conv_id, pk = await started_conversation(world)
    session = VisitorSession(tenant=world.tenant, contact=None, connection_id="v", transport="ws")
    follow = session.follows[pk] = Follow(conv_id, pk, 1, 1)
    note = await sync_to_async(_post)(world, conv_id, "psst", kind="note")
    team = await sync_to_async(_post)(world, conv_id, "", kind="event", author="system",
                                      data={"event": "team_changed", "team": None})
    status = await sync_to_async(_post)(world, conv_id, "", kind="event", author="system",
                                        data={"event": "status_changed", "status": "resolved"})
    for message in (note, team):
        assert await session.on_event({"type": "conversation.seq", "conversation": pk, "seq": message["seq"],
                                       "message": message}) == []
    frames = await session.on_event({"type": "conversation.seq", "conversation": pk, "seq": status["seq"],
                                     "message": status})
    assert [(f["message"]["data"]["event"], f["prev_seq"]) for f in frames] == [("status_changed", 1)]
    assert (follow.seen, follow.sent) == (4, 4)


async def test_a_receiver_with_a_gap_replays_from_the_database(world, monkeypatch):
    conv_id, pk = await started_conversation(world)
    second = await sync_to_async(_post)(world, conv_id, "two")
    third = await sync_to_async(_post)(world, conv_id, "three")
    catch_ups = CatchUps(monkeypatch)
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="a", transport="ws")
    session.follows[pk] = Follow(conv_id, pk, 1, 1)
    # The wake-up for seq 2 was lost: the one for seq 3 carries only seq 3.
    frames = await session.on_event({"type": "conversation.seq", "conversation": pk, "seq": 3, "message": third})
    assert [(f["message"]["body"], f["prev_seq"]) for f in frames] == [("two", 1), ("three", 2)]
    assert frames[0]["message"] == second and catch_ups.calls == [AGENT]
    # The same wake-up again (or a late one) delivers nothing twice.
    assert await session.on_event({"type": "conversation.seq", "conversation": pk, "seq": 3, "message": third}) == []


async def test_a_big_message_is_not_carried_and_is_read_from_the_database(world, monkeypatch):
    visitor, agent, conv_id = await visitor_with_agent_following(world)
    await agent.drain(0.2)
    catch_ups = CatchUps(monkeypatch)
    body = "x" * (CARRIED_BODY_MAX + 1)
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "big", "body": body})
    assert (await visitor.recv_type("ack"))["message"]["seq"] == 2
    got = await agent.recv_type("message")
    assert (got["message"]["body"], got["prev_seq"]) == (body, 1)
    assert catch_ups.calls == [AGENT]  # the agent read it; the sender's ack still needed no read
    await agent.close()
    await visitor.close()


async def test_the_sender_with_a_gap_gets_the_missed_messages_before_its_ack(world):
    conv_id, pk = await started_conversation(world)
    await sync_to_async(_post)(world, conv_id, "from the agent")
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="a", transport="ws")
    session.follows[pk] = Follow(conv_id, pk, 1, 1)  # has not seen seq 2 yet
    frames = await session.receive_frame({"type": "send", "conversation": conv_id, "client_id": "s", "body": "mine"})
    assert [(f["type"], f["message"]["seq"], f["prev_seq"]) for f in frames] == [("message", 2, 1), ("ack", 3, 2)]
