"""Tables of the transactional outbox: events and their per-handler outcomes.

The tables keep the names they had when the outbox lived in ``push`` (``db_table``): the move to
this app was state-only (``migrations/0001_initial.py``).
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_scopes import ScopedManager

from support.fields import PublicIdField
from support.models import Membership, Tenant, TenantOwned


class OutboxEvent(models.Model):
    """A side effect to perform, written in the same transaction as the change it describes."""

    public_id = PublicIdField(prefix="evt")
    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, editable=False)
    type = models.CharField(verbose_name=_("type"), max_length=60)
    version = models.PositiveSmallIntegerField(verbose_name=_("version"), default=1)
    payload = models.JSONField(verbose_name=_("payload"), default=dict)
    # Events with the same key reach an ordered handler in creation order (e.g. "cv_…").
    ordering_key = models.CharField(verbose_name=_("ordering key"), max_length=60, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    # The handlers registered for its type in the process that wrote it: the dispatcher writes
    # one delivery per name when it first takes the event (``fanned_out``), so the write of the
    # change itself costs one row, and a worker that does not know a handler records a failure
    # for it instead of skipping it.
    handlers = models.JSONField(verbose_name=_("handlers"), default=list, editable=False)
    fanned_out = models.BooleanField(verbose_name=_("fanned out"), default=False, editable=False)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        db_table = "push_outboxevent"
        indexes = [
            models.Index(fields=["created_at"], name="outbox_created"),
            # As small as the events not yet taken by a dispatcher.
            models.Index(fields=["id"], condition=Q(fanned_out=False), name="outbox_fanout"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


class OutboxDelivery(models.Model):
    """The outcome of one handler for one event: the dispatcher's unit of work.

    Rows are written by the dispatcher when it first takes an event (one per name in
    ``OutboxEvent.handlers``, ``support.events.dispatcher.fan_out``); it then claims deliveries, never
    events, and a handler that succeeded is recorded once — ``(event, handler)`` is unique.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        DEAD = "dead", _("Dead")

    event = models.ForeignKey(
        OutboxEvent, verbose_name=_("event"), on_delete=models.CASCADE, related_name="deliveries", editable=False)
    # Copied from the event so tenant admins see their own rows and the claim query needs no join.
    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, editable=False)
    handler = models.CharField(verbose_name=_("handler"), max_length=100, editable=False)
    ordering_key = models.CharField(verbose_name=_("ordering key"), max_length=60, blank=True, editable=False)
    status = models.CharField(verbose_name=_("status"), max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(verbose_name=_("attempts"), default=0)
    # When a pending delivery becomes due (now, or later after a failure: backoff).
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"), default=timezone.now)
    # A running delivery whose lease has expired belongs to a lost worker and is claimed again.
    lease_expires_at = models.DateTimeField(verbose_name=_("lease expires at"), null=True, blank=True)
    claim_token = models.CharField(verbose_name=_("claim token"), max_length=32, blank=True)
    last_error = models.TextField(verbose_name=_("last error"), blank=True)
    handled_at = models.DateTimeField(verbose_name=_("handled at"), null=True, blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        db_table = "push_outboxdelivery"
        constraints = [models.UniqueConstraint(fields=["event", "handler"], name="outbox_delivery_once")]
        indexes = [
            # Partial indexes stay as small as the backlog, however many done rows pile up before pruning.
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="pending"), name="outbox_due"),
            models.Index(fields=["lease_expires_at"], condition=Q(status="running"), name="outbox_leased"),
            # "Is an earlier event of this key still in flight for this handler?" (ordered handlers).
            models.Index(
                fields=["handler", "ordering_key", "event"],
                condition=Q(status__in=["pending", "running"]),
                name="outbox_inflight_key",
            ),
            models.Index(fields=["handler", "created_at"], condition=Q(status="dead"), name="outbox_dead"),
        ]
        verbose_name = _("outbox delivery")
        verbose_name_plural = _("outbox deliveries")

    def __str__(self) -> str:
        return f"{self.handler} ← {self.event_id} ({self.status})"


class NotificationReceipt(TenantOwned):
    """"This notification for this outbox event reached this agent (or owner)" — the idempotency record
    of handlers that notify people (push's alerts, billing's owner emails): ``support.events.receipts``.

    Keyed by the event's public id (not a foreign key) so pruning old outbox events keeps it. The
    table keeps the name it had in ``push`` (a state-only move, ``migrations/0003``).
    """

    class Kind(models.TextChoices):
        AGENT_ALERT = "agent_alert", "Agent alert"
        OFFLINE_CONVERSATION = "offline_conversation", "Offline conversation"
        BILLING_EMAIL = "billing_email", "Billing email to an owner"

    event_public_id = models.CharField(max_length=40)
    kind = models.CharField(max_length=24, choices=Kind.choices)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    # Which channels were used: "push", "email" or both ("push,email").
    channels = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "push_notificationreceipt"
        constraints = [
            models.UniqueConstraint(
                fields=["event_public_id", "kind", "membership"], name="notifreceipt_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_public_id} → {self.membership_id}"
