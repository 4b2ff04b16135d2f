"""The JSON shapes of domain objects as clients, webhooks and outbox events see them.

One place, so the socket protocol, long-poll, the REST API and webhooks never disagree.
Only opaque ids leave the system.
"""
from __future__ import annotations

from typing import Any

from support.models import Contact, Conversation, Membership, Message

# What ``conversation_payload`` reads besides the conversation's own row: pass to
# ``select_related`` wherever conversations are loaded to be shown, so a row costs no query.
CONVERSATION_RELATED = (
    "contact", "assignee__user", "team", "last_message__author_membership__user", "last_message__attachment",
)
# The inbox preview: this many characters of the last message, whitespace collapsed.
PREVIEW_CHARS = 140


def _author(message: Message) -> dict[str, Any]:
    author: dict[str, Any] = {"type": message.author_type}
    if message.author_membership_id is not None and message.author_membership is not None:
        author["id"] = message.author_membership.public_id
        author["name"] = message.author_membership.user.name
    return author


def message_payload(message: Message, *, conversation_public_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": message.public_id,
        "conversation": conversation_public_id or message.conversation.public_id,
        "seq": message.seq,
        "client_id": message.client_id,
        "author": _author(message),
        "kind": message.kind,
        "body": message.body,
        "created": message.created_at.isoformat(),
    }
    if message.kind == Message.Kind.EVENT:
        data["data"] = message.data
    elif "email" in message.data:
        data["email"] = message.data["email"]  # came in by email: {subject, from, from_name}
    if message.attachment_id is not None and message.attachment is not None:
        att = message.attachment
        data["attachment"] = {
            "id": att.public_id, "name": att.name, "content_type": att.content_type, "size": att.size,
        }
    return data


def agent_payload(membership: Membership) -> dict[str, Any]:
    return {"id": membership.public_id, "name": membership.user.name, "role": membership.role}


def contact_payload(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.public_id,
        "name": contact.name,
        "email": contact.email,
        "verified": contact.external_id is not None,
        "attributes": contact.attributes,
        "context": contact.context,
    }


def preview_text(body: str) -> str:
    """The first ``PREVIEW_CHARS`` characters of ``body`` with runs of whitespace folded to one space."""
    return " ".join(body.split())[:PREVIEW_CHARS].rstrip()


def last_message_payload(message: Message) -> dict[str, Any]:
    """The inbox row's one-line preview of a conversation's newest message (agents only: notes too)."""
    att = message.attachment if message.attachment_id is not None else None
    return {
        "id": message.public_id,
        "seq": message.seq,
        "kind": message.kind,
        "author": _author(message),
        "preview": preview_text(message.body),
        "attachment": {"name": att.name, "content_type": att.content_type} if att is not None else None,
        "created": message.created_at.isoformat(),
    }


def conversation_payload(conversation: Conversation) -> dict[str, Any]:
    """A conversation as agents, the REST API and webhooks see it (never visitors: it previews
    internal notes). Load it with ``select_related(*CONVERSATION_RELATED)``."""
    last = conversation.last_message if conversation.last_message_id is not None else None
    return {
        "id": conversation.public_id,
        "status": conversation.status,
        "contact": contact_payload(conversation.contact),
        "assignee": (
            agent_payload(conversation.assignee) if conversation.assignee_id and conversation.assignee else None
        ),
        "team": {"id": conversation.team.public_id, "name": conversation.team.name} if conversation.team else None,
        "subject": conversation.subject,
        "channel": conversation.channel,
        "email_address": conversation.email_address,
        "last_seq": conversation.last_seq,
        "contact_last_read_seq": conversation.contact_last_read_seq,
        "agent_last_read_seq": conversation.agent_last_read_seq,
        "offline": conversation.offline,
        "created": conversation.created_at.isoformat(),
        "updated": conversation.updated_at.isoformat(),
        "last_message_at": conversation.last_message_at.isoformat() if conversation.last_message_at else None,
        "last_message": last_message_payload(last) if last is not None else None,
    }
