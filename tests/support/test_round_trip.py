"""support.round_trip: several statements in one round trip on PostgreSQL (one by one elsewhere) give
each its own rows, in order, bind values that look like SQL as values, and fail as a whole; rows
written with ids drawn beforehand (row_insert.reserve_pks) read back as written."""
from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support.models import Conversation, Message
from support.round_trip import Statement, run_together, together
from support.row_insert import insert_rows, reserve_pks, update_rows
from support.row_select import joined_select, select_joined
from support.services.conversations import start_conversation

SQL_LIKE = "'; DELETE FROM support_message; -- %s %(x)s \\ 漢字"


def _message(world, conv: Conversation, seq: int, body: str, client_id: str | None = None) -> Message:
    return Message(tenant=world.tenant, conversation=conv, seq=seq, author_type="agent", kind="text", body=body,
                   client_id=client_id, created_at=timezone.now())


def test_statements_sent_together_answer_each_in_turn(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    sent: list[str] = []

    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with scopes_disabled(), transaction.atomic(), connection.execute_wrapper(record):
        reserve = reserve_pks((Message,), 2)
        assert (reserve is None) == (connection.vendor != "postgresql")
        keys = run_together([reserve])[0] if reserve is not None else None
        messages = [_message(world, conv, 1, SQL_LIKE, "c; 1"), _message(world, conv, 2, "two")]
        writes: list[Statement] | None = None
        if keys is not None:
            assert len(keys) == 2 and keys[0][0] < keys[1][0]
            for message, (pk,) in zip(messages, keys, strict=True):
                message.pk = pk
            writes = []
        insert_rows(messages, into=writes)
        conv.last_seq, conv.last_message = 2, messages[1]
        update_rows([conv], ["last_seq", "last_message"], into=writes)
        if writes is not None:
            assert run_together(writes) == [None, None]
        query = joined_select(Message, ("author_membership__user",), "t0.conversation_id = %s", [conv.pk])
        found = run_together([Statement("SELECT CAST(%s AS text)", [SQL_LIKE], rows=True), query.statement,
                              Statement("SELECT 1 WHERE 1 = 0", rows=True)])
        assert found[0] == [(SQL_LIKE,)] and found[2] == []
        read = query.read(found[1] or [])
        assert [(m.pk, m.seq, m.body, m.client_id) for m in read] == [
            (m.pk, m.seq, m.body, m.client_id) for m in messages
        ]
        assert [(m.pk, m.body) for m in read] == [
            (m.pk, m.body) for m in select_joined(Message, ("author_membership__user",), "t0.conversation_id = %s",
                                                  [conv.pk])
        ]
        conv.refresh_from_db()
        assert (conv.last_seq, conv.last_message_id) == (2, messages[1].pk)
    if together(connection):
        # The reservation, the two writes together, the three reads together, the last two reads.
        assert len(sent) == 5 and sent[1].count("; ") == 1 and sent[2].count("; ") == 2
    else:
        assert not sent[0].startswith("SELECT nextval")


def test_a_failing_statement_among_others_fails_the_round_trip(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    with scopes_disabled():
        Message.objects.create(**{f.attname: getattr(_message(world, conv, 1, "stored", "dup"), f.attname)
                                  for f in Message._meta.concrete_fields if f.name != "id"})
        with pytest.raises(IntegrityError), transaction.atomic():
            insert_rows([_message(world, conv, 5, "fine")])
            run_together([
                Statement("UPDATE support_conversation SET last_seq = 9 WHERE id = %s", [conv.pk]),
                Statement("INSERT INTO support_message (tenant_id, conversation_id, seq, public_id, client_id, "
                          "author_type, kind, body, data, created_at) SELECT tenant_id, conversation_id, 2, "
                          "'m_x', client_id, author_type, kind, body, data, created_at FROM support_message "
                          "WHERE client_id = %s", ["dup"]),
                Statement("SELECT 1", rows=True),
            ])
        conv.refresh_from_db()
        assert conv.last_seq == 0
        assert list(Message.objects.filter(conversation=conv).values_list("body", flat=True)) == ["stored"]
