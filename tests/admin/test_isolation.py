"""Another tenant's rows never reach a tenant owner through any admin page of a tenant-owned model.

Parametrized over every registered admin of a tenant-owned model, so a page added later is covered
(tests/admin/helpers.py:make_object must learn to create its rows).
"""
from __future__ import annotations

import pytest
from django import forms
from django.db import models
from django.urls import reverse
from django_scopes import scopes_disabled

from support.admin_base import is_tenant_owned
from support.admin_ids import has_public_id
from support.models import User
from tests.admin.helpers import admin_url, make_object, search_term, tenant_admins

PAGES = tenant_admins()
IDS = [model._meta.label for model, _ in PAGES]


@pytest.fixture
def owner_client(client, world, outsider):
    client.force_login(world.owner.user)
    return client


def _tenant_of(obj: models.Model) -> int | None:
    return getattr(obj, "tenant_id", None)


def assert_only_world(objects, world, what: str) -> None:
    with scopes_disabled():
        for obj in objects:
            if is_tenant_owned(type(obj)):
                assert obj.tenant_id == world.tenant.pk, f"{what}: {obj!r} of another tenant is visible"
            elif isinstance(obj, User):
                assert obj.memberships.filter(tenant=world.tenant).exists(), f"{what}: outside user {obj}"


def owner_may_view(client, model) -> bool:
    """Staff-only pages (e.g. billing) refuse tenant owners outright; that is isolation too."""
    status = client.get(admin_url(model, "changelist")).status_code
    assert status in (200, 403)
    return status == 200


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_changelist_search_and_filters_show_only_own_rows(owner_client, world, outsider, model, model_admin):
    mine, theirs = make_object(model, world), make_object(model, outsider)
    if not owner_may_view(owner_client, model):
        assert owner_client.get(admin_url(mine, "change")).status_code in (403, 404)
        return
    response = owner_client.get(admin_url(model, "changelist"))
    cl = response.context["cl"]
    pks = {obj.pk for obj in cl.result_list}
    assert mine.pk in pks and theirs.pk not in pks
    assert_only_world(cl.result_list, world, "change list")

    for spec in cl.filter_specs:
        choices = getattr(spec, "lookup_choices", None) or []
        related = getattr(getattr(spec, "field", None), "related_model", None)
        if related is not None and choices:
            key = "public_id__in" if has_public_id(related) else "pk__in"
            with scopes_disabled():
                chosen = related._default_manager.filter(**{key: [value for value, _ in choices]})
                assert_only_world(list(chosen), world, f"list filter {spec.title}")

    term = search_term(theirs, model_admin)
    if term:
        response = owner_client.get(admin_url(model, "changelist"), {"q": term})
        assert response.status_code == 200
        assert theirs.pk not in {obj.pk for obj in response.context["cl"].result_list}
        assert_only_world(response.context["cl"].result_list, world, "search")


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_foreign_object_urls_are_404(owner_client, world, outsider, model, model_admin):
    """Another tenant's object answers exactly like a missing one: 404 (or the 403 every object of
    a page gets when the owner may not use it or that action at all)."""
    theirs = make_object(model, outsider)
    opts = model._meta
    for action in ("change", "delete", "history"):
        url = admin_url(theirs, action)
        missing_id = "zz_00000000000000000000" if has_public_id(model) else "987654321"
        missing = f"{reverse(f'admin:{opts.app_label}_{opts.model_name}_changelist')}{missing_id}/{action}/"
        status, missing_status = owner_client.get(url).status_code, owner_client.get(missing).status_code
        assert status == missing_status and status in (403, 404), (action, status, missing_status)
        if owner_may_view(owner_client, model) and action != "delete":
            assert status == 404, action
        assert owner_client.post(url, {"post": "yes"}).status_code in (403, 404), action
    with scopes_disabled():
        assert type(theirs)._default_manager.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_form_choices_are_own_tenant_only(owner_client, world, outsider, model, model_admin):
    mine = make_object(model, world)
    make_object(model, outsider)
    if not owner_may_view(owner_client, model):
        return
    for url in (admin_url(mine, "change"), admin_url(model, "add")):
        response = owner_client.get(url)
        if response.status_code == 403:  # no add rights on this page
            continue
        assert response.status_code == 200, url
        for inline in response.context.get("inline_admin_formsets", []):
            for inline_form in inline.formset.forms:
                for field in inline_form.fields.values():
                    if isinstance(field, forms.ModelChoiceField):
                        assert_only_world(list(field.queryset), world, f"inline choices on {url}")
        form = response.context["adminform"].form
        assert "tenant" not in form.fields
        for name, field in form.fields.items():
            if isinstance(field, forms.ModelChoiceField):
                assert_only_world(list(field.queryset), world, f"choices of {name} on {url}")


