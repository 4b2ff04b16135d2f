"""Admin pages for API tokens: create (the token is shown once), list, and revoke.

Import this module from ``support/admin.py`` so the pages register with the admin site.
"""
from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from support.admin_base import TenantScopedAdmin, TenantScopedAdminForm
from support.admin_site import tenant_admin_membership
from support.models import ApiToken
from support.services.api_tokens import create_token, revoke_token

_ISSUED_ATTR = "_switchboard_issued_token"


class ApiTokenForm(TenantScopedAdminForm):
    class Meta:
        model = ApiToken
        fields = ["name", "scope"]


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    form = ApiTokenForm
    list_display = ["name", "visible_prefix", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix"]
    ordering = ["-created_at"]
    actions = ["revoke"]
    # No delete: a token is revoked (kept for the record), never silently removed.
    tenant_permissions = frozenset({"view", "add", "change"})

    @admin.display(description=_("Token starts with"))
    def visible_prefix(self, obj: ApiToken) -> str:
        return f"sb_{obj.prefix}_…"

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["name", "scope"]
        return ["name", "visible_prefix", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return super().get_readonly_fields(request, obj)
        return ["name", "visible_prefix", "scope", "created_by", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: forms.ModelForm, change: bool) -> None:
        if change:
            return  # every field is read-only once created
        membership = tenant_admin_membership(request)
        tenant = membership.tenant if membership else form.cleaned_data["tenant"]
        issued = create_token(tenant=tenant, name=obj.name, scope=obj.scope, created_by=request.user)  # type: ignore[arg-type]
        obj.pk, obj.tenant, obj.prefix = issued.token.pk, tenant, issued.token.prefix
        setattr(request, _ISSUED_ATTR, issued.plaintext)

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        # Shown in this response only: never stored, never put in a message cookie.
        plaintext = getattr(request, _ISSUED_ATTR, None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        context = {**self.admin_site.each_context(request), "title": "API token created", "token": obj,
                   "plaintext": plaintext, "opts": self.model._meta}
        return TemplateResponse(request, "admin/api_token_issued.html", context)

    @admin.action(description=_("Revoke selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            revoke_token(token=token)
            count += 1
        revoked = ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", count)
        self.message_user(request, revoked % {"count": count}, messages.SUCCESS)
