"""Posting messages in batches: the one place message rows are created (``post_message`` is a batch of one).

Invariants (docs/architecture.md, "How a message is written"): ``seq`` is allocated under the
conversation's row lock, so it is gap-free and in commit order; ``(conversation, client_id)`` is
unique, so a retried send returns the original message; the outbox events are written in the same
transaction; the channel-layer wake-ups go out only after commit. A batch costs a constant number
of statements and one commit however many messages it holds, and one send's refusal never fails
the others.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext_lazy
from django_scopes import scopes_disabled

from support import metrics
from support.access import ConversationRef, load_last_messages, lock_query
from support.errors import DomainError, NotFound, ValidationFailed
from support.events import fanout
from support.events.models import OutboxEvent
from support.events.outbox import NewEvent, emit_events
from support.models import Attachment, Conversation, Membership, Message, Tenant
from support.payloads import MESSAGE_RELATED, conversation_payload, message_payload
from support.round_trip import Statement, run_together, together
from support.row_insert import insert_rows, reserve_pks, update_rows
from support.row_select import JoinedSelect, joined_select, select_joined

CLIENT_ID_MAX = 64

# A wake-up carries a message of up to this many body characters (longer ones are read from
# the database by each receiver): channel-layer messages stay small.
CARRIED_BODY_MAX = 2_000

# A visitor's message reopens a conversation in these states.
_REOPENED = (Conversation.Status.RESOLVED, Conversation.Status.SNOOZED, Conversation.Status.PENDING)


def _format(text: str | Promise, values: dict[str, Any]) -> str:
    return str(text) % values


_format_lazy = lazy(_format, str)


def _formatted(text: str | Promise, **values: Any) -> Promise:
    """``text % values``, written when it is read (``%`` on a lazy text would write it now).

    A batch's refusals are raised on the database thread for senders of many languages; each
    transport reads its sender's in that sender's language (``support.errors.DomainError.detail``).
    """
    return cast(Promise, _format_lazy(text, values))  # the stubs type ``lazy`` as the function itself


@dataclass(frozen=True)
class PostResult:
    message: Message  # its ``conversation`` is the locked row as committed
    created: bool
    # ``message_payload(message)`` as the batch built it for the message's outbox event and wake-up
    # (a new message only): the sender's ack reuses it rather than building it again. Shared with
    # the wake-up: read it, never change it.
    payload: dict[str, Any] | None = None

    def message_payload(self) -> dict[str, Any]:
        """The message as clients see it (``support.payloads.message_payload``)."""
        if self.payload is not None:
            return self.payload
        return message_payload(self.message, conversation_public_id=self.message.conversation.public_id)


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to append to the conversation ``to`` names (within its tenant; for a contact, only
    their own conversations).

    ``attachment`` is an upload in hand; ``attachment_id`` names one by its public id, to be found in
    the batch (an unknown, foreign or already sent upload is refused with ``NotFound``). ``tenant``,
    when the caller holds it, is set on the result's conversation.
    """

    to: ConversationRef
    author_type: str
    body: str = ""
    kind: str = Message.Kind.TEXT
    client_id: str | None = None
    author_membership: Membership | None = None
    attachment: Attachment | None = None
    attachment_id: str | None = None
    data: dict[str, Any] | None = None
    tenant: Tenant | None = None


def post_messages(requests: Sequence[SendRequest]) -> list[PostResult | DomainError]:
    """Append every request's message in one transaction; return each one's result, in order.

    A refused request gets its ``DomainError`` and the others go on. A repeated ``client_id``
    (stored earlier, or earlier in the same batch) gets the original with ``created=False``.
    Several messages to one conversation get consecutive seqs in the order of ``requests``.
    A database error (other than the races handled here) is raised: nothing of the batch is stored.
    """
    results: dict[int, PostResult | DomainError] = {}
    bodies: dict[int, str] = {}
    for i, request in enumerate(requests):
        try:
            bodies[i] = _check(request)
        except DomainError as exc:
            results[i] = exc
    # Unscoped because a batch spans tenants: every statement names the tenant of each row it
    # reads or writes (the lock checks each send's access; the rest follows its locked row).
    with scopes_disabled():
        if len(bodies) > 1:
            try:
                results.update(_write(requests, bodies))
            except IntegrityError:
                # A constraint refused the batch at insert or commit (a retry of one of its
                # client_ids committed by another process after our look-up, or an upload purged
                # before our commit): nothing was stored; each send goes again alone, and fails alone.
                results.update({i: _alone(requests[i], body) for i, body in bodies.items()})
        else:
            results.update({i: _alone(requests[i], body) for i, body in bodies.items()})
    return [results[i] for i in range(len(requests))]


