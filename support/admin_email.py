"""Admin pages of the email channel: a tenant's forwarded addresses, its mail log, and (platform
staff only) refused mail kept for inspection, with its raw bytes to download."""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_scopes import scopes_disabled

from support.admin_base import MissingIs404Mixin, TenantScopedAdmin, TenantScopedAdminForm
from support.admin_site import PlatformStaffReadOnlyMixin, is_platform_staff
from support.models import EmailAlias, MailRecord, RejectedMail


class EmailAliasForm(TenantScopedAdminForm):
    def clean_address(self) -> str:
        address = (self.cleaned_data.get("address") or "").strip().lower()
        # Unique across tenants, which the tenant's scoped constraint check cannot see.
        with scopes_disabled():
            taken = EmailAlias.objects.filter(address__iexact=address).exclude(pk=self.instance.pk).exists()
        if taken:
            raise forms.ValidationError("This address already forwards to a Switchboard workspace.")
        return address


@admin.register(EmailAlias)
class EmailAliasAdmin(TenantScopedAdmin):
    form = EmailAliasForm
    list_display = ["address", "created_at"]
    search_fields = ["address"]
    fields = ["address"]


@admin.register(MailRecord)
class MailRecordAdmin(TenantScopedAdmin):
    """Every email in or out: what was posted, and what was recorded and never answered."""

    tenant_permissions = {"view"}
    list_display = ["created_at", "direction", "status", "from_address", "subject", "route"]
    list_filter = ["direction", "status", "route"]
    search_fields = ["mail_id", "from_address", "subject"]
    date_hierarchy = "created_at"
    fields = readonly_fields = ("direction", "status", "route", "mail_id", "from_address", "to_address", "subject",
                                "conversation", "created_at")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(RejectedMail)
class RejectedMailAdmin(PlatformStaffReadOnlyMixin, MissingIs404Mixin, admin.ModelAdmin):
    """Mail refused as malformed or too large, for platform staff to inspect (the tenant may be unknown)."""

    list_display = ["received_at", "reason", "route", "mail_from", "size", "addressed_to"]
    list_filter = ["reason", "route"]
    search_fields = ["mail_from", "detail"]
    date_hierarchy = "received_at"
    fields = readonly_fields = ("received_at", "reason", "detail", "route", "mail_from", "recipients", "size",
                                "addressed_to", "raw_link")

    def get_urls(self) -> list[Any]:
        raw = path("<int:pk>/raw/", self.admin_site.admin_view(self.raw_view), name="support_rejectedmail_raw")
        return [raw, *super().get_urls()]

    @admin.display(description=_("Raw message"))
    def raw_link(self, obj: RejectedMail) -> str:
        return format_html('<a href="{}">Download .eml ({} bytes kept)</a>',
                           reverse("admin:support_rejectedmail_raw", args=[obj.pk]), len(obj.raw or b""))

    def raw_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not is_platform_staff(request):
            raise Http404("No such mail")
        obj = RejectedMail.objects.filter(pk=pk).first()
        if obj is None:
            raise Http404("No such mail")
        response = HttpResponse(bytes(obj.raw or b""), content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="rejected-{obj.pk}.eml"'
        response["X-Content-Type-Options"] = "nosniff"
        return response

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request)  # staff may clear refused mail out
