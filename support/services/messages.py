"""Posting messages: the one place a message row is created.

Invariants (docs/architecture.md): ``seq`` is allocated under the conversation's row lock, so it
is gap-free and in commit order; ``(conversation, client_id)`` is unique, so a retried send
returns the original message; the outbox event is written in the same transaction; the
channel-layer wake-up goes out only after commit.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from push import fanout
from push.outbox import emit_event
from support.access import lock_conversation
from support.errors import NotFound, ValidationFailed
from support.models import Attachment, Contact, Conversation, Membership, Message, Tenant
from support.payloads import CONVERSATION_RELATED, conversation_payload, message_payload

CLIENT_ID_MAX = 64


# A wake-up carries a message of up to this many body characters (longer ones are read from
# the database by each receiver): channel-layer messages stay small.
CARRIED_BODY_MAX = 2_000


@dataclass(frozen=True)
class PostResult:
    message: Message  # its ``conversation`` is the locked row as committed
    created: bool


def post_message(
    *,
    conversation: Conversation,
    author_type: str,
    body: str = "",
    kind: str = Message.Kind.TEXT,
    client_id: str | None = None,
    author_membership: Membership | None = None,
    attachment: Attachment | None = None,
    data: dict[str, Any] | None = None,
) -> PostResult:
    """Append a message to ``conversation`` and return it once committed.

    A repeat of an earlier ``client_id`` returns the earlier message with ``created=False``.
    """
    body = _check(body, kind, author_type, client_id, attachment)
    pk = conversation.pk

    def lock(annotate: dict[str, Any]) -> Conversation:
        return (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("tenant", *CONVERSATION_RELATED)
            .annotate(**annotate)
            .get(pk=pk)
        )

    return _post_or_find(lock, Q(conversation_id=pk), author_type, body, kind, client_id, author_membership,
                         attachment, data)


def post_message_to(
    *,
    tenant: Tenant,
    public_id: object,
    contact: Contact | None = None,
    author_type: str,
    body: str = "",
    kind: str = Message.Kind.TEXT,
    client_id: str | None = None,
    author_membership: Membership | None = None,
    attachment: Attachment | None = None,
) -> PostResult:
    """``post_message`` to a conversation named by its public id (for a contact: only their own).

    The access check is the row-lock statement itself (``lock_conversation``): one read instead
    of two. A missing or foreign id raises ``NotFound``.
    """
    body = _check(body, kind, author_type, client_id, attachment)
    return _post_or_find(
        lambda annotate: lock_conversation(tenant, public_id, contact=contact, annotate=annotate),
        Q(conversation__tenant=tenant, conversation__public_id=public_id),
        author_type, body, kind, client_id, author_membership, attachment, None,
    )


def _check(body: str, kind: str, author_type: str, client_id: str | None, attachment: Attachment | None) -> str:
    body = _clean_body(body, kind=kind, has_attachment=attachment is not None)
    if client_id is not None and (not client_id or len(client_id) > CLIENT_ID_MAX):
        raise ValidationFailed(f"client_id must be 1–{CLIENT_ID_MAX} characters", code="invalid_client_id")
    if kind == Message.Kind.NOTE and author_type != Message.Author.AGENT:
        raise ValidationFailed("Only agents can write internal notes", code="forbidden")
    return body


def _post_or_find(
    lock: Callable[[dict[str, Any]], Conversation],
    same_conversation: Q,
    author_type: str,
    body: str,
    kind: str,
    client_id: str | None,
    author_membership: Membership | None,
    attachment: Attachment | None,
    data: dict[str, Any] | None,
) -> PostResult:
    try:
        return _post(lock, author_type, body, kind, client_id, author_membership, attachment, data)
    except IntegrityError:
        # A retry with the same client_id that committed while this send waited for the row lock:
        # the unique constraint refuses the second row, and the original is the answer.
        if client_id is not None:
            existing = (
                Message.objects.select_related("conversation").filter(same_conversation, client_id=client_id).first()
            )
            if existing is not None:
                return PostResult(existing, created=False)
        # An upload purged as never sent (support.services.attachments) in the moment between the
        # send's check and its commit: the foreign key refuses the message; say so as for any
        # unknown upload.
        if attachment is not None and not Attachment.objects.filter(pk=attachment.pk).exists():
            raise NotFound("No such attachment") from None
        raise


def _clean_body(body: str, *, kind: str, has_attachment: bool) -> str:
    if not isinstance(body, str):
        raise ValidationFailed("body must be a string", code="invalid_body")
    body = body.replace("\x00", "").strip()
    if len(body) > settings.MESSAGE_MAX_CHARS:
        raise ValidationFailed(f"Message is longer than {settings.MESSAGE_MAX_CHARS} characters", code="too_long")
    if not body and not has_attachment and kind != Message.Kind.EVENT:
        raise ValidationFailed("Message is empty", code="empty")
    return body


@transaction.atomic
def _post(
    lock: Callable[[dict[str, Any]], Conversation],
    author_type: str,
    body: str,
    kind: str,
    client_id: str | None,
    author_membership: Membership | None,
    attachment: Attachment | None,
    data: dict[str, Any] | None,
) -> PostResult:
    # A repeated client_id is looked for by the locking statement itself. A retry that commits
    # while this one waits for the lock may not be seen by it (it reads the table as it was when
    # it started): then the unique constraint refuses the insert and the caller finds the original.
    repeat: dict[str, Any] = {}
    if client_id is not None:
        repeat["repeat_of"] = Subquery(
            Message.objects.filter(conversation_id=OuterRef("pk"), client_id=client_id).values("pk")[:1]
        )
    conv = lock(repeat)
    repeat_of = getattr(conv, "repeat_of", None)
    if repeat_of is not None:
        existing = Message.objects.get(pk=repeat_of)
        existing.conversation = conv
        return PostResult(existing, created=False)
    now = timezone.now()
    conv.last_seq += 1
    message = Message.objects.create(
        tenant_id=conv.tenant_id,
        conversation=conv,
        seq=conv.last_seq,
        client_id=client_id,
        author_type=author_type,
        author_membership=author_membership,
        kind=kind,
        body=body,
        attachment=attachment,
        data=data or {},
        created_at=now,
    )
    fields = ["last_seq", "updated_at"]
    conv.updated_at = now
    if kind != Message.Kind.EVENT:
        conv.last_message_at = now
        conv.last_message = message
        fields += ["last_message_at", "last_message"]
    if author_type == Message.Author.AGENT and kind == Message.Kind.TEXT and conv.first_response_at is None:
        conv.first_response_at = now
        fields.append("first_response_at")
    if author_type == Message.Author.AGENT and kind != Message.Kind.NOTE:
        # An agent who writes has read everything before it.
        conv.agent_last_read_seq = conv.last_seq
        fields.append("agent_last_read_seq")
    if author_type == Message.Author.CONTACT:
        conv.contact_last_read_seq = conv.last_seq
        fields.append("contact_last_read_seq")
        if conv.status in (Conversation.Status.RESOLVED, Conversation.Status.SNOOZED, Conversation.Status.PENDING):
            # A visitor writing again reopens the conversation.
            conv.status = Conversation.Status.OPEN
            conv.snoozed_until = None
            conv.resolved_at = None
            fields += ["status", "snoozed_until", "resolved_at"]
    conv.save(update_fields=fields)
    message.conversation = conv
    payload = message_payload(message, conversation_public_id=conv.public_id)
    emit_event(tenant=conv.tenant, type="message.created", payload={"message": payload}, ordering_key=conv.public_id)
    seq_event: dict[str, Any] = {"type": "conversation.seq", "conversation": conv.pk, "seq": conv.last_seq}
    if len(body) <= CARRIED_BODY_MAX:
        # Published only after commit, so it is true; a receiver with a gap still reads the database.
        seq_event["message"] = payload
    # When this transaction is ours alone, the row we hold is what commits: the inbox row is built
    # from it. Inside a caller's transaction, later changes may follow: it is read after commit.
    inbox = conversation_payload(conv) if len(transaction.get_connection().atomic_blocks) == 1 else None
    tenant_id, conv_id = conv.tenant_id, conv.pk

    def wake() -> None:
        fanout.publish(fanout.conversation_group(tenant_id, conv_id), seq_event)
        # Agents' inbox rows show the last message time and unread count, so they change too.
        fanout.publish_inbox(tenant_id, conv_id, payload=inbox)

    transaction.on_commit(wake)
    return PostResult(message, created=True)