def _alone(request: SendRequest, body: str) -> PostResult | DomainError:
    try:
        return _write([request], {0: body})[0]
    except IntegrityError:
        # A retry with the same client_id that committed while this send waited for the row lock:
        # the unique constraint refuses the second row, and the original is the answer.
        if request.client_id is not None:
            existing = _stored_repeats(_same_conversation(request.to) & Q(client_id=request.client_id))
            if existing:
                return PostResult(next(iter(existing.values())), created=False)
        # An upload purged as never sent (support.services.attachments) in the moment between the
        # send's check and its commit: the foreign key refuses the message; say so as for any
        # unknown upload.
        attachment = request.attachment
        if attachment is not None and not Attachment.objects.filter(pk=attachment.pk).exists():
            return NotFound(gettext_lazy("No such attachment"))
        if request.attachment_id is not None and not Attachment.objects.filter(
            tenant_id=request.to.tenant_id, public_id=request.attachment_id
        ).exists():
            return NotFound(gettext_lazy("No such attachment"))
        raise


def _check(request: SendRequest) -> str:
    """The request's cleaned body, or the error that refuses it without reading the database."""
    public_id = request.to.public_id
    if request.to.pk is None and (not isinstance(public_id, str) or not public_id or len(public_id) > 40):
        raise NotFound(gettext_lazy("No such conversation"))
    body = _clean_body(
        request.body, kind=request.kind,
        has_attachment=request.attachment is not None or request.attachment_id is not None,
    )
    client_id = request.client_id
    if client_id is not None and (not client_id or len(client_id) > CLIENT_ID_MAX):
        raise ValidationFailed(_formatted(gettext_lazy("client_id must be 1–%(max)s characters"), max=CLIENT_ID_MAX),
                               code="invalid_client_id")
    if request.kind == Message.Kind.NOTE and request.author_type != Message.Author.AGENT:
        raise ValidationFailed(gettext_lazy("Only agents can write internal notes"), code="forbidden")
    attachment_id = request.attachment_id
    if attachment_id is not None and (not isinstance(attachment_id, str) or len(attachment_id) > 40):
        raise NotFound(gettext_lazy("No such attachment"))
    return body


def _clean_body(body: str, *, kind: str, has_attachment: bool) -> str:
    if not isinstance(body, str):
        raise ValidationFailed(gettext_lazy("body must be a string"), code="invalid_body")
    body = body.replace("\x00", "").strip()
    if len(body) > settings.MESSAGE_MAX_CHARS:
        too_long = _formatted(gettext_lazy("Message is longer than %(max)s characters"), max=settings.MESSAGE_MAX_CHARS)
        raise ValidationFailed(too_long, code="too_long")
    if not body and not has_attachment and kind != Message.Kind.EVENT:
        raise ValidationFailed(gettext_lazy("Message is empty"), code="empty")
    return body


def _same_conversation(ref: ConversationRef) -> Q:
    """Messages of the conversation ``ref`` names (its access check as ``ConversationRef.where``)."""
    where = Q(conversation__tenant_id=ref.tenant_id)
    if ref.pk is not None:
        where &= Q(conversation_id=ref.pk)
    else:
        where &= Q(conversation__public_id=ref.public_id)
    if ref.contact_id is not None:
        where &= Q(conversation__contact_id=ref.contact_id)
    return where


def _stored_repeats(where: Q) -> dict[tuple[int, str], Message]:
    """Stored messages matching ``where``, by (conversation, client_id)."""
    found = Message.objects.select_related(*MESSAGE_RELATED).filter(where)
    return {(m.conversation_id, m.client_id or ""): m for m in found}


