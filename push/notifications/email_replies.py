"""Agents' replies by email: each reply in an email conversation goes to the visitor as one
email that they can answer (docs/email.md, "Outbound").

Runs from the outbox on ``message.created``. The ``MailRecord`` of the reply's Message-ID
(derived from the message, so the same on every attempt) is the claim: it is committed before
the send, so a retried handler or a second worker finds it and sends nothing; a failed send
releases it and the dispatcher retries — the mechanism of ``support.events.receipts``, keyed
by the message the event carries. Digest emails get the same headers through ``thread_headers``.
"""
from __future__ import annotations

import logging
from email.utils import formataddr

from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope

from push.notifications.email import send_templated
from push.notifications.links import conversation_link
from support.access import find_by_public_id
from support.events.models import OutboxEvent
from support.language import contact_language
from support.mail import addresses
from support.models import Conversation, MailRecord, Message, Tenant

log = logging.getLogger(__name__)

REFERENCES_MAX = 20


def visitor_sender(tenant: Tenant) -> str:
    """Mail to visitors comes from the tenant's support address, under the team's name."""
    return formataddr((tenant.team_name or tenant.name, addresses.tenant_address(tenant)))


def reply_subject(conversation: Conversation) -> str:
    tenant = conversation.tenant
    with translation.override(contact_language(conversation.contact)):
        subject = conversation.subject or _("Your conversation with %(team_name)s") % {
            "team_name": tenant.team_name or tenant.name}
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def thread_headers(conversation: Conversation, *, mail_id: str) -> dict[str, str]:
    """Message-ID, and In-Reply-To/References to the conversation's earlier mail (in and out)."""
    earlier = list(
        MailRecord.objects.filter(conversation=conversation).exclude(mail_id=mail_id)
        .order_by("-created_at", "-pk").values_list("mail_id", flat=True)[:REFERENCES_MAX]
    )
    headers = {"Message-ID": f"<{mail_id}>"}
    if earlier:
        headers["In-Reply-To"] = f"<{earlier[0]}>"
        headers["References"] = " ".join(f"<{m}>" for m in reversed(earlier))
    return headers


def handle_event(event: OutboxEvent) -> None:
    payload = event.payload.get("message") or {}
    if (payload.get("author") or {}).get("type") != Message.Author.AGENT:
        return
    if payload.get("kind") not in (Message.Kind.TEXT, Message.Kind.ATTACHMENT) or not addresses.enabled():
        return
    with scope(tenant=event.tenant):
        message = find_by_public_id(
            Message.objects.select_related("conversation__contact", "conversation__tenant", "attachment",
                                           "author_membership__user"),
            payload.get("id"), tenant=event.tenant_id,
        )
        if message is None:
            return
        conversation = message.conversation
        if conversation.channel != Conversation.Channel.EMAIL or not conversation.email_address:
            return  # a chat conversation: the visitor digest covers a visitor who is away
        send_reply(message=message)


def send_reply(*, message: Message) -> MailRecord | None:
    """Email one agent reply, once; None if it was already sent (or is being sent)."""
    conversation = message.conversation
    tenant = conversation.tenant
    mail_id = addresses.message_id_for(message)
    with scope(tenant=tenant):
        try:
            with transaction.atomic():
                record = MailRecord.objects.create(
                    tenant=tenant, direction=MailRecord.Direction.OUT, status=MailRecord.Status.SENDING,
                    mail_id=mail_id, conversation=conversation, message=message,
                    to_address=conversation.email_address, subject=reply_subject(conversation)[:200],
                )
        except IntegrityError:
            return None  # claimed by an earlier run: never twice
        headers = thread_headers(conversation, mail_id=mail_id)
        files = []
        if message.attachment is not None:
            with message.attachment.file.open("rb") as f:
                files.append((message.attachment.name, f.read(), message.attachment.content_type))
        team_name = tenant.team_name or tenant.name
        try:
            send_templated(
                tenant=tenant, to=[conversation.email_address], subject=record.subject, template="conversation_reply",
                language=contact_language(conversation.contact),
                context={"message": message, "conversation": conversation, "team_name": team_name,
                         "agent_name": message.author_membership.user.name if message.author_membership else team_name,
                         "link": conversation_link(conversation)},
                reply_to=[addresses.reply_address(conversation)], from_email=visitor_sender(tenant),
                headers=headers, attachments=files,
            )
        except Exception:
            MailRecord.objects.filter(pk=record.pk).delete()  # released: the dispatcher's retry sends it
            raise
        MailRecord.objects.filter(pk=record.pk).update(status=MailRecord.Status.SENT)
        record.status = MailRecord.Status.SENT
    log.info("emailed %s of %s to the visitor", message.public_id, conversation.public_id)
    return record
