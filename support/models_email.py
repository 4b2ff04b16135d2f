"""Email as a channel: a tenant's extra inbound addresses, the record of every mail in or out
(keyed by Message-ID per tenant), and refused mail kept for platform staff to inspect.

Imported at the end of ``support.models`` so Django finds them as models of the support app.
"""
from __future__ import annotations

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from support.fields import PublicIdField
from support.models import Conversation, Message, Tenant, TenantOwned

__all__ = ["EmailAlias", "MailRecord", "RejectedMail"]


class EmailAlias(TenantOwned):
    """One of the tenant's own addresses (``support@acme.com``) that forwards to us.

    Mail whose envelope recipient is this address goes to the tenant as if sent to
    ``<slug>@INBOUND_EMAIL_DOMAIN``; an address belongs to one tenant only.
    """

    public_id = PublicIdField(prefix="ea")
    address = models.EmailField(
        verbose_name=_("address"), help_text=_("An address of yours that forwards to your support address"))
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("forwarded email address")
        verbose_name_plural = _("forwarded email addresses")
        constraints = [models.UniqueConstraint(Lower("address"), name="emailalias_unique_address")]

    def __str__(self) -> str:
        return self.address


class MailRecord(TenantOwned):
    """One email into or out of a tenant, by its Message-ID (unique per tenant).

    Inbound: the same mail delivered twice (or through both SMTP and HTTP) meets the unique
    constraint and is stored once. Outbound: the row is claimed (committed) before the send, so a
    retried handler never sends the same message twice; its Message-ID is what replies quote in
    ``In-Reply-To``. Inbound mail that is never answered (auto-replies, bounces, loops) is recorded
    here with its raw bytes and no message.
    """

    class Direction(models.TextChoices):
        IN = "in", "Received"
        OUT = "out", "Sent"

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "Accepted (posted as a message)"
        AUTO_REPLY = "auto_reply", "Auto-reply (recorded, not answered)"
        BOUNCE = "bounce", "Bounce (recorded, not answered)"
        LOOP = "loop", "Loop: our own mail came back (recorded, not answered)"
        SENDING = "sending", "Claimed for sending"
        SENT = "sent", "Sent"

    direction = models.CharField(verbose_name=_("direction"), max_length=3, choices=Direction.choices)
    # Without the angle brackets, as written by the sender (case kept: Message-IDs are case-sensitive).
    mail_id = models.CharField(_("Message-ID"), max_length=255)
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=Status.choices)
    route = models.CharField(verbose_name=_("route"), max_length=8, blank=True,
        help_text=_("smtp or http (inbound); outbound is empty"))
    conversation = models.ForeignKey(
        Conversation, verbose_name=_("conversation"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="mail_records"
    )
    message = models.ForeignKey(Message, verbose_name=_("message"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+")
    from_address = models.CharField(verbose_name=_("from address"), max_length=254, blank=True)
    to_address = models.CharField(verbose_name=_("to address"), max_length=254, blank=True)
    subject = models.CharField(verbose_name=_("subject"), max_length=200, blank=True)
    # Only for inbound mail posted as no message (auto-replies, bounces, loops); accepted mail keeps
    # its original as the message's .eml attachment.
    raw = models.BinaryField(verbose_name=_("raw"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("mail record")
        verbose_name_plural = _("mail records")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "mail_id"], name="mailrecord_unique_mail_id"),
        ]
        indexes = [models.Index(fields=["tenant", "conversation"], name="mailrecord_conversation")]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} <{self.mail_id}>"


class RejectedMail(models.Model):
    """A mail refused as malformed or oversized, kept for platform staff (not tenant-scoped:
    the tenant may be unknown). Oversized mail keeps its first ``INBOUND_EMAIL_MAX_BYTES`` bytes."""

    class Reason(models.TextChoices):
        MALFORMED = "malformed", "Malformed MIME"
        TOO_LARGE = "too_large", "Too large"
        INVALID_CONTENT = "invalid", "Content refused (e.g. an attachment or body check)"

    # Not ``tenant``: the row is platform staff's, not the tenant's (its admin page is staff-only).
    addressed_to = models.ForeignKey(
        Tenant, verbose_name=_("addressed to"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("The tenant the mail was for, when its recipient was known"),
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=10, choices=Reason.choices)
    detail = models.TextField(verbose_name=_("detail"), blank=True)
    route = models.CharField(verbose_name=_("route"), max_length=8)
    mail_from = models.CharField(verbose_name=_("mail from"), max_length=254, blank=True)
    recipients = models.JSONField(verbose_name=_("recipients"), default=list)
    size = models.PositiveBigIntegerField(verbose_name=_("size"),
        help_text=_("Bytes received (the raw kept may be cut to the limit)"))
    raw = models.BinaryField(verbose_name=_("raw"), editable=False)
    received_at = models.DateTimeField(verbose_name=_("received at"), default=timezone.now)

    class Meta:
        verbose_name = _("rejected mail")
        verbose_name_plural = _("rejected mails")
        indexes = [models.Index(fields=["-received_at"], name="rejectedmail_received")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} from {self.mail_from or '?'} at {self.received_at:%Y-%m-%d %H:%M}"
