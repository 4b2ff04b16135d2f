"""Admin pages of the outbox: every delivery with its status and last error, and replay of dead letters.

Platform staff only. The outbox is plumbing: handler names, tracebacks and internal row ids are
operator matters, not a tenant's; what a tenant's owners/admins need from it (their webhook
deliveries, with every attempt and a redeliver button) has its own pages in ``push/admin_webhooks.py``.
Nothing here edits an event: replay only re-queues deliveries.
"""
from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from support.admin_base import TenantScopedAdmin
from support.events import dispatcher
from support.events.models import OutboxDelivery, OutboxEvent


class DeliveryInline(admin.TabularInline):
    model = OutboxDelivery
    fields = ["handler", "status", "attempts", "next_attempt_at", "handled_at", "last_error"]
    readonly_fields = ["handler", "status", "attempts", "next_attempt_at", "handled_at", "last_error"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(TenantScopedAdmin):
    list_display = ["public_id", "type", "ordering_key", "created_at"]
    list_filter = ["type"]
    search_fields = ["public_id", "ordering_key"]
    date_hierarchy = "created_at"
    readonly_fields = ["public_id", "type", "version", "payload", "ordering_key", "created_at"]
    tenant_permissions: set[str] = set()  # platform staff only (module docstring)
    inlines = [DeliveryInline]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OutboxDelivery)
class OutboxDeliveryAdmin(TenantScopedAdmin):
    list_display = ["event_link", "event_type", "handler", "status", "attempts", "next_attempt_at", "handled_at",
                    "error_summary"]
    list_filter = ["status", "handler", "event__type"]
    search_fields = ["event__public_id", "ordering_key", "handler"]
    list_select_related = ["event"]
    readonly_fields = ["event", "handler", "ordering_key", "status", "attempts", "next_attempt_at",
                       "lease_expires_at", "claim_token", "handled_at", "created_at", "last_error"]
    actions = ["replay"]
    # Platform staff only; the rows themselves are only ever changed by the dispatcher.
    tenant_permissions: set[str] = set()

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("event"), ordering="event_id")
    def event_link(self, obj: OutboxDelivery) -> str:
        return obj.event.public_id

    @admin.display(description=_("type"), ordering="event__type")
    def event_type(self, obj: OutboxDelivery) -> str:
        return obj.event.type

    @admin.display(description=_("last error"))
    def error_summary(self, obj: OutboxDelivery) -> str:
        # The last line of a traceback is the exception itself: the useful part in a list.
        lines = [line for line in obj.last_error.strip().splitlines() if line.strip()]
        return Truncator(lines[-1]).chars(120) if lines else ""

    @admin.action(description=_("Replay selected dead or waiting deliveries now"), permissions=["change"])
    def replay(self, request: HttpRequest, queryset: QuerySet[OutboxDelivery]) -> None:
        chosen = list(queryset)
        replayed = dispatcher.replay(chosen)
        skipped = len(chosen) - replayed
        self.message_user(request, f"Queued {replayed} deliveries again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"Skipped {skipped} that are running or already done.", messages.WARNING
            )

