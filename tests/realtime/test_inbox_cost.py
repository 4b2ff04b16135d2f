"""What one message costs the server: inbox updates must not cost a query per agent connection."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db.backends.utils import CursorWrapper

from push.protocol import AgentSession, InboxCursor, from_us, to_us
from support.services.conversations import set_status
from tests.realtime.conftest import in_tenant, open_agent
from tests.realtime.test_visitor_socket import started

pytestmark = pytest.mark.django_db(transaction=True)


class QueryCounter:
    """Counts SQL statements from every thread (the sockets' database work runs on another one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        self._lock = threading.Lock()
        counter = self
        real_execute, real_many = CursorWrapper.execute, CursorWrapper.executemany

        def execute(cursor, sql, params=None):
            with counter._lock:
                counter.statements.append(sql)
            return real_execute(cursor, sql, params)

        def executemany(cursor, sql, param_list):
            with counter._lock:
                counter.statements.append(sql)
            return real_many(cursor, sql, param_list)

        monkeypatch.setattr(CursorWrapper, "execute", execute)
        monkeypatch.setattr(CursorWrapper, "executemany", executemany)

    @property
    def count(self) -> int:
        return len(self.statements)


async def _cost_of_one_visitor_message(world, monkeypatch, agents: int, client_id: str) -> tuple[int, int]:
    """(SQL statements, ``InboxCursor.one`` calls) while ``agents`` agent sockets receive one message's row."""
    visitor, _, ack = await started(world, client_id=f"{client_id}-start")
    conv_id = ack["message"]["conversation"]
    sockets = [await open_agent(world.agent) for _ in range(agents)]
    for sock in sockets:
        await sock.recv_type("welcome")
        await sock.drain(0.2)
    inbox_one_calls = []
    real_inbox_one = InboxCursor.one
    monkeypatch.setattr(InboxCursor, "one", lambda self, pk: inbox_one_calls.append(pk) or real_inbox_one(self, pk))
    queries = QueryCounter(monkeypatch)
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": client_id, "body": "again"})
    assert (await visitor.recv_type("ack"))["message"]["seq"] == 2
    for sock in sockets:
        frame = await sock.recv_type("conversation")
        assert frame["conversation"]["id"] == conv_id and frame["conversation"]["last_seq"] == 2
    for sock in sockets:
        await sock.drain(0.2)
    monkeypatch.undo()
    for sock in [*sockets, visitor]:
        await sock.close()
    return queries.count, len(inbox_one_calls)


async def test_a_message_costs_the_same_queries_for_one_or_five_agent_connections(world, monkeypatch):
    one, one_calls = await _cost_of_one_visitor_message(world, monkeypatch, 1, "one")
    five, five_calls = await _cost_of_one_visitor_message(world, monkeypatch, 5, "five")
    # Every agent connection used the row carried by the wake-up; none read it again.
    assert one_calls == five_calls == 0
    assert five == one, f"{one} statements with one agent connection, {five} with five"
    assert one <= 15, f"one visitor message took {one} SQL statements"


async def test_plain_inbox_wake_ups_are_still_read_from_the_database(world):
    """Publishers that send no row (older ones) still reach the inbox."""
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await agent.recv_type("conversation")

    def resolve_and_pk() -> int:
        with in_tenant(world.tenant):
            from support.access import access_conversation

            conv = access_conversation(world.tenant, conv_id)
            set_status(conversation=conv, status="resolved", actor=world.agent)
            return conv.pk

    pk = await sync_to_async(resolve_and_pk)()
    await agent.drain(0.3)
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="k", transport="ws")
    frames = await session.on_event({"type": "inbox.changed", "conversation": pk})
    assert [f["conversation"]["status"] for f in frames] == ["resolved"]
    assert await session.on_event({"type": "inbox.changed", "conversation": pk}) == []  # already sent
    await agent.close()
    await visitor.close()


def test_an_older_carried_row_never_replaces_a_newer_one(world):
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="k", transport="ws")
    base = session.inbox.since = to_us(from_us(0) + timedelta(days=20000))
    newer = {"id": "cv_x", "status": "resolved", "updated": from_us(base + 10).isoformat()}
    older = {**newer, "status": "open", "updated": from_us(base + 5).isoformat()}
    assert session.inbox.carried(newer) == newer
    assert session.inbox.carried(newer) is None  # the same version twice
    assert session.inbox.carried(older) is None  # arrived late: the client already shows newer
    assert int(session.inbox.conversation_frame(newer)["inbox_since"]) == base + 10
    assert session.inbox.carried({"id": "cv_x", "updated": "not a time"}) is None



def test_an_unreadable_row_still_wakes_the_inbox(world, monkeypatch):
    """publish_inbox runs after commit: a failed read must not raise, and a bare wake-up still goes out."""
    from support.events import fanout
    from support.services.conversations import start_conversation

    with in_tenant(world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    sent = []
    monkeypatch.setattr(fanout, "publish", lambda group, event: sent.append((group, event)))
    fanout.publish_inbox(world.tenant.pk, conv.pk)
    assert sent[0][1]["payload"]["id"] == conv.public_id
    monkeypatch.setattr(fanout, "conversation_payload", lambda conv: 1 / 0)
    fanout.publish_inbox(world.tenant.pk, conv.pk)
    assert sent[1] == (fanout.inbox_group(world.tenant.pk), {"type": "inbox.changed", "conversation": conv.pk})
    fanout.publish_inbox(world.tenant.pk, conv.pk + 1000)  # no such conversation: nothing to announce
    assert len(sent) == 2
