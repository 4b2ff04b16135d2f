"""post_messages: a batch in one transaction — each send stored once, gapless seqs, its own errors,
and a statement count that does not grow with the batch."""
from __future__ import annotations

import threading

import pytest
from django.core.files.base import ContentFile
from django.db import connection, connections, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support import round_trip
from support.access import ConversationRef
from support.errors import NotFound, ValidationFailed
from support.events.dispatcher import fan_out
from support.events.handlers import handlers_for
from support.events.models import OutboxDelivery, OutboxEvent
from support.models import Attachment, Contact, Conversation, Message
from support.payloads import MESSAGE_RELATED, message_payload
from support.services import message_batch
from support.services.attachments import store_attachment
from support.services.conversations import start_conversation
from support.services.message_batch import PostResult, SendRequest, post_messages
from support.services.messages import post_message

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _conv(world, contact: Contact | None = None) -> Conversation:
    with scope(tenant=world.tenant):
        return start_conversation(tenant=world.tenant, contact=contact or world.contact)


def _upload(world) -> Attachment:
    with scope(tenant=world.tenant):
        return store_attachment(tenant=world.tenant, uploaded_file=ContentFile(PNG), name="shot.png")


def _by_visitor(world, conv: Conversation, body: str, client_id: str | None = None, **kw) -> SendRequest:
    contact_id = kw.pop("contact_id", world.contact.pk)
    return SendRequest(
        to=ConversationRef(world.tenant.pk, public_id=conv.public_id, contact_id=contact_id),
        author_type=Message.Author.CONTACT, body=body, client_id=client_id, **kw,
    )


def _by_agent(world, conv: Conversation, body: str, client_id: str | None = None, **kw) -> SendRequest:
    return SendRequest(
        to=ConversationRef(world.tenant.pk, public_id=conv.public_id), author_type=Message.Author.AGENT,
        body=body, client_id=client_id, author_membership=world.agent, **kw,
    )


def _stored(conv: Conversation) -> list[Message]:
    with scopes_disabled():
        return list(Message.objects.filter(conversation=conv).order_by("seq"))


def _assert_matches_row(result: PostResult) -> None:
    with scopes_disabled():
        row = Message.objects.get(pk=result.message.pk)
    got = result.message
    assert (got.seq, got.body, got.client_id, got.kind, got.conversation_id, got.public_id) == (
        row.seq, row.body, row.client_id, row.kind, row.conversation_id, row.public_id
    )
    assert got.conversation.last_seq >= got.seq


@pytest.fixture(params=["together", "one by one"])
def statements_sent(request, monkeypatch) -> str:
    """Both ways a batch reaches the database: its statements together (PostgreSQL with client-side
    binding) and one by one (SQLite, or PostgreSQL with server-side binding: then the repeats are
    read after the lock and the new rows' ids come back from their insert)."""
    if request.param == "one by one":
        monkeypatch.setattr(round_trip, "together", lambda connection: False)
        monkeypatch.setattr(message_batch, "together", lambda connection: False)
    return request.param