def _autocomplete_sources():
    """Every (registered source model, relation field) whose target is a tenant-owned admin page."""
    registered = {model for model, _ in PAGES}
    pairs = []
    for source, _ in PAGES:
        for field in source._meta.get_fields():
            if (field.is_relation and not field.auto_created and field.related_model in registered
                    and field.name != "tenant"):
                pairs.append((source, field.name, field.related_model))
    return pairs


SOURCES = _autocomplete_sources()


@pytest.mark.parametrize(("source", "field_name", "target"), SOURCES,
                         ids=[f"{s._meta.label}.{f}" for s, f, _ in SOURCES])
def test_autocomplete_offers_own_tenant_only(owner_client, world, outsider, source, field_name, target):
    from django.contrib import admin

    theirs = make_object(target, outsider)
    make_object(target, world)
    term = search_term(theirs, admin.site._registry[target]) or ""
    for query in ("", term):
        response = owner_client.get("/admin/autocomplete/", {
            "app_label": source._meta.app_label, "model_name": source._meta.model_name,
            "field_name": field_name, "term": query,
        })
        staff_only = not (admin.site._registry[source].tenant_permissions
                          and admin.site._registry[target].tenant_permissions)
        if staff_only or not admin.site._registry[target].search_fields:
            # A platform-staff-only page (the outbox), or autocomplete is off for this target.
            assert response.status_code == 403
            continue
        assert response.status_code == 200
        # Results carry public ids where the target has them (support.admin_ids), else pks.
        key = "public_id" if has_public_id(target) else "pk"
        ids = {result["id"] for result in response.json()["results"]}
        assert str(getattr(theirs, key)) not in ids
        with scopes_disabled():
            assert_only_world(list(target._default_manager.filter(**{f"{key}__in": ids})), world, "autocomplete")


def test_autocomplete_is_not_empty_for_own_rows(owner_client, world, outsider):
    """The positive control of the test above: autocomplete does work for the owner's rows."""
    response = owner_client.get("/admin/autocomplete/", {
        "app_label": "support", "model_name": "conversation", "field_name": "assignee", "term": "alice",
    })
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [world.agent.public_id]


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_staff_sees_both_tenants(client, world, outsider, model, model_admin):
    staff = User.objects.create_superuser("root@platform.example", "x-Secret-123")
    client.force_login(staff)
    mine, theirs = make_object(model, world), make_object(model, outsider)
    response = client.get(admin_url(model, "changelist"))
    assert response.status_code == 200
    pks = {obj.pk for obj in response.context["cl"].result_list}
    assert {mine.pk, theirs.pk} <= pks
    assert client.get(admin_url(theirs, "change")).status_code == 200


def test_user_and_tenant_pages_are_scoped(owner_client, world, outsider):
    response = owner_client.get("/admin/support/user/")
    users = set(response.context["cl"].result_list)
    assert world.agent.user in users and outsider.agent.user not in users
    assert owner_client.get(admin_url(outsider.agent.user, "change")).status_code == 404
    response = owner_client.get("/admin/support/user/", {"q": outsider.agent.user.email})
    assert list(response.context["cl"].result_list) == []

    response = owner_client.get("/admin/support/tenant/")  # one row: straight to its settings page
    assert response.status_code == 302 and response["Location"] == admin_url(world.tenant, "change")
    assert owner_client.get(admin_url(outsider.tenant, "change")).status_code == 404
    assert owner_client.get(admin_url(outsider.tenant, "delete")).status_code in (403, 404)
