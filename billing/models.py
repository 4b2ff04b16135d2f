"""Billing tables: subscriptions, seat and plan changes, usage, invoices and payment-provider events.

Tenant rows use the same django-scopes manager as support/: unscoped queries raise. Sweeps over all
tenants (period closing, dunning) list due rows under ``scopes_disabled()`` and then work per tenant.
"""
from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django_scopes import ScopedManager

from billing.line_texts import describe
from support.fields import PublicIdField
from support.models import Tenant


class Subscription(models.Model):
    """A tenant's plan and billing state. One per tenant; created with the tenant (trial)."""

    class Status(models.TextChoices):
        TRIALING = "trialing", _("Trialing")
        ACTIVE = "active", _("Active")
        PAST_DUE = "past_due", _("Past due")
        CANCELED = "canceled", _("Canceled")

    class Provider(models.TextChoices):
        MANUAL = "manual", _("Manual (an admin marks invoices paid)")
        STRIPE = "stripe", "Stripe"

    tenant = models.OneToOneField(
        Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="subscription")
    plan = models.CharField(verbose_name=_("plan"), max_length=20, default="free")
    status = models.CharField(verbose_name=_("status"), max_length=10, choices=Status.choices, default=Status.TRIALING)
    seats = models.PositiveIntegerField(verbose_name=_("seats"), default=1, help_text=_("Paid seats"))
    current_period_start = models.DateTimeField(verbose_name=_("current period start"))
    current_period_end = models.DateTimeField(verbose_name=_("current period end"))
    trial_ends_at = models.DateTimeField(verbose_name=_("trial ends at"), null=True, blank=True)
    past_due_since = models.DateTimeField(verbose_name=_("past due since"), null=True, blank=True)
    dunning_attempts = models.PositiveSmallIntegerField(verbose_name=_("dunning attempts"), default=0)
    provider = models.CharField(
        verbose_name=_("provider"), max_length=10, choices=Provider.choices, default=Provider.MANUAL)
    stripe_customer_id = models.CharField(verbose_name=_("stripe customer id"), max_length=64, blank=True)
    stripe_subscription_id = models.CharField(verbose_name=_("stripe subscription id"), max_length=64, blank=True)
    # The provider's timestamp of the newest state we applied: older events never roll it back.
    provider_state_at = models.DateTimeField(verbose_name=_("provider state at"), null=True, blank=True)
    updated_at = models.DateTimeField(verbose_name=_("updated at"), default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return f"{self.tenant} · {self.plan} ({self.status})"


class SeatChange(models.Model):
    """A seat added or removed during a period, from a membership outbox event (idempotent by event)."""

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(verbose_name=_("event id"), max_length=40, unique=True)
    delta = models.SmallIntegerField(verbose_name=_("delta"))
    at = models.DateTimeField(verbose_name=_("at"))

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("seat change")
        verbose_name_plural = _("seat changes")

    def __str__(self) -> str:
        return f"{self.delta:+d} seat at {self.at:%Y-%m-%d}"


class PlanChange(models.Model):
    """A change of the plan a tenant is billed at, written in the transaction that made the change.

    Closing a period splits it at these rows and bills each piece at its own plan
    (``billing.invoicing``). The status is kept beside the plan because it decides what is billed:
    a trialing subscription pays nothing and a canceled one is on Free. Rows are only written when
    the billed plan really changes (``billing.subscriptions.record_plan_change``), and ``at`` never
    goes back: not before the open period's start, nor before the tenant's previous change.
    """

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(verbose_name=_("at"), help_text=_("When the change takes effect for billing"))
    from_plan = models.CharField(verbose_name=_("from plan"), max_length=20)
    to_plan = models.CharField(verbose_name=_("to plan"), max_length=20)
    from_status = models.CharField(verbose_name=_("from status"), max_length=10, choices=Subscription.Status.choices)
    to_status = models.CharField(verbose_name=_("to status"), max_length=10, choices=Subscription.Status.choices)
    seats_before = models.PositiveIntegerField(verbose_name=_("seats before"))
    seats_after = models.PositiveIntegerField(verbose_name=_("seats after"))
    source = models.CharField(verbose_name=_("source"),
        max_length=120, help_text=_("What made it: owner, dunning, trial ended, stripe <event id>"))

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("plan change")
        verbose_name_plural = _("plan changes")
        indexes = [models.Index(fields=["tenant", "at"], name="plan_change_tenant_at")]

    def __str__(self) -> str:
        return f"{self.from_plan} ({self.from_status}) → {self.to_plan} ({self.to_status}) at {self.at:%Y-%m-%d %H:%M}"


class UsageRecord(models.Model):
    """One metered unit (e.g. a conversation started), idempotent by outbox event id.

    ``period_start`` is the start of the billing period the unit happened in (``at``), even when it
    is metered after that period closed (``billing.usage``). A unit that arrives after its period's
    invoice was issued, and could change it, points at that invoice (``late_for``) until the next
    invoice settles it with an adjustment line (``settled_by``).
    """

    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.CASCADE, related_name="+")
    event_id = models.CharField(verbose_name=_("event id"), max_length=40, unique=True)
    metric = models.CharField(verbose_name=_("metric"), max_length=30)
    period_start = models.DateTimeField(verbose_name=_("period start"))
    at = models.DateTimeField(verbose_name=_("at"))
    quantity = models.PositiveIntegerField(verbose_name=_("quantity"), default=1)
    late_for = models.ForeignKey(
        "Invoice", verbose_name=_("late for"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="late_usage",
        help_text=_("The issued invoice of this unit's period, which did not count it"),
    )
    settled_by = models.ForeignKey(
        "Invoice", verbose_name=_("settled by"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("The invoice whose adjustment line billed this late unit"),
    )

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("usage record")
        verbose_name_plural = _("usage records")
        indexes = [models.Index(fields=["tenant", "metric", "period_start"], name="usage_tenant_period")]

    def __str__(self) -> str:
        return f"{self.metric} at {self.at:%Y-%m-%d}"


class InvoiceSequence(models.Model):
    """The gap-free invoice counter (one row per year), incremented under a row lock."""

    year = models.PositiveIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last_number}"


class Invoice(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("invoice status", "Open")
        PAID = "paid", _("Paid")
        VOID = "void", _("Void")

    public_id = PublicIdField(prefix="inv")
    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(verbose_name=_("number"), max_length=20, unique=True)
    period_start = models.DateTimeField(verbose_name=_("period start"))
    period_end = models.DateTimeField(verbose_name=_("period end"))
    plan = models.CharField(verbose_name=_("plan"), max_length=20)
    currency = models.CharField(verbose_name=_("currency"), max_length=3, default="EUR")
    total = models.DecimalField(verbose_name=_("total"), max_digits=12, decimal_places=2, default=Decimal("0.00"))
    status = models.CharField(verbose_name=_("status"), max_length=4, choices=Status.choices, default=Status.OPEN)
    issued_at = models.DateTimeField(verbose_name=_("issued at"), default=timezone.now)
    paid_at = models.DateTimeField(verbose_name=_("paid at"), null=True, blank=True)
    payment_reference = models.CharField(verbose_name=_("payment reference"), max_length=100, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period_start"], name="invoice_one_per_period"),
        ]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(models.Model):
    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), on_delete=models.PROTECT, related_name="+")
    invoice = models.ForeignKey(Invoice, verbose_name=_("invoice"), on_delete=models.CASCADE, related_name="lines")
    # What the line says, language-neutral (billing.line_texts): written in the reader's language.
    # Lines issued before kinds existed have none and show their English ``description``.
    kind = models.CharField(verbose_name=_("kind"), max_length=20, blank=True)
    params = models.JSONField(verbose_name=_("params"), default=dict, blank=True)
    description = models.CharField(verbose_name=_("description"), max_length=200)  # the English text, as issued
    quantity = models.DecimalField(verbose_name=_("quantity"), max_digits=12, decimal_places=4)
    unit_price = models.DecimalField(verbose_name=_("unit price"), max_digits=12, decimal_places=4)
    amount = models.DecimalField(verbose_name=_("amount"), max_digits=12, decimal_places=2)

    objects = ScopedManager(tenant="tenant")

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        """What the line says in the active language (its stored English for lines without a kind)."""
        return describe(self.kind, self.params) if self.kind else self.description

    @property
    def quantity_display(self) -> str:
        """The quantity without trailing zeros and never in exponent form (10, 1.4667)."""
        return f"{self.quantity.normalize():f}"


class ProviderEvent(models.Model):
    """A verified payment-provider webhook, stored once by its event id before anything acts on it."""

    provider = models.CharField(verbose_name=_("provider"), max_length=10)
    event_id = models.CharField(verbose_name=_("event id"), max_length=100)
    type = models.CharField(verbose_name=_("type"), max_length=80)
    created = models.DateTimeField(verbose_name=_("created"), help_text=_("The provider's creation time of the event"))
    payload = models.JSONField(verbose_name=_("payload"))
    received_at = models.DateTimeField(verbose_name=_("received at"), default=timezone.now)
    tenant = models.ForeignKey(Tenant, verbose_name=_("tenant"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+")
    # Set in the transaction that applied the event: a second run of the handler does nothing.
    applied_at = models.DateTimeField(verbose_name=_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("provider event")
        verbose_name_plural = _("provider events")
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="provider_event_once")]

    def __str__(self) -> str:
        return f"{self.provider} {self.type} {self.event_id}"
