"""support.row_insert writes what bulk_create and bulk_update write: every kind of value the hot
path's rows hold comes back the same (on PostgreSQL they travel as one JSON parameter)."""
from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support.events.models import OutboxEvent
from support.models import Conversation, Message
from support.row_insert import insert_rows, update_rows
from support.services.conversations import start_conversation

TRICKY = 'quote " backslash \\ apostrophe \' percent %s %(x)s unicode é 漢字 🙂 newline\n tab\t'


def _columns(obj, exclude=("id", "public_id")):
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields if f.name not in exclude}


def test_inserted_rows_read_back_as_bulk_create_writes_them(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    now = timezone.now()

    def made(n):
        return [
            Message(tenant=world.tenant, conversation=conv, seq=100 + n + k,
                    client_id=None if k else f"c{n}{TRICKY[:50]}", author_type="agent",
                    author_membership=world.agent if k else None, kind="text",
                    body=TRICKY * (k + 1), data={"email": {"subject": TRICKY, "n": [1, 2.5, None, True]}} if k else {},
                    created_at=now - timedelta(microseconds=k))
            for k in range(3)
        ]

    ours, theirs = made(0), made(10)
    with scopes_disabled(), transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            insert_rows(ours)
        Message.objects.bulk_create(theirs)
        events = [OutboxEvent(tenant=world.tenant, type="t.x", payload={"m": TRICKY, "list": [{"a": None}]},
                              ordering_key=TRICKY[:60], handlers=["a", "b"]) for _ in range(2)]
        insert_rows(events, returning_pk=False)
        assert len(queries.captured_queries) == 1
        assert all(m.pk is not None and not m._state.adding for m in ours)
        stored = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in ours + theirs])}
        for mine, twin in zip(ours, theirs, strict=True):
            got, expected = _columns(stored[mine.pk]), _columns(stored[twin.pk])
            assert got.pop("seq") + 10 == expected.pop("seq")
            assert got.pop("client_id") == (mine.client_id and f"c0{TRICKY[:50]}")
            expected.pop("client_id")
            assert got == expected
        assert [(e.payload, e.ordering_key, e.handlers, e.fanned_out) for e in OutboxEvent.objects.filter(type="t.x")] \
            == [({"m": TRICKY, "list": [{"a": None}]}, TRICKY[:60], ["a", "b"], False)] * 2


def test_updated_rows_read_back_as_set(world):
    with scope(tenant=world.tenant):
        convs = [start_conversation(tenant=world.tenant, contact=world.contact) for _ in range(3)]
    later = timezone.now() + timedelta(minutes=5)
    for k, conv in enumerate(convs):
        conv.last_seq = 40 + k
        conv.updated_at = later
        conv.snoozed_until = None if k else later
        conv.status = Conversation.Status.PENDING
        conv.subject = TRICKY  # not among the fields written
    with scopes_disabled(), transaction.atomic():
        with CaptureQueriesContext(connection) as queries:
            update_rows(convs, ["last_seq", "snoozed_until", "status", "updated_at"])
        assert len(queries.captured_queries) == 1
        stored = {c.pk: c for c in Conversation.objects.filter(pk__in=[c.pk for c in convs])}
    for k, conv in enumerate(convs):
        row = stored[conv.pk]
        assert (row.last_seq, row.updated_at, row.snoozed_until, row.status, row.subject) == (
            40 + k, later, None if k else later, "pending", "")