@transaction.atomic
def _write(requests: Sequence[SendRequest], bodies: dict[int, str]) -> dict[int, PostResult | DomainError]:
    """The batch's transaction: ``bodies`` holds the checked requests' indexes and cleaned bodies."""
    todo = sorted(bodies)
    with_client_id = [i for i in todo if requests[i].client_id is not None]
    # A lone send's repeat is looked for by the locking statement itself (one read). It reads the
    # table as it was when the statement started, so a retry that commits while it waits for the
    # lock is not seen: then the unique constraint refuses the insert and the original is found
    # (``_alone``). A batch looks its repeats up by a statement after the lock's, which sees such
    # retries (on PostgreSQL in the same round trip: by the sends' refs, as the rows are not read yet).
    repeat_of: list[tuple[str, str]] = []
    repeat_params: list[Any] = []
    if len(with_client_id) == 1:
        repeat_of = [("repeat_of", _REPEAT_OF_SQL)]
        repeat_params = [requests[with_client_id[0]].client_id]
    connection = transaction.get_connection()
    lock = lock_query({requests[i].to for i in todo}, extra=repeat_of, extra_params=repeat_params)
    reads = [lock.statement]
    by_ref = None
    if with_client_id and not repeat_of and connection.vendor == "postgresql":
        by_ref = _repeats_by_ref(requests, with_client_id)
        reads.append(by_ref.statement)
    # On PostgreSQL the writes go in one round trip too, which needs the ids of the new rows before
    # they are written (the conversations' update names each one's last message): drawn from the
    # sequences by the reading round trip, after the locks are held (ids still grow with seqs).
    reserve = reserve_pks((Message, OutboxEvent), len(todo)) if together(connection) else None
    if reserve is not None:
        reads.append(reserve)
    found = run_together(reads)
    rows = lock.read(found[0] or [])
    by_pk = {row.pk: row for row in rows}
    by_public_id: dict[tuple[int, str | None], Conversation] = {(row.tenant_id, row.public_id): row for row in rows}
    results: dict[int, PostResult | DomainError] = {}
    target: dict[int, Conversation] = {}
    for i in todo:
        ref = requests[i].to
        conv = by_pk.get(ref.pk) if ref.pk is not None else by_public_id.get((ref.tenant_id, ref.public_id))
        if conv is None or not ref.reaches(conv):  # returned for another send's ref, not for this one
            results[i] = NotFound(gettext_lazy("No such conversation"))
        else:
            target[i] = conv
    repeats = _repeats(requests, target, annotated=bool(repeat_of),
                       found=by_ref.read(found[1] or []) if by_ref is not None else None)
    uploads = _uploads(requests, target)
    keys = found[-1] if reserve is not None else None

    now = timezone.now()
    created: list[tuple[int, Message]] = []
    firsts: dict[tuple[int, str], int] = {}  # (conversation, client_id) -> index of the first send
    used: set[int] = set()  # uploads sent by this batch
    for i, conv in target.items():
        request = requests[i]
        key = (conv.pk, request.client_id or "")
        if request.client_id is not None and key in repeats:
            original = repeats[key]
            original.conversation = conv
            results[i] = PostResult(original, created=False)
            continue
        if request.client_id is not None and key in firsts:
            continue  # answered below with the first one's message
        attachment = request.attachment
        if request.attachment_id is not None:
            attachment = uploads.get(request.attachment_id)
            if attachment is None or attachment.tenant_id != conv.tenant_id:
                results[i] = NotFound(gettext_lazy("No such attachment"))
                continue
        if attachment is not None:
            if attachment.pk in used:
                results[i] = NotFound(gettext_lazy("No such attachment"))
                continue
            used.add(attachment.pk)
        if request.client_id is not None:
            firsts[key] = i
        conv.last_seq += 1
        created.append((i, Message(
            id=keys[len(created)][0] if keys is not None else None,
            tenant_id=conv.tenant_id, conversation=conv, seq=conv.last_seq, client_id=request.client_id,
            author_type=request.author_type, author_membership=request.author_membership, kind=request.kind,
            body=bodies[i], attachment=attachment, data=request.data or {}, created_at=now,
        )))
    payloads: list[dict[str, Any]] = []
    if created:
        # With ids in hand, the three writes go in one round trip; else each as it is built.
        writes: list[Statement] | None = [] if keys is not None else None
        insert_rows([message for _, message in created], into=writes)
        _update_conversations(requests, created, now, into=writes)
        event_pks = [key[1] for key in keys[:len(created)]] if keys is not None else None
        payloads = _announce(created, event_pks=event_pks, into=writes)
        if writes:
            if _commits_on_exit(connection):
                # The commit goes with the writes: one round trip fewer. Nothing runs between it and
                # this atomic block's exit, whose commit finds no transaction open and sends nothing
                # (psycopg); the commit hooks (the wake-ups) run there as ever. A commit refused by
                # a deferred constraint raises here, like the others, and leaves nothing stored.
                writes.append(Statement("COMMIT"))
            run_together(writes)
    made = {i: PostResult(message, created=True, payload=payload)
            for (i, message), payload in zip(created, payloads, strict=True)}
    results.update(made)
    for i, conv in target.items():
        first = firsts.get((conv.pk, requests[i].client_id or ""))
        if i not in results and first is not None:
            results[i] = PostResult(made[first].message, created=False, payload=made[first].payload)
        tenant = requests[i].tenant
        if tenant is not None:
            conv.tenant = tenant
    return results


