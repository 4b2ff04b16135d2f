"""Posting one message: a batch of one through ``support.services.message_batch``, which holds the
invariants (docs/architecture.md, "How a message is written")."""
from __future__ import annotations

from typing import Any

from support.access import ConversationRef
from support.models import Attachment, Contact, Conversation, Membership, Message, Tenant
from support.services.message_batch import CARRIED_BODY_MAX, CLIENT_ID_MAX, PostResult, SendRequest, post_messages

__all__ = ["CARRIED_BODY_MAX", "CLIENT_ID_MAX", "PostResult", "post_message", "post_message_to"]


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
    """Append a message to ``conversation`` and return it once committed (or, inside a caller's
    transaction, once written).

    A repeat of an earlier ``client_id`` returns the earlier message with ``created=False``.
    """
    tenant = conversation.tenant if Conversation.tenant.is_cached(conversation) else None
    return _one(SendRequest(
        to=ConversationRef(conversation.tenant_id, pk=conversation.pk), author_type=author_type, body=body,
        kind=kind, client_id=client_id, author_membership=author_membership, attachment=attachment, data=data,
        tenant=tenant,
    ))


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

    The access check is the row-lock statement itself (``lock_conversations``): one read instead
    of two. A missing or foreign id raises ``NotFound``.
    """
    return _one(SendRequest(
        to=ConversationRef(
            tenant.pk, public_id=public_id if isinstance(public_id, str) else None,
            contact_id=contact.pk if contact is not None else None,
        ),
        author_type=author_type, body=body, kind=kind, client_id=client_id, author_membership=author_membership,
        attachment=attachment, tenant=tenant,
    ))


def _one(request: SendRequest) -> PostResult:
    result = post_messages([request])[0]
    if isinstance(result, Exception):
        raise result
    return result
