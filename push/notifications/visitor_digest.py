"""Emailing visitors the agent replies they missed: one digest per batch of unread replies.

An agent's reply to a visitor who left an email creates (or joins) a ``PendingDigest`` due
``VISITOR_DIGEST_DELAY_SECONDS`` later. When it is due and the visitor is not connected, every
agent reply after what they have read (``contact_last_read_seq``) and after the last digest goes
out in one email with a link that reopens the conversation. A ``ContactDigest`` row, unique per
(conversation, up_to_seq), is committed before the email is sent, so re-running never sends the
same replies twice; if sending fails, that row is removed and the digest is due again shortly.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.translation import ngettext
from django_scopes import scope, scopes_disabled

from push.due_rows import handle_due_rows
from push.models import ContactDigest, PendingDigest
from push.notifications.email import send_templated
from push.notifications.email_replies import thread_headers, visitor_sender
from push.notifications.links import conversation_link
from push.notifications.online import contact_connected
from support.access import find_by_public_id
from support.events.models import OutboxEvent
from support.language import contact_language
from support.mail import addresses
from support.models import Conversation, MailRecord, Message, Tenant

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE = timedelta(minutes=1)


def _delay() -> timedelta:
    return timedelta(seconds=settings.VISITOR_DIGEST_DELAY_SECONDS)


def schedule_for_event(event: OutboxEvent, *, now: datetime | None = None) -> PendingDigest | None:
    """On an agent's text reply: make sure a digest is due for the conversation (idempotent)."""
    message = event.payload.get("message") or {}
    if (message.get("author") or {}).get("type") != Message.Author.AGENT or message.get("kind") != Message.Kind.TEXT:
        return None
    now = now or timezone.now()
    with scope(tenant=event.tenant), transaction.atomic():
        conv = find_by_public_id(Conversation.objects.select_related("contact"), message.get("conversation"),
                                 tenant=event.tenant_id)
        if conv is None or not conv.contact.email or conv.contact_last_read_seq >= int(message.get("seq") or 0):
            return None
        if conv.channel == Conversation.Channel.EMAIL:
            return None  # each reply is emailed on its own (push.notifications.email_replies)
        # An earlier reply's pending digest keeps its due time: later replies join that email.
        pending, created = PendingDigest.objects.get_or_create(
            conversation=conv, defaults={"tenant_id": conv.tenant_id, "due_at": now + _delay()}
        )
        if created:
            countdown = (pending.due_at - now).total_seconds() + 1
            transaction.on_commit(lambda: kick(countdown))
    return pending


def kick(countdown: float = 0) -> None:
    from push.notifications.tasks import send_due_digests

    try:
        send_due_digests.apply_async(countdown=max(0.0, countdown))
    except Exception:  # noqa: BLE001 - the periodic sweep sends it a little later
        log.warning("could not queue the visitor digest task", exc_info=True)


def send_due(*, now: datetime | None = None) -> int:
    """Send every digest due at ``now``; returns how many emails went out."""
    now = now or timezone.now()
    # The sweep serves every tenant; each digest is then handled in its own tenant scope.
    with scopes_disabled():
        due = list(PendingDigest.objects.filter(due_at__lte=now).order_by("due_at").values_list("pk", "tenant_id"))
    return handle_due_rows(due, lambda pk, tenant: process(pending_id=pk, tenant=tenant, now=now),
                           what="visitor digest")


def process(*, pending_id: int, tenant: Tenant, now: datetime) -> ContactDigest | None:
    """Send the digest of one due ``PendingDigest`` if there is anything unread; None otherwise."""
    with scope(tenant=tenant):
        with transaction.atomic():
            pending = (
                # of=self: lock only this row. Locking the joined contact/tenant rows too would make a
                # second worker skip other conversations of the same visitor or tenant.
                PendingDigest.objects.select_for_update(skip_locked=settings.IS_POSTGRES, of=("self",))
                .select_related("conversation__contact", "conversation__tenant")
                .filter(pk=pending_id, due_at__lte=now).first()
            )
            if pending is None:
                return None
            conv = pending.conversation
            contact = conv.contact
            sent_up_to = ContactDigest.objects.filter(conversation=conv).aggregate(m=Max("up_to_seq"))["m"] or 0
            unread = list(
                Message.objects.filter(
                    conversation=conv, author_type=Message.Author.AGENT, kind=Message.Kind.TEXT,
                    seq__gt=max(conv.contact_last_read_seq, sent_up_to),
                ).exclude(  # emailed on their own already (while the conversation was on email)
                    pk__in=MailRecord.objects.filter(conversation=conv, message__isnull=False).values("message_id")
                ).select_related("author_membership__user").order_by("seq")
            )
            if not unread or not contact.email:
                pending.delete()  # read in the meantime (or no address any more): nothing to send
                return None
            if contact_connected(contact):
                # They are on the site and may be reading right now: look again later.
                pending.due_at = now + _delay()
                pending.save(update_fields=["due_at"])
                countdown = _delay().total_seconds() + 1
                transaction.on_commit(lambda: kick(countdown))
                return None
            digest = ContactDigest.objects.create(
                tenant=tenant, conversation=conv, from_seq=unread[0].seq, up_to_seq=unread[-1].seq,
                message_count=len(unread), email=contact.email, sent_at=now,
            )
            # Answerable: its Message-ID is recorded, so a reply's In-Reply-To finds the conversation.
            record = MailRecord.objects.create(
                tenant=tenant, direction=MailRecord.Direction.OUT, status=MailRecord.Status.SENT,
                mail_id=addresses.digest_message_id(conv, digest.up_to_seq), conversation=conv,
                to_address=contact.email[:254],
            ) if addresses.enabled() else None
            pending.delete()
        try:
            _send(conv, unread, contact.email, record)
        except Exception:
            with transaction.atomic():
                ContactDigest.objects.filter(pk=digest.pk).delete()
                if record is not None:
                    MailRecord.objects.filter(pk=record.pk).delete()
                PendingDigest.objects.get_or_create(
                    conversation=conv, defaults={"tenant": tenant, "due_at": now + RETRY_AFTER_FAILURE}
                )
            raise
    return digest


def _send(conv: Conversation, messages: list[Message], address: str, record: MailRecord | None) -> None:
    tenant = conv.tenant
    name = tenant.team_name or tenant.name
    language = contact_language(conv.contact)
    with translation.override(language):
        subject = ngettext("New reply from %(name)s", "%(count)d new replies from %(name)s", len(messages)) % {
            "name": name, "count": len(messages)}
    answerable: dict[str, Any] = {}
    if record is not None:
        # With the email channel on, the digest can be answered: the reply threads into the conversation.
        answerable = {"reply_to": [addresses.reply_address(conv)], "from_email": visitor_sender(tenant),
                      "headers": thread_headers(conv, mail_id=record.mail_id)}
    send_templated(
        tenant=tenant, to=[address], subject=subject, template="visitor_digest",
        context={"conversation": conv, "contact": conv.contact, "messages": messages, "team_name": name,
                 "link": conversation_link(conv), "answerable": record is not None},
        language=language, **answerable,
    )
