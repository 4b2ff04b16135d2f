"""What the API returns for each resource: the builder of the JSON and the serializer documenting it.

Builders extend the shared shapes of ``support.payloads`` (the socket protocol and webhooks send
the same core), adding only what API readers need; each serializer below is the OpenAPI
description of its builder's output, kept side by side so they change together.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from rest_framework import serializers

from support.models import ApiToken, Attachment, CannedResponse, Contact, Conversation, Membership, Message, Team
from support.payloads import (
    PREVIEW_CHARS,
    agent_payload,
    contact_payload,
    conversation_payload,
    label_payload,
    message_payload,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- pages ------------------------------------------------------------------------
_PAGES: dict[str, type[serializers.Serializer]] = {}


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The serializer of ``{"results": [item…], "next": url|null}`` (one class per item type)."""
    name = item.__name__.removesuffix("Serializer") + "PageSerializer"
    if name not in _PAGES:
        _PAGES[name] = type(name, (serializers.Serializer,), {
            "results": item(many=True),
            "next": serializers.CharField(allow_null=True, help_text="URL of the next page, or null at the end"),
            "__module__": __name__,
        })
    return _PAGES[name]


# --- agents, teams, labels, canned responses -------------------------------------------------
class AgentRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class AgentSerializer(AgentRefSerializer):
    email = serializers.EmailField()
    availability = serializers.ChoiceField(choices=Membership.Availability.choices)
    presence = serializers.ChoiceField(choices=["online", "away", "offline"])
    capacity = serializers.IntegerField()
    teams = serializers.ListField(child=serializers.CharField(), help_text="Team ids")


def agent_out(membership: Membership, *, presence: str, team_ids: list[str]) -> dict[str, Any]:
    return {
        **agent_payload(membership),
        "email": membership.user.email,
        "availability": membership.availability,
        "presence": presence,
        "capacity": membership.capacity,
        "teams": team_ids,
    }


class TeamSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    members = serializers.ListField(child=serializers.CharField(), help_text="Agent ids")


def team_out(team: Team) -> dict[str, Any]:
    # Reads the prefetched ``member_list`` (see the views): no query per team.
    members = getattr(team, "member_list", None)
    if members is None:
        members = list(team.members.all())
    return {"id": team.public_id, "name": team.name, "members": [m.public_id for m in members]}


class LabelSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    color = serializers.CharField()


label_out = label_payload


class CannedResponseSerializer(serializers.Serializer):
    id = serializers.CharField()
    shortcut = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    body = serializers.CharField()


def canned_out(canned: CannedResponse) -> dict[str, Any]:
    return {"id": canned.public_id, "shortcut": canned.shortcut, "title": canned.title, "body": canned.body}


# --- contacts --------------------------------------------------------------------------------
class ContactSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField(allow_blank=True)
    email = serializers.CharField(allow_blank=True)
    verified = serializers.BooleanField(help_text="Identified through identity verification")
    attributes = serializers.DictField()  # type: ignore[assignment]

    def get_fields(self) -> dict[str, serializers.Field]:
        # "context" cannot be a class attribute: it would hide Serializer.context.
        fields = super().get_fields()
        fields["context"] = serializers.DictField(help_text="What the widget last reported: page, browser, timezone…")
        return fields


class ContactSerializer(ContactSummarySerializer):
    created = serializers.DateTimeField()
    last_seen = serializers.DateTimeField(allow_null=True)


def contact_out(contact: Contact) -> dict[str, Any]:
    return {**contact_payload(contact), "created": _iso(contact.created_at), "last_seen": _iso(contact.last_seen_at)}


# --- conversations ---------------------------------------------------------------------------
class TeamRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class MessageAuthorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=Message.Author.choices)
    id = serializers.CharField(required=False, help_text="Agent id, for agent messages")
    name = serializers.CharField(required=False)


class LastMessageAttachmentSerializer(serializers.Serializer):
    name = serializers.CharField()
    content_type = serializers.CharField()


class LastMessageSerializer(serializers.Serializer):
    """A conversation's newest message other than an event, as an inbox row previews it."""

    id = serializers.CharField()
    seq = serializers.IntegerField()
    kind = serializers.ChoiceField(
        choices=[c for c in Message.Kind.choices if c[0] != Message.Kind.EVENT],
        help_text="Never `event`: events do not count as the last message. `note` is an internal note",
    )
    author = MessageAuthorSerializer()
    preview = serializers.CharField(
        allow_blank=True, max_length=PREVIEW_CHARS,
        help_text=f"The first {PREVIEW_CHARS} characters of the body, runs of whitespace folded to one space "
        "(empty for a file sent without text)",
    )
    attachment = LastMessageAttachmentSerializer(allow_null=True)
    created = serializers.DateTimeField()


class ConversationSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.ChoiceField(choices=Conversation.Status.choices)
    contact = ContactSummarySerializer()
    assignee = AgentRefSerializer(allow_null=True)
    team = TeamRefSerializer(allow_null=True)
    labels = LabelSerializer(many=True)
    subject = serializers.CharField(allow_blank=True)
    channel = serializers.ChoiceField(
        choices=Conversation.Channel.choices,
        help_text="How agents' replies reach the visitor: `chat` (live; a digest email when they are away) "
        "or `email` (one email per reply, to `email_address`)",
    )
    email_address = serializers.CharField(
        allow_blank=True, help_text="Where email replies go (the sender of the conversation's latest email)"
    )
    last_seq = serializers.IntegerField(help_text="Seq of the latest message")
    contact_last_read_seq = serializers.IntegerField()
    agent_last_read_seq = serializers.IntegerField()
    offline = serializers.BooleanField()
    queued = serializers.BooleanField(help_text="Waiting for an agent")
    snoozed_until = serializers.DateTimeField(allow_null=True)
    rating = serializers.IntegerField(allow_null=True)
    created = serializers.DateTimeField()
    updated = serializers.DateTimeField()
    last_message_at = serializers.DateTimeField(allow_null=True)
    last_message = LastMessageSerializer(
        allow_null=True, help_text="The newest message other than an event (notes included), or null before any"
    )
    first_response_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)


class ConversationCountsSerializer(serializers.Serializer):
    mine = serializers.IntegerField(
        min_value=0, required=False,
        help_text="Assigned to the signed-in agent; absent for an API token (it is no agent)",
    )
    unassigned = serializers.IntegerField(min_value=0, help_text="Assigned to nobody")
    all = serializers.IntegerField(min_value=0, help_text="Every conversation matching the filters")


def conversation_out(conv: Conversation) -> dict[str, Any]:
    # Labels should be prefetched by the caller (``labels_prefetch``: one query for a whole page).
    if getattr(conv, "label_list", None) is None:
        conv.label_list = list(conv.labels.order_by("name"))  # type: ignore[attr-defined]
    return {
        **conversation_payload(conv),
        "queued": conv.queued_at is not None,
        "snoozed_until": _iso(conv.snoozed_until),
        "rating": conv.rating,
        "first_response_at": _iso(conv.first_response_at),
        "resolved_at": _iso(conv.resolved_at),
    }


# --- messages and attachments ----------------------------------------------------------------
class AttachmentSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField(help_text="Download URL (needs the same tenant's token or session)")


def attachment_out(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.public_id, "name": attachment.name, "content_type": attachment.content_type,
        "size": attachment.size, "url": reverse("api-attachment-download", args=[attachment.public_id]),
    }


class MessageEmailSerializer(serializers.Serializer):
    subject = serializers.CharField(allow_blank=True)
    # "from" is a Python keyword: the field is added under that name in get_fields.
    from_name = serializers.CharField(allow_blank=True)

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["from"] = serializers.EmailField(help_text="The sender's address (as the From header says)")
        return fields


class MessageSerializer(serializers.Serializer):
    id = serializers.CharField()
    conversation = serializers.CharField()
    seq = serializers.IntegerField()
    client_id = serializers.CharField(allow_null=True)
    author = MessageAuthorSerializer()
    kind = serializers.ChoiceField(choices=Message.Kind.choices)
    body = serializers.CharField(allow_blank=True)
    created = serializers.DateTimeField()
    data = serializers.DictField(  # type: ignore[assignment]
        help_text="Event details (kind=event) or integration details"
    )
    attachment = AttachmentSerializer(required=False)
    email = MessageEmailSerializer(required=False, help_text="Present when the message came in by email")


def message_out(message: Message, *, conversation_public_id: str) -> dict[str, Any]:
    data = message_payload(message, conversation_public_id=conversation_public_id)
    data["data"] = message.data
    if message.attachment_id is not None and message.attachment is not None:
        data["attachment"] = attachment_out(message.attachment)
    return data


# --- tokens ----------------------------------------------------------------------------------
class ApiTokenSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The visible start of the token: sb_<prefix>_…")
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices)
    created = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True, help_text="Email of the creator")
    last_used_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)


class IssuedApiTokenSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The full token. Shown only in this response: store it now")


def token_out(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.public_id, "name": token.name, "prefix": f"sb_{token.prefix}_", "scope": token.scope,
        "created": _iso(token.created_at), "created_by": token.created_by.email if token.created_by else None,
        "last_used_at": _iso(token.last_used_at), "revoked_at": _iso(token.revoked_at),
    }
