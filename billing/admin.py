"""Billing in the admin, for platform staff only (tenants use the billing page)."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from billing.models import Invoice, InvoiceLine, PlanChange, ProviderEvent, SeatChange, Subscription, UsageRecord
from billing.payments import mark_invoice_paid
from support.admin_ids import OpaqueIdAdminMixin


class StaffOnlyAdmin(OpaqueIdAdminMixin, admin.ModelAdmin):
    # What a tenant's owners and admins may do here, as support.admin_base declares it: nothing.
    tenant_permissions: frozenset[str] = frozenset()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Subscription)
class SubscriptionAdmin(StaffOnlyAdmin):
    list_display = ("tenant", "plan", "status", "seats", "current_period_end", "trial_ends_at", "provider")
    list_filter = ("plan", "status", "provider")
    search_fields = ("tenant__name", "tenant__slug", "stripe_customer_id")
    readonly_fields = ("tenant", "provider_state_at", "stripe_customer_id", "stripe_subscription_id")


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    fields = ("text", "quantity", "unit_price", "amount")
    readonly_fields = fields
    extra = 0
    can_delete = False

    @admin.display(description=_("description"))
    def text(self, obj: InvoiceLine) -> str:
        """The line in the reader's language (billing.line_texts), as the invoice reads."""
        return obj.text


@admin.register(Invoice)
class InvoiceAdmin(StaffOnlyAdmin):
    list_display = ("number", "tenant", "period_start", "period_end", "total", "currency", "status", "paid_at")
    list_filter = ("status", "plan")
    search_fields = ("number", "tenant__name")
    readonly_fields = ("number", "tenant", "period_start", "period_end", "plan", "currency", "total", "status",
                       "issued_at", "paid_at", "payment_reference")
    inlines = [InvoiceLineInline]
    actions = ["mark_paid"]

    @admin.action(description=_("Mark selected invoices paid (manual provider)"))
    def mark_paid(self, request: HttpRequest, queryset: QuerySet[Invoice]) -> None:
        count = 0
        for invoice in queryset.select_related("tenant"):
            if invoice.status != Invoice.Status.PAID:
                mark_invoice_paid(invoice=invoice, reference=f"manual by {request.user}")
                count += 1
        marked = ngettext("%(count)d invoice marked paid.", "%(count)d invoices marked paid.", count)
        self.message_user(request, marked % {"count": count}, messages.SUCCESS)


@admin.register(ProviderEvent)
class ProviderEventAdmin(StaffOnlyAdmin):
    list_display = ("event_id", "provider", "type", "tenant", "created", "received_at", "applied_at")
    list_filter = ("provider", "type")
    search_fields = ("event_id",)
    readonly_fields = ("provider", "event_id", "type", "created", "payload", "received_at", "tenant", "applied_at")


@admin.register(UsageRecord)
class UsageRecordAdmin(StaffOnlyAdmin):
    list_display = ("tenant", "metric", "at", "period_start", "event_id", "late_for", "settled_by")
    list_filter = ("metric",)


@admin.register(SeatChange)
class SeatChangeAdmin(StaffOnlyAdmin):
    list_display = ("tenant", "delta", "at", "event_id")


@admin.register(PlanChange)
class PlanChangeAdmin(StaffOnlyAdmin):
    list_display = ("tenant", "at", "from_plan", "from_status", "to_plan", "to_status", "seats_before", "seats_after",
                    "source")
    list_filter = ("to_plan", "from_plan")
    readonly_fields = ("tenant", "at", "from_plan", "to_plan", "from_status", "to_status", "seats_before",
                       "seats_after", "source")