def test_a_mixed_batch_stores_each_valid_send_once_and_refuses_the_others_alone(
    world, outsider, settings, statements_sent
):
    settings.MESSAGE_MAX_CHARS = 50
    a, b, foreign = _conv(world), _conv(world), _conv(outsider)
    with scope(tenant=world.tenant):
        other = Contact.objects.create(tenant=world.tenant, name="Someone else")
        stored = post_message(conversation=a, author_type="contact", body="earlier", client_id="c-stored").message
    shot, reused = _upload(world), _upload(world)
    requests = [
        _by_visitor(world, a, "one", "c-1"),
        _by_agent(world, a, "two", "c-2"),
        _by_visitor(world, b, "in b", "c-3"),
        _by_visitor(world, a, "one again", "c-1"),  # the retry of c-1, in the same batch
        _by_visitor(world, a, "earlier again", "c-stored"),  # the retry of a stored send
        _by_agent(world, foreign, "not ours", "c-4"),  # another tenant's conversation
        _by_visitor(world, a, "x" * 51, "c-5"),  # too long
        _by_visitor(world, a, "", "c-6", attachment_id="at_missing", kind=Message.Kind.ATTACHMENT),
        _by_visitor(world, a, "not yours", "c-7", contact_id=other.pk),  # another visitor's conversation
        _by_visitor(world, b, "", "c-8", attachment_id=shot.public_id, kind=Message.Kind.ATTACHMENT),
        _by_agent(world, b, "note", "c-9", kind=Message.Kind.NOTE),
        _by_visitor(world, a, "", "c-10", attachment=reused, kind=Message.Kind.ATTACHMENT),
        _by_visitor(world, b, "", "c-11", attachment=reused, kind=Message.Kind.ATTACHMENT),  # sent above
        _by_visitor(world, a, "   ", "c-12"),  # empty
        _by_agent(world, a, "three", None),
    ]
    results = post_messages(requests)

    assert len(results) == len(requests)
    errors = {i: (type(r).__name__, r.code) for i, r in enumerate(results) if not isinstance(r, PostResult)}
    assert errors == {
        5: ("NotFound", "not_found"), 6: ("ValidationFailed", "too_long"), 7: ("NotFound", "not_found"),
        8: ("NotFound", "not_found"), 12: ("NotFound", "not_found"), 13: ("ValidationFailed", "empty"),
    }
    ok = {i: r for i, r in enumerate(results) if isinstance(r, PostResult)}
    assert [i for i, r in ok.items() if r.created] == [0, 1, 2, 9, 10, 11, 14]
    assert ok[3].message.pk == ok[0].message.pk and not ok[3].created
    assert ok[4].message.pk == stored.pk and not ok[4].created
    for result in ok.values():
        _assert_matches_row(result)

    # Gapless, in arrival order, each send once.
    assert [(m.seq, m.body, m.client_id) for m in _stored(a)] == [
        (1, "earlier", "c-stored"), (2, "one", "c-1"), (3, "two", "c-2"), (4, "", "c-10"), (5, "three", None)
    ]
    assert [(m.seq, m.client_id, m.attachment_id) for m in _stored(b)] == [
        (1, "c-3", None), (2, "c-8", shot.pk), (3, "c-9", None)
    ]
    assert _stored(foreign) == []
    with scopes_disabled():
        a.refresh_from_db()
        b.refresh_from_db()
        created_ids = {ok[i].message.public_id for i in (0, 1, 2, 9, 10, 11, 14)}
        events = OutboxEvent.objects.filter(type="message.created", payload__message__id__in=created_ids)
        assert sorted(e.payload["message"]["id"] for e in events) == sorted(created_ids)
        # Every event names the handlers of its type; the dispatcher writes their deliveries.
        expected = sorted(h.name for h in handlers_for("message.created"))
        assert expected and all(sorted(e.handlers) == expected and not e.fanned_out for e in events)
        fan_out(now=timezone.now(), limit=1000)
        assert all(
            sorted(OutboxDelivery.objects.filter(event=e).values_list("handler", flat=True)) == expected
            for e in events
        )
    assert (a.last_seq, b.last_seq) == (5, 3)
    assert a.last_message_id == ok[14].message.pk and b.last_message_id == ok[10].message.pk
    assert (a.agent_last_read_seq, a.contact_last_read_seq) == (5, 4)
    assert (b.agent_last_read_seq, b.contact_last_read_seq) == (0, 2)  # a note is not a reading


