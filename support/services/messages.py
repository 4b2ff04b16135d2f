"""Posting messages: the one place a message row is created.

Invariants (docs/architecture.md): ``seq`` is allocated under the conversation's row lock, so it
is gap-free and in commit order; ``(conversation, client_id)`` is unique, so a retried send
returns the original message; the outbox event is written in the same transaction; the
channel-layer wake-up goes out only after commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from push import fanout
from push.outbox import emit_event
from support.errors import ValidationFailed
from support.models import Attachment, Conversation, Membership, Message
from support.payloads import message_payload

CLIENT_ID_MAX = 64


@dataclass(frozen=True)
class PostResult:
    message: Message
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
    body = _clean_body(body, kind=kind, has_attachment=attachment is not None)
    if client_id is not None and (not client_id or len(client_id) > CLIENT_ID_MAX):
        raise ValidationFailed(f"client_id must be 1–{CLIENT_ID_MAX} characters", code="invalid_client_id")
    if kind == Message.Kind.NOTE and author_type != Message.Author.AGENT:
        raise ValidationFailed("Only agents can write internal notes", code="forbidden")
    try:
        return _post(conversation, author_type, body, kind, client_id, author_membership, attachment, data)
    except IntegrityError:
        # Only reachable if two sends with one client_id raced past the lock (not possible under
        # the row lock, but the unique constraint is the last line of defence).
        if client_id is None:
            raise
        existing = Message.objects.get(conversation_id=conversation.pk, client_id=client_id)
        return PostResult(existing, created=False)


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
    conversation: Conversation,
    author_type: str,
    body: str,
    kind: str,
    client_id: str | None,
    author_membership: Membership | None,
    attachment: Attachment | None,
    data: dict[str, Any] | None,
) -> PostResult:
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if client_id is not None:
        # Checked under the lock: a concurrent retry waits above, then finds the first one here.
        existing = Message.objects.filter(conversation_id=conv.pk, client_id=client_id).first()
        if existing is not None:
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
        fields.append("last_message_at")
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
    emit_event(
        tenant=conv.tenant,
        type="message.created",
        payload={"message": message_payload(message, conversation_public_id=conv.public_id)},
        ordering_key=conv.public_id,
    )
    tenant_id, conv_id, seq = conv.tenant_id, conv.pk, conv.last_seq

    def wake() -> None:
        fanout.publish(
            fanout.conversation_group(tenant_id, conv_id),
            {"type": "conversation.seq", "conversation": conv_id, "seq": seq},
        )
        # Agents' inbox rows show the last message time and unread count, so they change too.
        fanout.publish_inbox(tenant_id, conv_id)

    transaction.on_commit(wake)
    return PostResult(message, created=True)
