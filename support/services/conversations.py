"""Starting conversations (a visitor's first message too) and changing their status, assignee, team
and labels.

Each function runs in one transaction, writes a system event message (so the change is part of
the conversation's ordered history), an outbox event, and wakes the tenant's inbox on commit.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from support.errors import ValidationFailed
from support.events import fanout
from support.events.outbox import emit_event
from support.models import Attachment, Contact, Conversation, Label, Membership, Message, Team, Tenant
from support.payloads import CONVERSATION_RELATED, conversation_payload
from support.services.messages import post_message
from support.services.visitors import contact_group


def _announce(conv: Conversation, event_type: str, extra: dict[str, Any] | None = None) -> None:
    """Outbox event + after-commit inbox wake-up for a conversation-level change."""
    payload = {"conversation": conversation_payload(conv), **(extra or {})}
    emit_event(tenant=conv.tenant, type=event_type, payload=payload, ordering_key=conv.public_id)
    tenant_id, conv_id = conv.tenant_id, conv.pk
    transaction.on_commit(lambda: fanout.publish_inbox(tenant_id, conv_id))


@transaction.atomic
def start_conversation(
    *, tenant: Tenant, contact: Contact, team: Team | None = None, subject: str = "", offline: bool = False,
    channel: str = Conversation.Channel.CHAT, email_address: str = "",
) -> Conversation:
    conv = Conversation.objects.create(
        tenant=tenant, contact=contact, team=team, subject=subject[:200], offline=offline,
        queued_at=timezone.now(), channel=channel, email_address=email_address,
    )
    _announce(conv, "conversation.created")
    return conv


def _event_message(conv: Conversation, actor: Membership | None, event: str, **data: Any) -> None:
    post_message(
        conversation=conv, author_type=Message.Author.SYSTEM, kind=Message.Kind.EVENT,
        author_membership=actor, data={"event": event, **data},
    )


def _locked(conversation: Conversation) -> Conversation:
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the outer joins below.
    return Conversation.objects.select_for_update(of=("self",)).select_related(*CONVERSATION_RELATED).get(
        pk=conversation.pk
    )


@transaction.atomic
def assign_conversation(
    *, conversation: Conversation, assignee: Membership | None, actor: Membership | None = None
) -> Conversation:
    conv = _locked(conversation)
    if assignee is not None and (assignee.tenant_id != conv.tenant_id or not assignee.is_active):
        raise ValidationFailed(_("That agent cannot take conversations"), code="invalid_assignee")
    if conv.assignee_id == (assignee.pk if assignee else None):
        return conv
    return _assign(conv, assignee, actor)


def replying_takes(message: Message) -> bool:
    """Whether a just-written message takes its conversation: an agent's reply (not a note) to a
    conversation nobody has (``message.conversation`` is the row as the write left it)."""
    return (
        message.author_type == Message.Author.AGENT and message.author_membership_id is not None
        and message.kind in (Message.Kind.TEXT, Message.Kind.ATTACHMENT)
        and message.conversation.assignee_id is None
    )


@transaction.atomic
def take_on_reply(*, conversation: Conversation, agent: Membership) -> Conversation:
    """The replying agent takes a conversation nobody has (as in Intercom or Front), unless someone
    took it meanwhile: a reply never takes a conversation away from a teammate.

    No event message: the reply itself shows who took it (an "assigned" line after it would read
    backwards to the visitor); agents see the new assignee in the inbox row, integrations get
    ``conversation.assigned`` with ``by_reply``."""
    conv = _locked(conversation)
    if conv.assignee_id is not None or agent.tenant_id != conv.tenant_id or not agent.is_active:
        return conv
    return _assign(conv, agent, agent, by_reply=True)


def _assign(
    conv: Conversation, assignee: Membership | None, actor: Membership | None, *, by_reply: bool = False
) -> Conversation:
    """Under the row lock: the assignment, its event message (unless a reply took it), the outbox
    event and the inbox wake-up."""
    # Unassigning remembers whom it was taken from, so the queue doesn't hand it straight back.
    conv.released_by_id = None if assignee else conv.assignee_id
    conv.assignee = assignee
    conv.queued_at = None if assignee else timezone.now()
    conv.updated_at = timezone.now()
    conv.save(update_fields=["assignee", "released_by", "queued_at", "updated_at"])
    if not by_reply:
        _event_message(conv, actor, "assigned", assignee=assignee.public_id if assignee else None,
                       assignee_name=assignee.user.name if assignee else None)
    conv.refresh_from_db()
    extra: dict[str, Any] = {"actor": actor.public_id if actor else None}
    if by_reply:
        extra["by_reply"] = True
    _announce(conv, "conversation.assigned", extra)
    return conv


@transaction.atomic
def set_team(*, conversation: Conversation, team: Team | None, actor: Membership | None = None) -> Conversation:
    conv = _locked(conversation)
    if team is not None and team.tenant_id != conv.tenant_id:
        raise ValidationFailed(_("Unknown team"), code="invalid_team")
    conv.team = team
    conv.updated_at = timezone.now()
    conv.save(update_fields=["team", "updated_at"])
    _event_message(conv, actor, "team_changed", team=team.public_id if team else None)
    conv.refresh_from_db()
    _announce(conv, "conversation.team_changed")
    return conv


@transaction.atomic
def set_status(
    *,
    conversation: Conversation,
    status: str,
    actor: Membership | None = None,
    snoozed_until: datetime | None = None,
) -> Conversation:
    if status not in Conversation.Status.values:
        raise ValidationFailed(_("Unknown status %(status)s") % {"status": repr(status)}, code="invalid_status")
    conv = _locked(conversation)
    if status == Conversation.Status.SNOOZED:
        if snoozed_until is None or snoozed_until <= timezone.now():
            raise ValidationFailed(_("Snoozing needs a time in the future"), code="invalid_snooze")
    if conv.status == status and status != Conversation.Status.SNOOZED:
        return conv
    now = timezone.now()
    previous = conv.status
    conv.status = status
    conv.snoozed_until = snoozed_until if status == Conversation.Status.SNOOZED else None
    conv.resolved_at = now if status == Conversation.Status.RESOLVED else None
    conv.updated_at = now
    conv.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
    _event_message(conv, actor, "status_changed", status=status, previous=previous)
    conv.refresh_from_db()
    _announce(conv, "conversation.status_changed", {"previous": previous})
    return conv


@transaction.atomic
def set_labels(*, conversation: Conversation, labels: list[Label], actor: Membership | None = None) -> Conversation:
    conv = _locked(conversation)
    if any(label.tenant_id != conv.tenant_id for label in labels):
        raise ValidationFailed(_("Unknown label"), code="invalid_label")
    conv.labels.set(labels)
    conv.updated_at = timezone.now()
    conv.save(update_fields=["updated_at"])
    conv.label_list = sorted(labels, key=lambda label: label.name)  # type: ignore[attr-defined]
    _announce(conv, "conversation.labels_changed", {"labels": [label.name for label in labels]})
    return conv


@transaction.atomic
def set_channel(
    *, conversation: Conversation, channel: str, actor: Membership | None = None, email_address: str | None = None
) -> Conversation:
    """Choose how agents' replies reach the visitor: one email each, or live chat (docs/email.md).

    Email needs an address: ``email_address`` (an inbound mail's sender), the conversation's, or
    the contact's.
    """
    if channel not in Conversation.Channel.values:
        raise ValidationFailed(_("Unknown channel %(channel)s") % {"channel": repr(channel)}, code="invalid_channel")
    conv = _locked(conversation)
    address = email_address or conv.email_address or conv.contact.email
    if channel == Conversation.Channel.EMAIL and not address:
        raise ValidationFailed(_("The visitor has no email address to reply to"), code="no_email_address")
    if conv.channel == channel and (channel == Conversation.Channel.CHAT or conv.email_address == address):
        return conv
    previous = conv.channel
    conv.channel = channel
    if channel == Conversation.Channel.EMAIL:
        conv.email_address = address
    conv.updated_at = timezone.now()
    conv.save(update_fields=["channel", "email_address", "updated_at"])
    if previous != channel:
        _event_message(conv, actor, "channel_changed", channel=channel, previous=previous)
    conv.refresh_from_db()
    _announce(conv, "conversation.channel_changed", {"previous": previous})
    return conv


def start_visitor_conversation(
    *, tenant: Tenant, contact: Contact, client_id: str, body: str, attachment: Attachment | None, offline: bool
) -> tuple[Message, Conversation]:
    """A visitor's first message: its conversation started, once per ``client_id`` even on retries (a
    retry finds the message its first try wrote, and that message's conversation). ``offline``: no
    agent can answer live (the widget then says so). The visitor's other tabs learn of it on commit.
    """
    with transaction.atomic():
        # The contact's row lock serialises concurrent first sends of one visitor, so a retry
        # racing the original finds its message instead of starting a second conversation.
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
        existing = (
            Message.objects.filter(
                conversation__contact=contact, client_id=client_id, author_type=Message.Author.CONTACT
            )
            .select_related("conversation")
            .first()
        )
        if existing is not None:
            return existing, existing.conversation
        conv = start_conversation(tenant=tenant, contact=contact, offline=offline)
        result = post_message(
            conversation=conv, author_type=Message.Author.CONTACT, body=body,
            kind=Message.Kind.ATTACHMENT if attachment else Message.Kind.TEXT,
            client_id=client_id, attachment=attachment,
        )
        tenant_id, contact_id = tenant.pk, contact.pk
        transaction.on_commit(
            lambda: fanout.publish(contact_group(tenant_id, contact_id), {"type": "contact.changed"})
        )
    return result.message, conv
