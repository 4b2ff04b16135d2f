"""The JSON shapes of domain objects as clients, webhooks and outbox events see them.

One place, so the socket protocol, long-poll, the REST API and webhooks never disagree.
Only opaque ids leave the system.
"""
from __future__ import annotations

from typing import Any

from django.db import connections
from django.db.models import JSONField, Prefetch, QuerySet
from django.db.models.expressions import RawSQL

from support.models import Contact, Conversation, Label, Membership, Message

# What ``message_payload`` and ``last_message_payload`` read besides the message's own row.
MESSAGE_RELATED = ("author_membership__user", "attachment")
# What ``conversation_payload`` reads besides the conversation's own row: pass to
# ``select_related`` wherever conversations are loaded to be shown, so a row costs no query.
CONVERSATION_RELATED = ("contact", "assignee__user", "team", *(f"last_message__{r}" for r in MESSAGE_RELATED))


def labels_prefetch(tenant: object) -> Prefetch:
    """Pass to ``prefetch_related`` where a page of conversations is loaded to be shown with their
    labels: one query for the page, read by ``conversation_payload`` (``label_list``, by name)."""
    return Prefetch("labels", queryset=Label.objects.with_scope(tenant=tenant).order_by("name"), to_attr="label_list")


# A conversation's labels as one JSON array of [id, name, color], read by the statement that reads
# the conversation (a correlated subquery): the inbox rows that agent connections read one by one
# stay one statement each. The outer table is the queryset's own (its alias is the table name).
_LABEL_ROWS_SQL = {
    "postgresql": (
        "SELECT COALESCE(jsonb_agg(jsonb_build_array(l.public_id, l.name, l.color)), '[]'::jsonb) "
        "FROM support_label l JOIN support_conversation_labels cl ON cl.label_id = l.id "
        "WHERE cl.conversation_id = support_conversation.id"
    ),
    "sqlite": (
        "SELECT json_group_array(json_array(l.public_id, l.name, l.color)) "
        "FROM support_label l JOIN support_conversation_labels cl ON cl.label_id = l.id "
        "WHERE cl.conversation_id = support_conversation.id"
    ),
}


def with_label_rows(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """``queryset`` with each conversation's labels read by the same statement (``label_rows``),
    for ``conversation_payload``."""
    sql = _LABEL_ROWS_SQL[connections[queryset.db].vendor]
    return queryset.annotate(label_rows=RawSQL(sql, (), output_field=JSONField()))  # noqa: S611 - constant SQL


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


def label_payload(label: Label) -> dict[str, Any]:
    return {"id": label.public_id, "name": label.name, "color": label.color}


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
    internal notes). Load it with ``select_related(*CONVERSATION_RELATED)``.

    ``labels`` is there when they were loaded (``labels_prefetch``, ``with_label_rows``): a row built without them (the
    one a message's wake-up carries, on the hot path) leaves the key out, which clients read as
    "unchanged"; every change of labels sends a row with them."""
    last = conversation.last_message if conversation.last_message_id is not None else None
    payload: dict[str, Any] = {
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
    labels = getattr(conversation, "label_list", None)
    if labels is not None:
        payload["labels"] = [label_payload(label) for label in labels]
    else:
        rows = getattr(conversation, "label_rows", None)
        if rows is not None:
            ordered = sorted(rows, key=lambda row: (row[1], row[0]))
            payload["labels"] = [{"id": pid, "name": name, "color": color} for pid, name, color in ordered]
    return payload
