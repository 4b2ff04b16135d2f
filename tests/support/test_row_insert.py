"""support.row_insert writes what bulk_create and bulk_update write: every kind of value the hot
path's rows hold comes back the same (on PostgreSQL they travel as one JSON parameter)."""
from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.translation import gettext_lazy
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


def test_values_of_another_type_are_converted_as_bulk_create_converts_them(world):
    """A value is taken as it is only when it has the field's own type; any other (a number for a
    text column, text or a bool for a number, a lazy text) is converted by the field as
    ``bulk_create`` converts it."""
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    now = timezone.now()

    def made(seq_base):
        return [
            Message(tenant=world.tenant, conversation=conv, seq=seq, client_id=client_id, author_type="agent",
                    kind="text", body=body, data={}, created_at=now)
            for seq, client_id, body in [
                (str(seq_base), seq_base, gettext_lazy("Message is empty")), (True, None, 7),
                (seq_base + 2, f"c{seq_base}", ""),
            ]
        ]

    ours, theirs = made(300), made(400)
    ours[1].seq, theirs[1].seq = 301, 401  # a bool seq would collide with seq 1 of the other batch
    ours[1].data = theirs[1].data = ["a list", {"n": None}]
    with scopes_disabled(), transaction.atomic():
        insert_rows(ours)
        Message.objects.bulk_create(theirs)
        stored = {m.pk: m for m in Message.objects.filter(pk__in=[m.pk for m in ours + theirs])}
        for mine, twin in zip(ours, theirs, strict=True):
            got, expected = _columns(stored[mine.pk]), _columns(stored[twin.pk])
            assert got.pop("seq") + 100 == expected.pop("seq")
            mine_id, twin_id = got.pop("client_id"), expected.pop("client_id")
            assert (mine_id and mine_id.replace("3", "4")) == twin_id
            assert got == expected
        assert [stored[m.pk].client_id for m in ours] == ["300", None, "c300"]
        conv.last_seq, conv.subject = "77", 12
        update_rows([conv], ["last_seq", "subject"])
        conv.refresh_from_db()
        assert (conv.last_seq, conv.subject) == (77, "12")
