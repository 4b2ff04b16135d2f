"""Receiving email: the one service both inbound routes (the SMTP listener and ``POST
/inbound/email``) hand raw messages to. See docs/email.md.

A mail is refused whole (nothing stored but a ``RejectedMail`` for staff) when it is too large or
malformed; a mail for no address of ours is refused before its data is read. An accepted mail is
stored once per tenant and Message-ID (``MailRecord``): a redelivery, or the same mail by the
other route, returns the first one. Auto-replies, bounces and our own mail coming back are
recorded and never posted, so nothing ever answers them.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django_scopes import scope

from support.errors import DomainError, ValidationFailed
from support.mail.addresses import Recipient, UnknownRecipient, is_ours, resolve_recipient
from support.mail.parsing import MailPart, MalformedMail, ParsedMail, parse_mail
from support.models import Attachment, Contact, Conversation, MailRecord, Message, RejectedMail, Tenant
from support.rate_limits import within_limit
from support.services.attachments import store_attachment
from support.services.contacts import create_contact
from support.services.conversations import set_channel, start_conversation
from support.services.messages import post_message

log = logging.getLogger(__name__)

__all__ = ["Delivery", "MailRejected", "UnknownRecipient", "check_recipient", "receive_mail"]


class MailRejected(DomainError):
    """The mail is refused. ``code``: ``too_large``, ``malformed``, ``rate_limited`` (temporary)."""

    @property
    def temporary(self) -> bool:
        return self.code == "rate_limited"


@dataclass(frozen=True)
class Delivery:
    record: MailRecord
    created: bool  # False: this Message-ID was already here (a redelivery, or the other route)
    messages: list[Message] = field(default_factory=list)


def check_recipient(address: str) -> Recipient:
    """The tenant/conversation of an envelope recipient; ``UnknownRecipient`` if none (SMTP RCPT)."""
    return resolve_recipient(address)


def receive_mail(*, raw: bytes, recipients: list[str], route: str, mail_from: str = "") -> list[Delivery]:
    """Store ``raw`` for each tenant among ``recipients``; one ``Delivery`` per tenant.

    Raises ``UnknownRecipient`` when no recipient is ours, ``MailRejected`` when the mail is too
    large, malformed, or over a rate limit (then nothing is stored).
    """
    targets: dict[int, Recipient] = {}
    for address in recipients:
        try:
            found = resolve_recipient(address)
        except UnknownRecipient:
            continue
        # A reply address names the conversation: it wins over the tenant's plain address.
        if found.tenant.pk not in targets or found.conversation is not None:
            targets[found.tenant.pk] = found
    if not targets:
        raise UnknownRecipient(", ".join(recipients))
    first_tenant = next(iter(targets.values())).tenant
    if len(raw) > settings.INBOUND_EMAIL_MAX_BYTES:
        _keep_rejected(raw, RejectedMail.Reason.TOO_LARGE, "larger than INBOUND_EMAIL_MAX_BYTES",
                       route=route, mail_from=mail_from, recipients=recipients, tenant=first_tenant)
        raise MailRejected(f"The message is larger than {settings.INBOUND_EMAIL_MAX_BYTES} bytes", code="too_large")
    try:
        parsed = parse_mail(raw)
    except MalformedMail as exc:
        _keep_rejected(raw, RejectedMail.Reason.MALFORMED, str(exc), route=route, mail_from=mail_from,
                       recipients=recipients, tenant=first_tenant)
        raise MailRejected(str(exc), code="malformed") from None
    return [_deliver(target, parsed, raw, route=route, mail_from=mail_from) for target in targets.values()]


def _keep_rejected(raw: bytes, reason: str, detail: str, *, route: str, mail_from: str, recipients: list[str],
                   tenant: Tenant | None) -> None:
    RejectedMail.objects.create(
        addressed_to=tenant, reason=reason, detail=detail[:2000], route=route, mail_from=mail_from[:254],
        recipients=recipients[:20], size=len(raw), raw=raw[: settings.INBOUND_EMAIL_MAX_BYTES],
    )


def _deliver(target: Recipient, parsed: ParsedMail, raw: bytes, *, route: str, mail_from: str) -> Delivery:
    tenant = target.tenant
    with scope(tenant=tenant):
        existing = MailRecord.objects.filter(mail_id=parsed.message_id).first()
        if existing is not None:
            return Delivery(existing, created=False)
        # Recorded mail counts too: a flood of auto-replies must not fill the database either.
        _check_rate(tenant, parsed.from_address)
        unanswerable = _unanswerable(parsed, mail_from)
        if unanswerable is not None:
            conversation = target.conversation or _thread_by_headers(tenant, parsed)
            return _record(tenant, parsed, route, status=unanswerable, conversation=conversation, raw=raw)
        try:
            return _store(target, parsed, raw, route=route)
        except IntegrityError:
            # The same mail committed by another route or worker meanwhile: that one stands.
            existing = MailRecord.objects.filter(mail_id=parsed.message_id).first()
            if existing is None:
                raise
            return Delivery(existing, created=False)


def _unanswerable(parsed: ParsedMail, mail_from: str) -> str | None:
    if is_ours(parsed.message_id):
        return MailRecord.Status.LOOP
    if parsed.automatic == "bounce" or mail_from == "<>":
        return MailRecord.Status.BOUNCE
    if parsed.automatic == "auto_reply":
        return MailRecord.Status.AUTO_REPLY
    return None


def _record(tenant: Tenant, parsed: ParsedMail, route: str, *, status: str, conversation: Conversation | None,
            raw: bytes) -> Delivery:
    try:
        with transaction.atomic():
            record = MailRecord.objects.create(
                tenant=tenant, direction=MailRecord.Direction.IN, mail_id=parsed.message_id, status=status,
                route=route, conversation=conversation, from_address=parsed.from_address[:254],
                subject=parsed.subject[:200], raw=raw,
            )
    except IntegrityError:
        return Delivery(MailRecord.objects.get(mail_id=parsed.message_id), created=False)
    log.info("inbound mail %s for %s recorded as %s", parsed.message_id, tenant.slug, status)
    return Delivery(record, created=True)


def _check_rate(tenant: Tenant, sender: str) -> None:
    sender_key = hashlib.sha256(sender.encode()).hexdigest()[:32]
    if not within_limit(tenant_key=tenant.public_id, name="mail_in_sender", subject=sender_key,
                        limit=settings.INBOUND_EMAIL_PER_SENDER_PER_HOUR, window_seconds=3600):
        raise MailRejected("Too many emails from this sender; try again later", code="rate_limited")
    if not within_limit(tenant_key=tenant.public_id, name="mail_in_tenant", subject="all",
                        limit=settings.INBOUND_EMAIL_PER_TENANT_PER_HOUR, window_seconds=3600):
        raise MailRejected("Too many emails for this address; try again later", code="rate_limited")


def _thread_by_headers(tenant: Tenant, parsed: ParsedMail) -> Conversation | None:
    """The conversation of a mail we sent that this one answers (In-Reply-To, then References).

    Message-IDs travel in clear, so the sender must also be the address that conversation mails.
    """
    ids = parsed.in_reply_to + list(reversed(parsed.references))
    if not ids:
        return None
    records = MailRecord.objects.filter(
        mail_id__in=ids[:50], direction=MailRecord.Direction.OUT, conversation__isnull=False,
    ).select_related("conversation__contact")
    for record in sorted(records, key=lambda r: ids.index(r.mail_id)):
        conversation = record.conversation
        assert conversation is not None
        if parsed.from_address in {conversation.email_address.lower(), conversation.contact.email.lower()}:
            return conversation
    return None


def _contact_for(tenant: Tenant, parsed: ParsedMail) -> Contact:
    """The unverified contact with the sender's address, or a new one.

    A verified contact (``external_id`` set by the host site's signed identity) is never taken
    over by a From header, which anyone can write: such a sender gets a contact of their own.
    """
    found = (
        Contact.objects.filter(email__iexact=parsed.from_address, external_id__isnull=True)
        .order_by("-last_seen_at", "-created_at").first()
    )
    if found is not None:
        return found
    return create_contact(tenant=tenant, name=parsed.from_name, email=parsed.from_address)


def _body(parsed: ParsedMail, refused: list[str]) -> str:
    body = parsed.reply
    notes = "\n".join(refused)
    limit = settings.MESSAGE_MAX_CHARS - len(notes) - 80
    if len(body) > limit:
        body = body[:limit].rstrip() + "\n… (cut here: the whole email is attached)"
    return "\n\n".join(part for part in (body, notes) if part) or "(no text: see the attached email)"


def _store(target: Recipient, parsed: ParsedMail, raw: bytes, *, route: str) -> Delivery:
    """Post the mail and its attachments in one transaction; on failure no row or file stays."""
    tenant = target.tenant
    saved: list[Attachment] = []

    def keep(data: bytes, name: str, content_type: str, *, original: bool = False) -> Attachment:
        attachment = store_attachment(tenant=tenant, uploaded_file=ContentFile(data), name=name,
                                      content_type=content_type, original_mail=original)
        saved.append(attachment)
        return attachment

    try:
        with transaction.atomic():
            conversation = target.conversation or _thread_by_headers(tenant, parsed)
            if conversation is None:
                contact = _contact_for(tenant, parsed)
                conversation = start_conversation(
                    tenant=tenant, contact=contact, subject=parsed.subject or "(no subject)",
                    channel=Conversation.Channel.EMAIL, email_address=parsed.from_address,
                )
            elif (conversation.channel, conversation.email_address) != (Conversation.Channel.EMAIL,
                                                                        parsed.from_address):
                # The visitor answered by email: further replies go to them by email.
                conversation = set_channel(conversation=conversation, channel=Conversation.Channel.EMAIL,
                                           email_address=parsed.from_address)
            record = MailRecord.objects.create(
                tenant=tenant, direction=MailRecord.Direction.IN, mail_id=parsed.message_id,
                status=MailRecord.Status.ACCEPTED, route=route, conversation=conversation,
                from_address=parsed.from_address[:254], subject=parsed.subject[:200],
            )
            files, refused = _check_attachments(parsed.attachments, keep)
            original = keep(raw, f"{parsed.subject[:60] or 'email'}.eml", "message/rfc822", original=True)
            key = hashlib.sha256(parsed.message_id.encode()).hexdigest()[:40]
            email_data = {"email": {"subject": parsed.subject[:200], "from": parsed.from_address,
                                    "from_name": parsed.from_name}}
            posted = [post_message(
                conversation=conversation, author_type=Message.Author.CONTACT, body=_body(parsed, refused),
                attachment=original, client_id=f"mail:{key}", data=email_data,
            ).message]
            for index, attachment in enumerate(files):
                posted.append(post_message(
                    conversation=conversation, author_type=Message.Author.CONTACT, kind=Message.Kind.ATTACHMENT,
                    attachment=attachment, client_id=f"mail:{key}:{index}",
                ).message)
            record.message = posted[0]
            record.save(update_fields=["message"])
    except Exception:
        for attachment in saved:
            if attachment.file.name:
                default_storage.delete(attachment.file.name)
        raise
    log.info("inbound mail %s posted to %s", parsed.message_id, conversation.public_id)
    return Delivery(record, created=True, messages=posted)


def _check_attachments(
    parts: list[MailPart], keep: Callable[..., Attachment]
) -> tuple[list[Attachment], list[str]]:
    """Store the parts that pass the upload checks; a line for each one refused."""
    stored: list[Attachment] = []
    refused: list[str] = []
    for part in parts:
        try:
            # A mail forwarded as an attachment is stored like the original: as an .eml.
            stored.append(keep(part.data, part.name, part.content_type,
                               original=part.content_type == "message/rfc822"))
        except ValidationFailed as exc:
            refused.append(f"[Attachment “{part.name[:80]}” was not accepted: {exc.detail}]")
    return stored, refused
