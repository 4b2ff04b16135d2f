"""Helpers of the admin tests: making an object of any registered tenant-owned model, and
turning a rendered admin change form back into POST data."""
from __future__ import annotations

import secrets
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support.admin_base import is_tenant_owned
from support.admin_ids import has_public_id
from support.fields import PublicIdField
from support.models import CannedResponse, Conversation, Invitation, Label, Tenant, User
from support.services.accounts import invite_member
from support.services.conversations import set_labels, start_conversation


def tenant_admins() -> list[tuple[type[models.Model], admin.ModelAdmin]]:
    """Every admin page of a tenant-owned model, as registered (new ones are picked up)."""
    return sorted(
        ((model, model_admin) for model, model_admin in admin.site._registry.items() if is_tenant_owned(model)),
        key=lambda pair: pair[0]._meta.label,
    )


def make_object(model: type[models.Model], world: Any) -> models.Model:
    """A row of ``model`` in ``world``'s tenant, with searchable text distinct per tenant."""
    tenant = world.tenant
    slug = tenant.slug
    with scope(tenant=tenant):
        if model is Label:
            return Label.objects.create(tenant=tenant, name=f"label-{slug}")
        if model is CannedResponse:
            return CannedResponse.objects.create(tenant=tenant, shortcut=f"hi-{slug}", title=f"Hello {slug}",
                                                 body=f"Hello from {slug}")
        if model is Conversation:
            conv = start_conversation(tenant=tenant, contact=world.contact, team=world.team, subject=f"Help {slug}")
            conv.assignee = world.agent
            conv.save(update_fields=["assignee"])
            label = Label.objects.create(tenant=tenant, name=f"conv-label-{slug}")
            return set_labels(conversation=conv, labels=[label])
        if model is Invitation:
            return invite_member(tenant=tenant, invited_by=world.owner, email=f"new@{slug}.example",
                                 role="agent").invitation
        if model.__name__ == "Membership":
            return world.agent
        if model.__name__ == "Team":
            return world.team
        if model.__name__ == "Contact":
            return world.contact
    with scopes_disabled():
        existing = model._default_manager.filter(tenant=tenant).first()
        if existing is not None:
            return existing
        try:
            return auto_create(model, world)
        except Exception as exc:  # noqa: BLE001 - turned into a clear instruction below
            pytest.fail(
                f"Could not make a {model._meta.label} row to test its admin's isolation with ({exc!r}): "
                f"teach tests/admin/helpers.py:make_object to create one."
            )


def auto_create(model: type[models.Model], world: Any) -> models.Model:
    """A row filled with plausible values for every required field (for admin pages added later)."""
    tenant, slug = world.tenant, world.tenant.slug
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.name == "tenant":
            values["tenant"] = tenant
            continue
        if field.primary_key or isinstance(field, PublicIdField) or field.has_default() or field.null \
                or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        token = secrets.token_hex(4)
        if field.is_relation:
            related = field.related_model
            if related is Tenant:
                values[field.name] = tenant
            elif related is User:
                values[field.name] = world.owner.user
            elif is_tenant_owned(related):
                values[field.name] = make_object(related, world)
            else:
                values[field.name] = related._default_manager.first() or auto_create(related, world)
        elif field.choices:
            values[field.name] = field.choices[0][0]
        elif isinstance(field, models.EmailField):
            values[field.name] = f"{token}@{slug}.example"
        elif isinstance(field, models.CharField | models.TextField):
            values[field.name] = f"{token}{slug}"[: field.max_length or 50]  # unique even when cut short
        elif isinstance(field, models.BooleanField):
            values[field.name] = False
        elif isinstance(field, models.IntegerField | models.FloatField):
            values[field.name] = 1
        elif isinstance(field, models.DecimalField):
            values[field.name] = Decimal("1")
        elif isinstance(field, models.DateTimeField):
            values[field.name] = timezone.now()
        elif isinstance(field, models.DateField):
            values[field.name] = timezone.now().date()
        elif isinstance(field, models.JSONField):
            values[field.name] = {}
        elif isinstance(field, models.UUIDField):
            values[field.name] = uuid.uuid4()
        else:
            raise TypeError(f"no value for {field.name} ({type(field).__name__})")
    return model._default_manager.create(**values)


def admin_url(obj_or_model: Any, action: str, *args: Any) -> str:
    opts = obj_or_model._meta
    name = f"admin:{opts.app_label}_{opts.model_name}_{action}"
    if action in ("change", "delete", "history"):
        # Objects with a public id are addressed by it (support.admin_ids); others by pk.
        return reverse(name, args=[obj_or_model.public_id if has_public_id(type(obj_or_model)) else obj_or_model.pk])
    return reverse(name, args=args)


def search_term(obj: models.Model, model_admin: admin.ModelAdmin, request: Any = None) -> str | None:
    """A value of one of the admin's search fields on ``obj`` (what a user could type to find it)."""
    for path in model_admin.search_fields:
        value: Any = obj
        for part in path.lstrip("^=@").split("__"):
            if part in ("iexact", "icontains", "exact", "startswith", "istartswith"):
                continue
            value = getattr(value, part, None)
            if value is None:
                break
        if isinstance(value, str) and value:
            return value
    return None


def post_data(response: Any) -> dict[str, Any]:
    """The POST body that re-submits a rendered admin change form unchanged."""
    form = response.context["adminform"].form
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()  # already prepared for the widget
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(getattr(v, "pk", v)) for v in value]
        elif hasattr(field.widget, "widgets"):  # split date/time
            for index, part in enumerate(field.widget.decompress(value)):
                data[f"{name}_{index}"] = "" if part is None else str(part)
        else:
            data[name] = str(value)
    for inline in response.context.get("inline_admin_formsets", []):
        management = inline.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
    return data
