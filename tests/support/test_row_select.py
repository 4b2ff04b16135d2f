"""select_joined: the rows and related rows ``select_related`` would give, from hand-written SQL."""
from __future__ import annotations

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_scopes import scope, scopes_disabled

from support.models import Conversation, Message
from support.row_select import select_joined
from support.services.conversations import start_conversation
from support.services.messages import post_message

RELATED = ("contact", "assignee__user", "team")


def _fields(obj) -> dict:
    return {field.attname: getattr(obj, field.attname) for field in obj._meta.concrete_fields}


def test_rows_and_relations_equal_the_orms(world):
    with scope(tenant=world.tenant):
        plain = start_conversation(tenant=world.tenant, contact=world.contact)
        taken = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=taken, author_type=Message.Author.CONTACT, body="hi", client_id="c-1")
    with scopes_disabled():
        Conversation.objects.filter(pk=taken.pk).update(assignee=world.agent, team=world.team, subject="Refund")
        expected = list(Conversation.objects.select_related(*RELATED).filter(tenant=world.tenant).order_by("pk"))
    with CaptureQueriesContext(connection) as queries:
        found = select_joined(Conversation, RELATED, "t0.tenant_id = %s", [world.tenant.pk])
    assert len(queries) == 1
    assert [c.pk for c in found] == [plain.pk, taken.pk]
    for got, want in zip(found, expected, strict=True):
        assert _fields(got) == _fields(want)  # datetimes, JSON and choices converted as the ORM does
        assert not got._state.adding
        with CaptureQueriesContext(connection) as reads:  # every relation came with the row
            related = (got.contact, got.assignee, got.assignee and got.assignee.user, got.team)
        assert len(reads) == 0
        assert _fields(related[0]) == _fields(want.contact)
        if want.assignee is None:
            assert related[1:] == (None, None, None)
        else:
            assert _fields(related[1]) == _fields(want.assignee)
            assert _fields(related[2]) == _fields(want.assignee.user)
            assert _fields(related[3]) == _fields(want.team)


def test_extra_columns_and_a_locking_tail(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        stored = post_message(conversation=conv, author_type=Message.Author.CONTACT, body="hi", client_id="c-9")
    lock = "FOR UPDATE OF t0" if connection.features.has_select_for_update_of else ""
    with transaction.atomic():
        (row,) = select_joined(
            Conversation, RELATED, "t0.id = %s", [conv.pk],
            extra=[("repeat_of", f"(SELECT m.id FROM {Message._meta.db_table} m"
                                 " WHERE m.conversation_id = t0.id AND m.client_id = %s)")],
            extra_params=["c-9"], tail=lock,
        )
    assert (row.pk, row.repeat_of) == (conv.pk, stored.message.pk)
    assert select_joined(Conversation, RELATED, "t0.id = %s", [-1]) == []