def test_a_batch_sets_every_conversation_field_as_sends_one_by_one_do(world, outsider):
    """The same sends, one by one in one tenant and as one batch in another, leave the
    conversations in the same state (reopening, first response, read seqs, last message)."""

    def scenario(w) -> tuple[list[Conversation], list[SendRequest]]:
        convs = [_conv(w), _conv(w), _conv(w)]
        with scopes_disabled():
            Conversation.objects.filter(pk=convs[0].pk).update(status=Conversation.Status.RESOLVED)
            Conversation.objects.filter(pk=convs[1].pk).update(status=Conversation.Status.SNOOZED)
        requests = [
            _by_agent(w, convs[0], "note first", kind=Message.Kind.NOTE),
            _by_visitor(w, convs[0], "back again"),
            _by_agent(w, convs[1], "reply"),
            _by_agent(w, convs[1], "reply 2"),
            SendRequest(to=ConversationRef(w.tenant.pk, pk=convs[2].pk), author_type=Message.Author.SYSTEM,
                        kind=Message.Kind.EVENT, data={"event": "assigned"}),
            _by_visitor(w, convs[2], "hello"),
            SendRequest(to=ConversationRef(w.tenant.pk, pk=convs[2].pk), author_type=Message.Author.SYSTEM,
                        kind=Message.Kind.EVENT, data={"event": "status_changed"}),
        ]
        return convs, requests

    def state(convs: list[Conversation]) -> list[tuple]:
        with scopes_disabled():
            rows = [Conversation.objects.select_related("last_message").get(pk=c.pk) for c in convs]
        return [
            (c.status, c.last_seq, c.agent_last_read_seq, c.contact_last_read_seq, c.first_response_at is not None,
             c.last_message.body if c.last_message else None, c.last_message_at is not None, c.resolved_at)
            for c in rows
        ]

    one_convs, one_requests = scenario(world)
    for request in one_requests:
        assert isinstance(post_messages([request])[0], PostResult)
    batch_convs, batch_requests = scenario(outsider)
    assert all(isinstance(r, PostResult) for r in post_messages(batch_requests))
    assert state(batch_convs) == state(one_convs)
    assert state(batch_convs)[0][0] == Conversation.Status.OPEN


def _batch(world, convs: list[Conversation], n: int, prefix: str) -> list[SendRequest]:
    """``n`` sends spread over ``convs``: visitors and agents, one upload, one stored retry."""
    shot = _upload(world)
    requests = [
        (_by_visitor if k % 2 else _by_agent)(world, convs[k % len(convs)], f"m{k}", f"{prefix}-{k}")
        for k in range(n - 2)
    ]
    requests.append(_by_visitor(world, convs[0], "", f"{prefix}-shot", attachment_id=shot.public_id,
                                kind=Message.Kind.ATTACHMENT))
    requests.append(_by_visitor(world, convs[0], "retry", "stored"))
    return requests


def test_a_batch_costs_the_same_statements_whatever_its_size(world):
    """Pinned: lock, repeat look-up, upload look-up, message insert, conversation update, event
    insert — six statements for 4 sends as for 16 (and the savepoint pair of the test's
    transaction), in three round trips on PostgreSQL (which also draws the new rows' ids); the
    events' deliveries are the dispatcher's to write. SQLite caps a statement at 999 parameters, so
    its multi-row inserts split past about a hundred rows; PostgreSQL's do not."""
    small_convs = [_conv(world) for _ in range(2)]
    big_convs = [_conv(world) for _ in range(8)]
    with scope(tenant=world.tenant):
        post_message(conversation=small_convs[0], author_type="contact", body="x", client_id="stored")
        post_message(conversation=big_convs[0], author_type="contact", body="x", client_id="stored")
    small, big = _batch(world, small_convs, 4, "s"), _batch(world, big_convs, 16, "b")
    small_sent, big_sent = [], []
    with connection.execute_wrapper(_recording(small_sent)):
        small_results = post_messages(small)
    with connection.execute_wrapper(_recording(big_sent)):
        big_results = post_messages(big)
    assert [r.created for r in small_results if isinstance(r, PostResult)] == [True] * 3 + [False]
    assert [r.created for r in big_results if isinstance(r, PostResult)] == [True] * 15 + [False]
    assert len(big_sent) == len(small_sent), big_sent
    # The round trips, and the statements of each (several in one on PostgreSQL: support/round_trip.py).
    trips = [[s.split(None, 1)[0].upper() for s in sql.split("; ")] for sql in big_sent
             if not sql.startswith(("SAVEPOINT", "RELEASE"))]
    if connection.vendor == "postgresql":
        # The lock, the repeats and the new rows' ids; the uploads (an ORM read); the three writes.
        assert trips == [["SELECT", "SELECT", "SELECT"], ["SELECT"], ["INSERT", "UPDATE", "INSERT"]], big_sent
    else:
        assert trips == [["SELECT"], ["SELECT"], ["SELECT"], ["INSERT"], ["UPDATE"], ["INSERT"]], big_sent