def _commits_on_exit(connection: BaseDatabaseWrapper) -> bool:
    """Whether the atomic block ``_write`` runs in is the outermost one, and will commit on exit
    (not a savepoint inside a caller's transaction, which commits later, or not at all)."""
    return (
        len(connection.atomic_blocks) == 1 and connection.commit_on_exit and not connection.savepoint_ids
        and not connection.needs_rollback
    )


def _repeats(
    requests: Sequence[SendRequest], target: dict[int, Conversation], *, annotated: bool,
    found: list[Message] | None,
) -> dict[tuple[int, str], Message]:
    """The stored messages that the batch's client_ids repeat, by (conversation, client_id): one read
    for the whole batch (none for a lone send, whose lock statement looked). ``found``: what
    ``_repeats_by_ref`` read, on PostgreSQL (else they are read here)."""
    if annotated:
        for i, conv in target.items():
            repeat_of = getattr(conv, "repeat_of", None)
            client_id = requests[i].client_id
            if repeat_of is not None and client_id is not None:
                return _read_repeats("t0.id = %s AND t0.client_id = %s", [repeat_of, client_id])
        return {}
    pairs = {(conv.pk, client_id) for i, conv in target.items() if (client_id := requests[i].client_id) is not None}
    if not pairs:
        return {}
    if found is not None:
        stored = {(m.conversation_id, m.client_id or ""): m for m in found}
    else:
        # Index probes over both lists: a filter per pair cost more to build than the read.
        conversation_ids = sorted({pk for pk, _ in pairs})
        client_ids = sorted({client_id for _, client_id in pairs})
        stored = _read_repeats(
            f"t0.conversation_id IN ({', '.join(['%s'] * len(conversation_ids))})"
            f" AND t0.client_id IN ({', '.join(['%s'] * len(client_ids))})",
            [*conversation_ids, *client_ids],
        )
    # A row of one pair's conversation with another pair's client_id may come too (SQLite), or of a
    # conversation a send named but may not reach (PostgreSQL): only the batch's own pairs are kept.
    return {key: message for key, message in stored.items() if key in pairs}


def _repeats_by_ref(requests: Sequence[SendRequest], indexes: list[int]) -> JoinedSelect:
    """The statement that reads the stored messages the sends ``indexes`` (with a client_id) may
    repeat, by the conversations as the sends name them (PostgreSQL: it runs in the lock's round
    trip, before the rows are read). One probe of the (conversation, client_id) index per send, the
    sends as JSON parameters: PostgreSQL (before 17) answers an IN list on each column with a
    descent per combination — ten thousand for a batch of a hundred."""
    by_pk, by_public_id = [], []
    for i in indexes:
        ref, client_id = requests[i].to, requests[i].client_id
        if ref.pk is not None:
            by_pk.append({"c": ref.pk, "k": client_id})
        else:
            by_public_id.append({"t": ref.tenant_id, "p": ref.public_id, "k": client_id})
    return joined_select(Message, MESSAGE_RELATED, f"t0.id IN ({_REPEATS_BY_REF_SQL})",
                         [json.dumps(by_pk), json.dumps(by_public_id)])


def _read_repeats(where: str, params: list[Any]) -> dict[tuple[int, str], Message]:
    """``_stored_repeats`` by hand-written SQL (``where`` on ``t0``, the message table): the hot
    path's reads are not compiled again per batch."""
    found = select_joined(Message, MESSAGE_RELATED, where, params)
    return {(m.conversation_id, m.client_id or ""): m for m in found}


# A lone send's repeat, read by its lock statement: the stored message of the locked
# conversation (``t0``) with the send's client_id.
_REPEAT_OF_SQL = (
    f"(SELECT m.id FROM {Message._meta.db_table} m"  # noqa: S608 - the model's own table name
    " WHERE m.conversation_id = t0.id AND m.client_id = %s LIMIT 1)"
)


# The stored messages of ``[{"c": conversation_id, "k": client_id}, …]`` and of
# ``[{"t": tenant_id, "p": conversation public id, "k": client_id}, …]`` (PostgreSQL).
_REPEATS_BY_REF_SQL = (
    f"SELECT m.id FROM json_to_recordset(%s::json) AS pair(c bigint, k text)"  # noqa: S608 - the models' own tables
    f" JOIN {Message._meta.db_table} m ON m.conversation_id = pair.c AND m.client_id = pair.k"
    f" UNION ALL SELECT m.id FROM json_to_recordset(%s::json) AS ref(t bigint, p text, k text)"
    f" JOIN {Conversation._meta.db_table} c ON c.tenant_id = ref.t AND c.public_id = ref.p"
    f" JOIN {Message._meta.db_table} m ON m.conversation_id = c.id AND m.client_id = ref.k"
)


