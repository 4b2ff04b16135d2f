"""Base classes for admin pages of tenant-owned models: subclass these, never plain ModelAdmin.

Usage (in ``<app>/admin.py``)::

    from django.contrib import admin
    from support.admin_base import TenantScopedAdmin, TenantScopedTabularInline

    @admin.register(Webhook)
    class WebhookAdmin(TenantScopedAdmin):
        list_display = ["url", "is_active"]
        search_fields = ["url"]
        tenant_permissions = {"view", "change"}   # what owners/admins may do; default: all four

What the base guarantees, for every request of a tenant owner/admin (``request.tenant``):

* change lists, search, list filters, the change/delete/history URLs and autocomplete only ever
  see rows with ``tenant == request.tenant``; another tenant's object id is a 404, exactly like a
  missing one (Django's default would redirect with "doesn't exist");
* every foreign-key / many-to-many choice to a tenant-owned model (and to users) is limited to the
  tenant, so a forged POST with a foreign id is a form error, never a saved row;
* ``tenant`` is never a form field for them: a new row gets ``request.tenant``, an existing row
  keeps its tenant;
* rights come from the membership role (``tenant_roles`` × ``tenant_permissions``), not from
  Django's permission tables.

Object pages are addressed by ``public_id``, never by the integer pk, and the forms' related-row
choices, autocomplete results, action checkboxes and inline rows' hidden ids are public ids too
(``support.admin_ids``, mixed in here; the site adds it to any other admin of a public-id model).

Platform staff keep Django's permissions and see all tenants (a read-only ``tenant`` column and
filter are added for them; on add they choose the tenant, and related rows must belong to it).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from support.admin_ids import OpaqueIdAdminMixin, OpaqueIdInlineMixin, PublicIdModelChoiceField, public_id_filters
from support.admin_site import MissingIs404Mixin, is_platform_staff, tenant_admin_membership
from support.models import Membership, Tenant, User

ALL_PERMISSIONS = frozenset({"view", "add", "change", "delete"})


def is_tenant_owned(model: type[models.Model]) -> bool:
    """True for models with a ``tenant`` foreign key to Tenant (``TenantOwned`` and lookalikes)."""
    try:
        field = model._meta.get_field("tenant")
    except Exception:  # noqa: BLE001 - FieldDoesNotExist and friends: simply not tenant-owned
        return False
    return bool(field.is_relation and field.related_model is Tenant)


def scoped_choices(request: HttpRequest, model: type[models.Model], queryset: QuerySet | None) -> QuerySet | None:
    """Limit a form field's choices to what the request's tenant may pick; None = leave as is."""
    membership = tenant_admin_membership(request)
    if membership is None:
        return None
    tenant = membership.tenant
    base = queryset if queryset is not None else model._default_manager.all()
    if is_tenant_owned(model):
        return base.filter(tenant=tenant)
    if model is Tenant:
        return base.filter(pk=tenant.pk)
    if model is User:
        return base.filter(memberships__tenant=tenant).distinct()
    # Any other model is neither tenant data nor safe to list: offer nothing rather than guess.
    return base.none()


class TenantScopedAdminForm(forms.ModelForm):
    """Checks that every related row belongs to this row's tenant (for staff, who see all tenants).

    ``row_tenant`` is set per request by the admin for a tenant user's new rows.
    """

    row_tenant: Tenant | None = None

    def _tenant(self) -> Tenant | None:
        if getattr(self.instance, "tenant_id", None):
            return self.instance.tenant
        chosen = self.cleaned_data.get("tenant") if "tenant" in self.fields else None
        return chosen if isinstance(chosen, Tenant) else self.row_tenant

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        tenant = self._tenant()
        if tenant is None:
            return cleaned
        if not getattr(self.instance, "tenant_id", None):
            # Set before model validation so (tenant, name)-style unique constraints are checked.
            self.instance.tenant = tenant
        for name, value in list(cleaned.items()):
            if name == "tenant":
                continue
            values: Iterable[Any] = value if isinstance(value, QuerySet | list | tuple) else [value]
            for related in values:
                if isinstance(related, models.Model) and is_tenant_owned(type(related)) \
                        and related.tenant_id != tenant.pk:  # type: ignore[attr-defined]
                    self.add_error(name, "Choose one that belongs to the same workspace.")
                    break
        return cleaned

    def _get_validation_exclusions(self) -> set[str]:
        # ``tenant`` is not a form field, so Django would skip every constraint that includes it
        # (e.g. unique (tenant, name)) and a duplicate would surface as an IntegrityError (500).
        exclude: set[str] = super()._get_validation_exclusions()  # type: ignore[misc]
        if getattr(self.instance, "tenant_id", None):
            exclude.discard("tenant")
        return exclude


def _with_scoped_choices(field: Any, request: HttpRequest, db_field: Any) -> Any:
    """``field`` (a relation's form field, or None) with its choices narrowed to what ``request`` may
    pick (``scoped_choices``), when that narrows them."""
    if field is not None and hasattr(field, "queryset"):
        scoped = scoped_choices(request, db_field.related_model, field.queryset)
        if scoped is not None:
            field.queryset = scoped
    return field


class _TenantScopedOptions:
    """What the model admin and the inlines share: queryset, choices and role-based rights."""

    #: Roles admitted to this page (agents never reach the admin at all).
    tenant_roles: frozenset[str] = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})
    #: What those roles may do here.
    tenant_permissions: frozenset[str] | set[str] = ALL_PERMISSIONS

    model: type[models.Model]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)  # type: ignore[misc]
        if not qs.ordered:
            qs = qs.order_by("-pk")  # autocomplete pages through this: a stable order, newest first
        if is_platform_staff(request):
            return qs
        membership = tenant_admin_membership(request)
        if membership is None:
            return qs.none()
        return qs.filter(tenant=membership.tenant)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]
        return _with_scoped_choices(field, request, db_field)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        return _with_scoped_choices(field, request, db_field)

    def tenant_may(self, request: HttpRequest, action: str, obj: models.Model | None = None) -> bool:
        membership = tenant_admin_membership(request)
        if membership is None or membership.role not in self.tenant_roles or action not in self.tenant_permissions:
            return False
        return obj is None or getattr(obj, "tenant_id", None) == membership.tenant_id

    def has_module_permission(self, request: HttpRequest) -> bool:
        if is_platform_staff(request):
            return super().has_module_permission(request)  # type: ignore[misc]
        return self.tenant_may(request, "view") or self.tenant_may(request, "change")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request):
            return super().has_view_permission(request, obj)  # type: ignore[misc]
        return self.tenant_may(request, "view", obj) or self.tenant_may(request, "change", obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        # Inlines receive (request, obj), model admins (request); obj is the parent there.
        if is_platform_staff(request):
            return super().has_add_permission(request, *args)  # type: ignore[misc]
        return self.tenant_may(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request):
            return super().has_change_permission(request, obj)  # type: ignore[misc]
        return self.tenant_may(request, "change", obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request):
            return super().has_delete_permission(request, obj)  # type: ignore[misc]
        return self.tenant_may(request, "delete", obj)


class TenantScopedAdmin(OpaqueIdAdminMixin, MissingIs404Mixin, _TenantScopedOptions, admin.ModelAdmin):
    """ModelAdmin for a tenant-owned model (one with ``tenant = ForeignKey(Tenant)``)."""

    form = TenantScopedAdminForm

    def _staff_adding(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None and is_platform_staff(request)

    def get_list_display(self, request: HttpRequest) -> Any:
        columns = list(super().get_list_display(request))
        if is_platform_staff(request) and "tenant" not in columns:
            columns.append("tenant")
        return columns

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))
        if is_platform_staff(request) and "tenant" not in filters:
            filters.append("tenant")
        # Relations to public-id models filter by public id, with choices from the listed rows
        # only (for a tenant user: their own rows).
        filters = public_id_filters(self.model, filters)
        if not is_platform_staff(request):
            return [
                (f, admin.RelatedOnlyFieldListFilter) if isinstance(f, str) and self._is_relation(f) else f
                for f in filters
            ]
        return filters

    def _is_relation(self, path: str) -> bool:
        try:
            field = self.model._meta.get_field(path)
        except Exception:  # noqa: BLE001 - spanning lookups ("a__b") keep Django's own filter
            return False
        return bool(field.is_relation)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and is_platform_staff(request) and "tenant" not in fields:
            fields.insert(0, "tenant")
        return fields

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = list(super().get_fieldsets(request, obj))
        if self._staff_adding(request, obj) and "tenant" not in flatten_fieldsets(fieldsets):
            fieldsets.insert(0, (None, {"fields": ["tenant"]}))
        return fieldsets

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        base = kwargs.get("form", self.form)
        attrs: dict[str, Any] = {}
        if self._staff_adding(request, obj):
            attrs["tenant"] = PublicIdModelChoiceField(queryset=Tenant.objects.order_by("name"))
        membership = tenant_admin_membership(request)
        if membership is not None:
            attrs["row_tenant"] = membership.tenant
        if attrs:
            kwargs["form"] = type(base.__name__, (base,), attrs)
        fields = kwargs.get("fields")
        if fields is None and "fields" not in kwargs:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        if fields is not None:
            # ``tenant`` is a non-editable model field: only ever the declared staff field above.
            kwargs["fields"] = [f for f in fields if f != "tenant"]
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change and not obj.tenant_id:
            membership = tenant_admin_membership(request)
            obj.tenant = membership.tenant if membership else form.cleaned_data["tenant"]
        super().save_model(request, obj, form, change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        parent_tenant_id = getattr(form.instance, "tenant_id", None)
        for inline_form in formset.forms:
            instance = inline_form.instance
            if is_tenant_owned(type(instance)) and not instance.tenant_id:
                instance.tenant_id = parent_tenant_id
        super().save_formset(request, form, formset, change)


class TenantScopedInlineMixin(OpaqueIdInlineMixin, _TenantScopedOptions):
    """Inline rows of a tenant-owned parent (new rows take the parent's tenant on save)."""


class TenantScopedTabularInline(TenantScopedInlineMixin, admin.TabularInline):
    form = TenantScopedAdminForm


class TenantScopedStackedInline(TenantScopedInlineMixin, admin.StackedInline):
    form = TenantScopedAdminForm