def _recording(sent: list[str]):
    def record(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    return record


def test_a_retry_the_look_up_missed_is_found_by_the_constraint_and_fails_no_one(world, monkeypatch):
    """A retry of a client_id committed by another process after the batch's look-up: the unique
    constraint refuses the batch, and each send goes again alone — the retry gets the original,
    the others are stored once."""
    conv = _conv(world)
    with scope(tenant=world.tenant):
        original = post_message(conversation=conv, author_type="contact", body="first", client_id="c-1").message
    real = message_batch._repeats
    calls = []

    def missing_the_first_time(*args, **kwargs):
        calls.append(1)
        return {} if len(calls) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(message_batch, "_repeats", missing_the_first_time)
    results = post_messages([
        _by_visitor(world, conv, "new", "c-2"), _by_visitor(world, conv, "first", "c-1"),
        _by_agent(world, conv, "reply", "c-3"),
    ])
    assert [(r.message.seq, r.created) for r in results if isinstance(r, PostResult)] == [
        (2, True), (1, False), (3, True)
    ]
    assert results[1].message.pk == original.pk
    assert [m.client_id for m in _stored(conv)] == ["c-1", "c-2", "c-3"]


def test_a_lone_send_gets_its_refusal_as_a_batch_does(world, outsider):
    assert isinstance(post_messages([_by_agent(world, _conv(outsider), "hi", "c")])[0], NotFound)
    assert isinstance(post_messages([_by_agent(world, _conv(world), "  ")])[0], ValidationFailed)


def test_each_result_carries_the_payload_its_outbox_event_holds(world):
    """The payload a new message's result hands on (for the sender's ack) is the one the batch built
    for its event and wake-up, and it is what ``message_payload`` makes of the stored row; a repeat
    in the batch shares the first send's, and a stored repeat's is built from the original."""
    conv = _conv(world)
    with scope(tenant=world.tenant):
        post_message(conversation=conv, author_type="contact", body="earlier", client_id="c-stored")
    results = post_messages([
        _by_visitor(world, conv, "one", "c-1"), _by_agent(world, conv, "two", "c-2"),
        _by_visitor(world, conv, "one again", "c-1"), _by_visitor(world, conv, "earlier again", "c-stored"),
    ])
    assert all(isinstance(r, PostResult) for r in results)
    first, second, again, stored = results
    with scopes_disabled():
        events = {e.payload["message"]["id"]: e.payload["message"]
                  for e in OutboxEvent.objects.filter(type="message.created")}
        for result in (first, second, stored):
            row = Message.objects.select_related(*MESSAGE_RELATED).get(pk=result.message.pk)
            assert result.message_payload() == message_payload(row, conversation_public_id=conv.public_id)
    for result in (first, second):
        assert result.payload is not None and result.payload == events[result.message.public_id]
    assert again.payload is first.payload and not again.created
    assert stored.payload is None and stored.message_payload()["body"] == "earlier"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_retry_committed_while_the_batch_waits_for_its_lock_is_its_answer(require_postgres, world, monkeypatch):
    """PostgreSQL: the batch's repeat look-up goes in the lock's round trip, by the sends' refs; it
    runs after the lock is granted, so a retry committed while the batch waited is found there —
    the original is the answer, and the batch is not written again send by send (``_alone``)."""
    conv = _conv(world)
    alone, real_alone, batch_thread = [], message_batch._alone, threading.current_thread()

    def counted(*args):
        if threading.current_thread() is batch_thread:
            alone.append(args)
        return real_alone(*args)

    monkeypatch.setattr(message_batch, "_alone", counted)
    locked, waiting = threading.Event(), threading.Event()
    original = []

    def other_process() -> None:
        with scope(tenant=world.tenant), transaction.atomic():
            Conversation.objects.select_for_update().get(pk=conv.pk)
            locked.set()
            original.append(post_message(conversation=conv, author_type="contact", body="first",
                                         client_id="c-1").message)
            waiting.wait(10)
        connections.close_all()

    thread = threading.Thread(target=other_process)
    thread.start()
    assert locked.wait(10)
    threading.Timer(0.5, waiting.set).start()  # the batch below blocks on the lock meanwhile
    results = post_messages([_by_visitor(world, conv, "first", "c-1"), _by_agent(world, conv, "reply", "c-2")])
    thread.join(10)
    assert alone == []
    assert [(r.message.seq, r.created) for r in results if isinstance(r, PostResult)] == [(1, False), (2, True)]
    assert results[0].message.pk == original[0].pk
    assert [(m.seq, m.client_id) for m in _stored(conv)] == [(1, "c-1"), (2, "c-2")]


def test_new_rows_get_ids_in_seq_order_and_a_refusal_wastes_no_seq(world):
    """On PostgreSQL the ids are drawn before the rows are written (the writes go in one round
    trip); in either database, a conversation's messages and their events have ids in seq order,
    each message is its conversation's last, and a refused send leaves no gap in the seqs."""
    a, b = _conv(world), _conv(world)
    results = post_messages([
        _by_agent(world, a, "a1", "k-1"), _by_agent(world, b, "b1", "k-2"), _by_agent(world, a, "   ", "k-3"),
        _by_agent(world, a, "a2", "k-4"), _by_visitor(world, b, "b2", "k-5"),
    ])
    assert isinstance(results[2], ValidationFailed)
    for conv in (a, b):
        stored = _stored(conv)
        assert [m.seq for m in stored] == [1, 2]
        assert [m.pk for m in stored] == sorted(m.pk for m in stored)
        with scopes_disabled():
            conv.refresh_from_db()
            events = OutboxEvent.objects.filter(ordering_key=conv.public_id, type="message.created").order_by("pk")
        assert conv.last_message_id == stored[-1].pk
        assert [e.payload["message"]["id"] for e in events] == [m.public_id for m in stored]


@pytest.mark.django_db(transaction=True)
def test_the_commit_goes_with_the_writes_only_when_the_batch_is_the_transaction(world):
    """On PostgreSQL a batch that is its own transaction sends its COMMIT with its writes (one round
    trip); inside a caller's transaction it never commits: the caller's rollback takes its messages
    and events away. SQLite commits as Django does, at the block's exit."""
    conv = _conv(world)
    sent: list[str] = []
    with connection.execute_wrapper(_recording(sent)):
        assert post_messages([_by_agent(world, conv, "alone", "c-1"), _by_agent(world, conv, "two", "c-2")])
    writes = [sql for sql in sent if sql.startswith("INSERT")]
    assert len(writes) == (1 if connection.vendor == "postgresql" else 2)
    assert writes[0].endswith("; COMMIT") == (connection.vendor == "postgresql")
    sent.clear()
    with pytest.raises(RuntimeError), connection.execute_wrapper(_recording(sent)), transaction.atomic():
        results = post_messages([_by_agent(world, conv, "in a caller's", "c-3"), _by_agent(world, conv, "x", "c-4")])
        assert all(isinstance(r, PostResult) and r.created for r in results)
        raise RuntimeError("the caller changes its mind")
    assert not any("COMMIT" in sql for sql in sent), sent
    assert [m.client_id for m in _stored(conv)] == ["c-1", "c-2"]
    with scopes_disabled():
        assert not OutboxEvent.objects.filter(payload__message__client_id__in=["c-3", "c-4"]).exists()
