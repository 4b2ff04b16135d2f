"""Webhook endpoints, their deliveries (one per event and endpoint) and each HTTP attempt."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from support.fields import PublicIdField
from support.ids import opaque_id
from support.models import Membership, TenantOwned

__all__ = ["WebhookAttempt", "WebhookDelivery", "WebhookEndpoint"]


def new_webhook_secret() -> str:
    return opaque_id("whsec", 40)


class WebhookEndpoint(TenantOwned):
    """A URL of the tenant's that receives signed event deliveries."""

    public_id = PublicIdField(prefix="we")
    url = models.URLField(verbose_name=_("url"), max_length=2000)
    description = models.CharField(verbose_name=_("description"), max_length=200, blank=True)
    # Event types this endpoint receives; ["*"] means all.
    event_types = models.JSONField(verbose_name=_("event types"), default=list)
    secret = models.CharField(verbose_name=_("secret"), max_length=64, default=new_webhook_secret)
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)
    disabled_reason = models.CharField(verbose_name=_("disabled reason"), max_length=300, blank=True)
    # Start of the current run of failed attempts (None while healthy) and its length.
    failing_since = models.DateTimeField(verbose_name=_("failing since"), null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(verbose_name=_("consecutive failures"), default=0)
    created_by = models.ForeignKey(
        Membership, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return "*" in self.event_types or event_type in self.event_types


class WebhookDelivery(TenantOwned):
    """One logical delivery of one event to one endpoint, retried until it succeeds or gives up."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    public_id = PublicIdField(prefix="whd")
    endpoint = models.ForeignKey(WebhookEndpoint, verbose_name=_("endpoint"), on_delete=models.CASCADE,
        related_name="deliveries")
    # Kept after the outbox prunes the event: the log must outlive it (and redelivery uses the body).
    event = models.ForeignKey(
        "events.OutboxEvent", verbose_name=_("event"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+"
    )
    event_public_id = models.CharField(verbose_name=_("event public id"), max_length=40)
    event_type = models.CharField(verbose_name=_("event type"), max_length=60)
    # Deliveries with the same endpoint and ordering key go out in ``sequence`` order.
    ordering_key = models.CharField(verbose_name=_("ordering key"), max_length=60, blank=True)
    sequence = models.BigIntegerField(verbose_name=_("sequence"), default=0)
    redelivery_of = models.ForeignKey(
        "self", verbose_name=_("redelivery of"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="redeliveries"
    )
    status = models.CharField(verbose_name=_("status"), max_length=9, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(verbose_name=_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"), null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(verbose_name=_("last response code"), null=True, blank=True)
    last_duration_ms = models.PositiveIntegerField(verbose_name=_("last duration ms"), null=True, blank=True)
    last_error = models.CharField(verbose_name=_("last error"), max_length=300, blank=True)
    request_headers = models.JSONField(verbose_name=_("request headers"), default=dict, blank=True)
    request_body = models.TextField(verbose_name=_("request body"))
    response_excerpt = models.TextField(verbose_name=_("response excerpt"), blank=True)
    created_at = models.DateTimeField(verbose_name=_("created at"), default=timezone.now)
    delivered_at = models.DateTimeField(verbose_name=_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_public_id"], condition=Q(redelivery_of__isnull=True),
                name="whdelivery_unique_event",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="whdelivery_due"),
            models.Index(fields=["endpoint", "ordering_key", "sequence"], name="whdelivery_order"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(TenantOwned):
    """One HTTP request of a delivery, as sent and as answered."""

    delivery = models.ForeignKey(WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE,
        related_name="attempt_log")
    number = models.PositiveSmallIntegerField(verbose_name=_("number"))
    started_at = models.DateTimeField(verbose_name=_("started at"))
    duration_ms = models.PositiveIntegerField(verbose_name=_("duration ms"))
    request_headers = models.JSONField(verbose_name=_("request headers"), default=dict)
    response_code = models.PositiveSmallIntegerField(verbose_name=_("response code"), null=True, blank=True)
    response_excerpt = models.TextField(verbose_name=_("response excerpt"), blank=True)
    error = models.CharField(verbose_name=_("error"), max_length=300, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="whattempt_unique_number"),
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def succeeded(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300
