"""Admin pages of webhooks: endpoints (managed through the webhook services) and the delivery log.

Tenant owners/admins see and manage only their own endpoints and deliveries (``TenantScopedAdmin``);
each delivery shows its request, every attempt with response code and duration, and can be
redelivered. Imported by ``push/admin.py``.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from push.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from push.webhooks import services
from push.webhooks.events import ALL_EVENTS, WEBHOOK_EVENT_TYPES, clean_event_types
from support.admin_base import TenantScopedAdmin, TenantScopedAdminForm
from support.admin_site import tenant_admin_membership
from support.errors import DomainError


class WebhookEndpointForm(TenantScopedAdminForm):
    url = forms.URLField(
        max_length=2000, assume_scheme="https", help_text="http(s) only; internal addresses are refused"
    )
    # Checkboxes, not a JSON text box (which showed a new endpoint's empty value as the text "null").
    event_types = forms.MultipleChoiceField(
        choices=[(ALL_EVENTS, "All events, including ones added later"), *((t, t) for t in WEBHOOK_EVENT_TYPES)],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "is_active"]

    def clean_url(self) -> str:
        try:
            return services.clean_url(self.cleaned_data.get("url"))
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from None

    def clean_event_types(self) -> list[str]:
        try:
            return clean_event_types(self.cleaned_data.get("event_types"))
        except DomainError as exc:
            raise forms.ValidationError(exc.detail) from None


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(TenantScopedAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "is_active", "event_types", "consecutive_failures", "failing_since", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["url", "description", "public_id"]
    readonly_fields = ["public_id", "secret", "disabled_reason", "failing_since", "consecutive_failures",
                       "created_by", "created_at", "updated_at"]
    fields = ["url", "description", "event_types", "is_active", *readonly_fields]
    actions = ["send_ping", "rotate_secret"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            # Nothing below exists before saving; a secret shown here would be a fresh default on
            # every reload, not the one the endpoint gets.
            return ["url", "description", "event_types", "is_active"]
        return super().get_fields(request, obj)

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        # Through the services, so the admin gets the same checks and side effects as the API.
        data = form.cleaned_data
        if change:
            services.update_endpoint(
                endpoint=obj, url=data["url"], event_types=data["event_types"],
                description=data.get("description", ""), is_active=data["is_active"],
            )
            return
        membership = tenant_admin_membership(request)
        created = services.create_endpoint(
            tenant=membership.tenant if membership else data["tenant"], url=data["url"],
            event_types=data["event_types"], description=data.get("description", ""), created_by=membership,
        )
        if not data["is_active"]:
            created = services.update_endpoint(endpoint=created, is_active=False)
        for field in created._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.delete_endpoint(endpoint=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            services.delete_endpoint(endpoint=endpoint)

    @admin.action(description=_("Send a test ping"), permissions=["change"])
    def send_ping(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            delivery = services.send_test_ping(endpoint=endpoint)
            level = messages.SUCCESS if delivery.status == WebhookDelivery.Status.SUCCEEDED else messages.WARNING
            outcome = f"HTTP {delivery.last_response_code}" if delivery.last_response_code else delivery.last_error
            self.message_user(request, gettext("Ping to %(url)s: %(outcome)s in %(ms)s ms") % {
                "url": endpoint.url, "outcome": outcome, "ms": delivery.last_duration_ms}, level)

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            services.update_endpoint(endpoint=endpoint, rotate_secret=True)
        count = queryset.count()
        self.message_user(request, ngettext("A new secret for %(count)d endpoint; update your receiver.",
                                            "New secrets for %(count)d endpoints; update your receivers.", count)
                          % {"count": count})


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(TenantScopedAdmin):
    list_display = ["public_id", "event_type", "endpoint", "status", "attempts", "last_response_code",
                    "last_duration_ms", "created_at", "delivered_at"]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["public_id", "event_public_id", "ordering_key"]
    date_hierarchy = "created_at"
    readonly_fields = ("public_id", "endpoint", "event_public_id", "event_type", "ordering_key", "redelivery_of",
                       "status", "attempts", "next_attempt_at", "last_response_code", "last_duration_ms",
                       "last_error", "request_headers", "request_body", "response_excerpt", "created_at",
                       "delivered_at", "attempt_table")
    fields = readonly_fields
    # The log is a record: people look at it and redeliver from it, they never edit it.
    tenant_permissions = {"view"}
    actions = ["redeliver"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("endpoint")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("Attempts"))
    def attempt_table(self, obj: WebhookDelivery) -> str:
        """Every attempt, read-only: a table, not an inline (whose hidden inputs would carry the
        attempts' integer pks, and attempts have no public id)."""
        attempts = list(WebhookAttempt.objects.filter(delivery=obj).order_by("number"))
        if not attempts:
            return "No attempts yet."
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                    "<td style='white-space:pre-wrap'>{}</td></tr>", (
            (a.number, date_format(localtime(a.started_at), "DATETIME_FORMAT"), f"{a.duration_ms} ms",
             a.response_code if a.response_code is not None else "–", a.error or "–", a.response_excerpt)
            for a in attempts
        ))
        return format_html("<table><thead><tr><th>#</th><th>Started</th><th>Duration</th><th>Response</th>"
                           "<th>Error</th><th>Response excerpt</th></tr></thead><tbody>{}</tbody></table>", rows)

    @admin.action(description=_("Redeliver (same event, new delivery id)"), permissions=["view"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued, refused = 0, []
        for delivery in queryset.order_by("sequence", "pk"):
            try:
                services.redeliver(delivery=delivery)
                queued += 1
            except DomainError as exc:
                refused.append(f"{delivery.public_id}: {exc.detail}")
        if queued:
            done = ngettext("Queued %(count)d redelivery.", "Queued %(count)d redeliveries.", queued)
            self.message_user(request, done % {"count": queued}, messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)
