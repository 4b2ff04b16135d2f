"""Admin object pages are addressed by public_id; integer primary keys appear in no URL or link.

Parametrized over every registered admin of a model with a ``public_id`` (pages added later by
any app are covered; tests/admin/helpers.py:make_object must learn to create their rows).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import models
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from support.admin_ids import has_public_id
from support.models import Conversation, Label, Tenant, User
from support.services.conversations import start_conversation
from tests.admin.helpers import admin_url, make_object, post_data

PAGES = sorted(
    ((model, model_admin) for model, model_admin in admin.site._registry.items() if has_public_id(model)),
    key=lambda pair: pair[0]._meta.label,
)
IDS = [model._meta.label for model, _ in PAGES]
DIGIT_LINK = re.compile(r"/admin/[a-z_]+/[a-z_]+/\d+/(change|delete|history|password)?/?")


def obj_of(model: type[models.Model], world) -> models.Model:
    if model is Tenant:
        return world.tenant
    if model is User:
        return world.owner.user
    return make_object(model, world)


def pk_url(obj: models.Model, action: str) -> str:
    opts = obj._meta
    return f"{reverse(f'admin:{opts.app_label}_{opts.model_name}_changelist')}{obj.pk}/{action}/"


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    return client


@pytest.fixture
def owner_client(client, world, outsider):
    client.force_login(world.owner.user)
    return client


def test_every_tenant_owned_admin_is_opaque():
    """The mechanism reaches the pages other apps register (push, billing, API tokens)."""
    labels = set(IDS)
    assert {"support.Conversation", "support.ApiToken", "billing.Invoice", "push.WebhookEndpoint",
            "push.WebhookDelivery", "support.Tenant", "support.User"} <= labels
    for model, model_admin in PAGES:
        routes = [str(p.pattern) for p in model_admin.get_urls()]
        assert not any("<path:object_id>" in r for r in routes), (model, routes)
        route = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=["ab_123"])
        assert route.endswith("/ab_123/change/")


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_staff_object_pages_by_public_id_and_integer_urls_404(staff_client, world, outsider, model, model_admin):
    obj = obj_of(model, world)
    for action in ("change", "history"):
        url = admin_url(obj, action)
        assert obj.public_id in url and f"/{obj.pk}/" not in url
        assert staff_client.get(url).status_code == 200, url
    delete_status = staff_client.get(admin_url(obj, "delete")).status_code
    assert delete_status in (200, 403)  # some pages never delete (tokens are revoked, invoices kept)
    for action in ("change", "delete", "history", ""):
        assert staff_client.get(pk_url(obj, action)).status_code == 404, action
    # The bare object URL redirects to the change page, by public id too.
    bare = staff_client.get(admin_url(obj, "change").removesuffix("change/"))
    assert bare.status_code == 302 and bare["Location"].endswith(f"/{obj.public_id}/change/")


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_staff_change_list_links_by_public_id(staff_client, world, outsider, model, model_admin):
    mine, theirs = obj_of(model, world), obj_of(model, outsider)
    html = staff_client.get(admin_url(model, "changelist")).content.decode()
    assert f"/{mine.public_id}/change/" in html and f"/{theirs.public_id}/change/" in html
    assert not DIGIT_LINK.search(html), DIGIT_LINK.search(html)


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_owner_integer_urls_are_404(owner_client, world, outsider, model, model_admin):
    obj = obj_of(model, world)
    for action in ("change", "delete", "history", ""):
        assert owner_client.get(pk_url(obj, action)).status_code == 404, action


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_owner_unknown_and_foreign_public_ids_answer_alike(owner_client, world, outsider, model, model_admin):
    theirs = obj_of(model, outsider)
    base = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    for action in ("change", "delete", "history"):
        foreign = owner_client.get(admin_url(theirs, action)).status_code
        unknown = owner_client.get(f"{base}zz_00000000000000000000/{action}/").status_code
        # 403 only where the owner may not use that page/action at all (staff-only billing).
        assert foreign == unknown and foreign in (403, 404), (action, foreign, unknown)


def test_owner_conversation_pages_speak_public_ids(owner_client, world, outsider):
    conv = make_object(Conversation, world)
    theirs = make_object(Conversation, outsider)
    listing = owner_client.get("/admin/support/conversation/").content.decode()
    assert f"/admin/support/conversation/{conv.public_id}/change/" in listing
    assert theirs.public_id not in listing
    assert not DIGIT_LINK.search(listing)

    page = owner_client.get(admin_url(conv, "change"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f"/admin/support/conversation/{conv.public_id}/history/" in html
    # The read-only contact is a link by the contact's public id, never its pk.
    assert f"/admin/support/contact/{world.contact.public_id}/change/" in html
    assert not DIGIT_LINK.search(html), DIGIT_LINK.search(html)
    assert owner_client.get(admin_url(conv, "history")).status_code == 200
    assert owner_client.get(admin_url(theirs, "change")).status_code == 404


def test_owner_delete_and_history_by_public_id(owner_client, world):
    label = make_object(Label, world)
    url = admin_url(label, "change")
    data = post_data(owner_client.get(url))
    data["name"] = "renamed"
    response = owner_client.post(url, {**data, "_continue": "1"})
    assert response.status_code == 302 and response["Location"] == url
    history = owner_client.get(admin_url(label, "history")).content.decode()
    assert "Changed Name." in history or "Changed name." in history
    assert f"/admin/support/label/{label.public_id}/change/" in history

    confirm = owner_client.get(admin_url(label, "delete"))
    assert confirm.status_code == 200 and not DIGIT_LINK.search(confirm.content.decode())
    assert owner_client.post(admin_url(label, "delete"), {"post": "yes"}).status_code == 302
    with scope(tenant=world.tenant):
        assert not Label.objects.filter(pk=label.pk).exists()
    assert owner_client.get(url).status_code == 404


def test_recent_actions_link_by_public_id(owner_client, world):
    label = make_object(Label, world)
    url = admin_url(label, "change")
    data = post_data(owner_client.get(url))
    owner_client.post(url, {**data, "name": "renamed"})
    entry = LogEntry.objects.get(content_type__model="label")
    assert entry.object_id == str(label.pk)  # stored internally as Django does
    assert entry.get_admin_url() == url
    index = owner_client.get("/admin/").content.decode()
    assert url in index and not DIGIT_LINK.search(index)


def test_changelist_filters_round_trip(owner_client, world):
    label = make_object(Label, world)
    url = admin_url(label, "change") + "?_changelist_filters=q%3Dlabel"
    listing = owner_client.get("/admin/support/label/", {"q": "label"}).content.decode()
    assert f"/admin/support/label/{label.public_id}/change/?_changelist_filters=q%3Dlabel" in listing
    data = post_data(owner_client.get(url))
    response = owner_client.post(url, {**data, "name": "label-kept"})
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == "/admin/support/label/" and parse_qs(location.query) == {"q": ["label"]}


def test_user_password_page_by_public_id(staff_client, world):
    user = world.agent.user
    assert staff_client.get(f"/admin/support/user/{user.public_id}/password/").status_code == 200
    assert staff_client.get(f"/admin/support/user/{user.pk}/password/").status_code == 404


def test_anonymous_sees_login_for_any_id(client, world):
    """Signed-out visitors are sent to sign in, whether or not the public id exists."""
    conv = make_object(Conversation, world)
    with scopes_disabled():
        real = client.get(admin_url(conv, "change"))
    fake = client.get("/admin/support/conversation/cv_00000000000000000000/change/")
    assert real.status_code == fake.status_code == 302


def test_object_pages_work_under_asgi(world, outsider):
    """The deployed server is ASGI: URL resolution runs in the event loop, where a database query
    (e.g. in a path converter) would raise SynchronousOnlyOperation."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    conv = make_object(Conversation, world)
    client = AsyncClient()
    async_to_sync(client.aforce_login)(world.owner.user)
    for action in ("change", "history"):
        assert async_to_sync(client.get)(admin_url(conv, action)).status_code == 200, action
    assert async_to_sync(client.get)(admin_url(world.tenant, "change")).status_code == 200
    assert async_to_sync(client.get)(admin_url(make_object(Conversation, outsider), "change")).status_code == 404
    assert async_to_sync(client.get)(pk_url(conv, "change")).status_code == 404


@pytest.mark.parametrize("as_staff", [False, True], ids=["owner", "staff"])
def test_related_list_filters_use_public_ids(client, world, outsider, as_staff):
    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        other = start_conversation(tenant=world.tenant, contact=world.contact, subject="Other")
        Conversation.objects.filter(pk=other.pk).update(assignee=world.agent2)
    user = User.objects.create_superuser("root@platform.example", "x-Secret-123") if as_staff else world.owner.user
    client.force_login(user)
    listing = client.get("/admin/support/conversation/").content.decode()
    assert f"assignee__public_id__exact={world.agent.public_id}" in listing
    assert f"team__public_id__exact={world.team.public_id}" in listing
    assert not re.search(r"__id__exact=\d", listing)
    response = client.get("/admin/support/conversation/", {"assignee__public_id__exact": world.agent.public_id})
    assert [c.pk for c in response.context["cl"].result_list] == [conv.pk]
    if not as_staff:  # another tenant's agent is offered nowhere and matches nothing
        assert outsider.agent.public_id not in listing
        response = client.get("/admin/support/conversation/", {"assignee__public_id__exact": outsider.agent.public_id})
        assert list(response.context["cl"].result_list) == []