def _uploads(requests: Sequence[SendRequest], target: dict[int, Conversation]) -> dict[str, Attachment]:
    """The unsent uploads the batch names by public id (one read, none without any)."""
    ids = {requests[i].attachment_id for i in target if requests[i].attachment_id is not None}
    if not ids:
        return {}
    # Each send's tenant is compared with its upload's by the caller.
    found = Attachment.objects.filter(public_id__in=ids).annotate(
        sent=Exists(Message.objects.filter(attachment_id=OuterRef("pk")))
    )
    return {a.public_id: a for a in found if not a.sent}


def _update_conversations(
    requests: Sequence[SendRequest], created: list[tuple[int, Message]], now: Any, *, into: list[Statement] | None
) -> None:
    """Every conversation that got a message, in one statement (its fields as ``post_message``
    always set them); ``into`` collects it (``row_insert.update_rows``)."""
    convs: dict[int, Conversation] = {}
    fields = {"last_seq", "updated_at"}
    for i, message in created:
        request, conv = requests[i], message.conversation
        convs[conv.pk] = conv
        conv.updated_at = now
        if message.kind != Message.Kind.EVENT:
            conv.last_message_at = now
            conv.last_message = message
            fields |= {"last_message_at", "last_message"}
        if (
            request.author_type == Message.Author.AGENT and message.kind == Message.Kind.TEXT
            and conv.first_response_at is None
        ):
            conv.first_response_at = now
            fields.add("first_response_at")
        if request.author_type == Message.Author.AGENT and message.kind != Message.Kind.NOTE:
            # An agent who writes has read everything before it.
            conv.agent_last_read_seq = message.seq
            fields.add("agent_last_read_seq")
        if request.author_type == Message.Author.CONTACT:
            conv.contact_last_read_seq = message.seq
            fields.add("contact_last_read_seq")
            if conv.status in _REOPENED:
                # A visitor writing again reopens the conversation.
                conv.status = Conversation.Status.OPEN
                conv.snoozed_until = None
                conv.resolved_at = None
                fields |= {"status", "snoozed_until", "resolved_at"}
    # The rows are locked and were read under the lock: writing back a field a send did not change
    # writes the value it already has.
    update_rows(list(convs.values()), sorted(fields), into=into)


def _announce(
    created: list[tuple[int, Message]], *, event_pks: list[int] | None, into: list[Statement] | None
) -> list[dict[str, Any]]:
    """The batch's outbox events (one multi-row insert; ``emit_events``' ``pks`` and ``into``), and
    its wake-ups once it commits; returns each message's payload (``message_payload``), in order."""
    payloads = [message_payload(m, conversation_public_id=m.conversation.public_id) for _, m in created]
    emit_events([
        NewEvent(m.tenant_id, "message.created", {"message": payload}, ordering_key=m.conversation.public_id)
        for (_, m), payload in zip(created, payloads, strict=True)
    ], pks=event_pks, into=into)
    wakeups: list[tuple[str, dict[str, Any]]] = []
    convs: dict[int, Conversation] = {}
    for (_, message), payload in zip(created, payloads, strict=True):
        conv = convs[message.conversation_id] = message.conversation
        seq_event: dict[str, Any] = {"type": "conversation.seq", "conversation": conv.pk, "seq": message.seq}
        if len(message.body) <= CARRIED_BODY_MAX:
            # Published only after commit, so it is true; a receiver with a gap still reads the database.
            seq_event["message"] = payload
        wakeups.append((fanout.conversation_group(conv.tenant_id, conv.pk), seq_event))
    # When this transaction is ours alone, the rows we hold are what commits: the inbox rows are
    # built from them. Inside a caller's transaction, later changes may follow: read after commit.
    ours = len(transaction.get_connection().atomic_blocks) == 1
    if ours:
        load_last_messages(convs.values())  # only a conversation that got no message but an event
    inbox = [(conv.tenant_id, conv.pk, conversation_payload(conv) if ours else None) for conv in convs.values()]

    def wake() -> None:
        metrics.messages_committed(wakeups)
        for group, event in wakeups:
            fanout.publish(group, event)
        # Agents' inbox rows show the last message time and unread count, so they change too:
        # one row per conversation, its state after the batch.
        for tenant_id, conv_id, payload in inbox:
            fanout.publish_inbox(tenant_id, conv_id, payload=payload)

    transaction.on_commit(wake)
    return payloads
