"""Form values in the admin's HTML are public ids: select options, autocomplete, action checkboxes,
inline rows' hidden ids (support.admin_ids).

The page sweep is parametrized over every registered admin of a tenant-owned model (plus the
workspace and user pages), so a page added later is covered; tests/admin/helpers.py:make_object
must learn to create its rows.
"""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.forms.models import inlineformset_factory
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from push.models import WebhookAttempt, WebhookDelivery
from support.admin_ids import PublicIdInlineFormSet, has_public_id
from support.models import Conversation, Label, Membership, Message, Team, Tenant, User
from support.services.conversations import start_conversation
from support.services.messages import post_message
from tests.admin.helpers import admin_url, make_object, post_data, tenant_admins

PAGES = [*tenant_admins(), (Tenant, admin.site._registry[Tenant]), (User, admin.site._registry[User])]
IDS = [model._meta.label for model, _ in PAGES]
MANAGEMENT = re.compile(r"-(TOTAL|INITIAL|MIN_NUM|MAX_NUM)_FORMS$")
INVALID_CHOICE = "Select a valid choice"


class FormValues(HTMLParser):
    """Every value a page's forms would post back: select options, checkboxes, hidden inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.select: str | None = None
        self.values: list[tuple[str, str, str]] = []  # (kind, name, value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "select":
            self.select = a.get("name", "")
        elif tag == "option" and self.select is not None:
            self.values.append(("option", self.select, a.get("value", "")))
        elif tag == "input" and a.get("type") in ("checkbox", "hidden", "radio"):
            self.values.append((a["type"], a.get("name", ""), a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None


def form_values(html: str) -> list[tuple[str, str, str]]:
    parser = FormValues()
    parser.feed(html)
    return parser.values


def integer_values(html: str) -> list[tuple[str, str, str]]:
    """Posted-back values that are bare integers (a formset's form counts aside)."""
    return [
        (kind, name, value) for kind, name, value in form_values(html)
        if value.isdigit() and not MANAGEMENT.search(name) and name not in ("select_across", "index")
    ]


def pks_of_public_id_models() -> set[str]:
    """The pk of every row, in every tenant, of every model with a public id."""
    from django.apps import apps

    pks: set[str] = set()
    with scopes_disabled():
        for model in apps.get_models():
            if has_public_id(model):
                pks |= {str(pk) for pk in model._base_manager.values_list("pk", flat=True)}
    return pks


def with_attempts(delivery: WebhookDelivery) -> None:
    with scopes_disabled():
        for number in (1, 2):
            WebhookAttempt.objects.get_or_create(
                tenant_id=delivery.tenant_id, delivery=delivery, number=number,
                defaults={"started_at": timezone.now(), "duration_ms": 12, "response_code": 500},
            )


@pytest.fixture
def owner_client(client, world, outsider):
    client.force_login(world.owner.user)
    return client


@pytest.fixture
def staff_client(client, db):
    client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    return client


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_owner_pages_post_back_no_integer_ids(owner_client, world, outsider, model, model_admin):
    obj = world.tenant if model is Tenant else world.owner.user if model is User else make_object(model, world)
    make_object(Conversation, outsider)  # rows of another tenant exist too (their pks must not show)
    if isinstance(obj, WebhookDelivery):
        with_attempts(obj)  # so its attempts are listed too
    pks = pks_of_public_id_models()
    rendered = 0
    for url in (admin_url(model, "changelist"), admin_url(model, "add"), admin_url(obj, "change")):
        response = owner_client.get(url, follow=True)
        if response.status_code == 403:  # a page or action this owner may not use at all
            continue
        assert response.status_code == 200, url
        rendered += 1
        html = response.content.decode()
        found = integer_values(html)
        assert not found, f"integer form values on {url}: {found}"
        assert not pks & {value for _, _, value in found}  # (implied: no pk of a public-id model)
    if not rendered:  # staff-only pages (billing, the outbox) refuse owners outright
        assert owner_client.get(admin_url(model, "changelist")).status_code == 403
    assert pks, "the sweep needs rows with pks to look for"


def test_the_sweep_sees_relation_selects_and_checkboxes(owner_client, world):
    """The positive control of the sweep: those pages do have the values it checks, by public id."""
    conv = make_object(Conversation, world)
    values = form_values(owner_client.get(admin_url(conv, "change")).content.decode())
    options = {(name, value) for kind, name, value in values if kind == "option"}
    assert ("assignee", world.agent.public_id) in options and ("assignee", world.agent2.public_id) in options
    assert ("team", world.team.public_id) in options
    with scope(tenant=world.tenant):
        label = conv.labels.get()
    assert ("labels", label.public_id) in options
    listing = form_values(owner_client.get(admin_url(Conversation, "changelist")).content.decode())
    assert ("checkbox", ACTION_CHECKBOX_NAME, conv.public_id) in listing


@pytest.mark.parametrize(("model", "model_admin"), PAGES, ids=IDS)
def test_staff_pages_still_render(staff_client, world, outsider, model, model_admin):
    """Platform staff pages work, with the same public-id selects and checkboxes (Django's own
    permission and group choices, which have no public ids, keep their pks)."""
    obj = world.tenant if model is Tenant else world.owner.user if model is User else make_object(model, world)
    for url in (admin_url(model, "changelist"), admin_url(obj, "change")):
        response = staff_client.get(url)
        assert response.status_code == 200, url
        found = [(kind, name, value) for kind, name, value in integer_values(response.content.decode())
                 if kind != "hidden" and name not in ("user_permissions", "groups")
                 and not (name == ACTION_CHECKBOX_NAME and not has_public_id(model))]
        assert not found, f"integer form values on {url}: {found}"


# --- Change forms: current selection shown, kept, changed by public id, foreign ids refused ---------

def test_change_form_shows_current_selection_by_public_id(owner_client, world):
    conv = make_object(Conversation, world)
    html = owner_client.get(admin_url(conv, "change")).content.decode()
    assert re.search(rf'<option value="{world.agent.public_id}" selected>', html)
    assert re.search(rf'<option value="{world.team.public_id}" selected>', html)
    assert not re.search(rf'<option value="{world.agent2.public_id}" selected>', html)
    members = owner_client.get(admin_url(world.team, "change")).content.decode()
    for member in (world.agent, world.agent2):
        assert re.search(rf'<option value="{member.public_id}" selected>', members)
    teams = owner_client.get(admin_url(world.agent, "change")).content.decode()
    assert re.search(rf'<option value="{world.team.public_id}" selected>', teams)


def _events(conv: Conversation, world) -> list[str]:
    with scope(tenant=world.tenant):
        return [m.data["event"] for m in Message.objects.filter(conversation=conv, kind="event").order_by("seq")]


def test_untouched_relations_are_kept_and_not_changed(owner_client, world):
    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        labels = set(conv.labels.all())
    before = _events(conv, world)
    url = admin_url(conv, "change")
    page = owner_client.get(url)
    data = post_data(page)
    assert data["assignee"] == world.agent.public_id and data["team"] == world.team.public_id
    assert owner_client.post(url, {**data, "subject": "ignored"}).status_code == 302
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert (conv.assignee_id, conv.team_id, set(conv.labels.all())) == (world.agent.pk, world.team.pk, labels)
    assert _events(conv, world) == before  # nothing counted as changed, so no service call

    # The same for a many-to-many the admin saves itself (a team's members).
    url = admin_url(world.team, "change")
    assert owner_client.post(url, {**post_data(owner_client.get(url)), "name": "Front desk"}).status_code == 302
    with scopes_disabled():
        world.team.refresh_from_db()
        assert world.team.name == "Front desk"
        assert set(world.team.members.all()) == {world.agent, world.agent2}


def test_change_one_relation_by_public_id_keep_the_other(owner_client, world):
    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        sales = Team.objects.create(tenant=world.tenant, name="Sales")
    url = admin_url(conv, "change")
    before = _events(conv, world)
    data = post_data(owner_client.get(url))
    data["team"] = sales.public_id
    assert owner_client.post(url, data).status_code == 302
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert (conv.team_id, conv.assignee_id) == (sales.pk, world.agent.pk)
    new_events = _events(conv, world)[len(before):]
    assert new_events and "assigned" not in new_events  # the team went through set_team only


@pytest.mark.parametrize("field", ["assignee", "team", "labels"])
def test_foreign_public_id_is_refused_like_a_missing_one(owner_client, world, outsider, field):
    conv = make_object(Conversation, world)
    theirs = make_object(Conversation, outsider)
    with scopes_disabled():
        foreign = {"assignee": outsider.agent, "team": outsider.team, "labels": theirs.labels.get()}[field]
    url = admin_url(conv, "change")
    data = post_data(owner_client.get(url))
    errors = {}
    for name, value in (("foreign", foreign.public_id), ("missing", "zz_00000000000000000000"),
                        ("pk", str(foreign.pk))):
        response = owner_client.post(url, {**data, field: [value] if field == "labels" else value})
        assert response.status_code == 200, name
        errors[name] = [str(e).replace(value, "X") for e in response.context["adminform"].form.errors[field]]
        html = response.content.decode()
        assert foreign.public_id not in html.replace(value, "") or name == "foreign"
    assert errors["foreign"] == errors["missing"] == errors["pk"]
    assert INVALID_CHOICE in errors["foreign"][0]
    with scopes_disabled():
        conv.refresh_from_db()
        assert (conv.assignee_id, conv.team_id) == (world.agent.pk, world.team.pk)


def test_posted_pk_is_not_turned_into_a_public_id(owner_client, world, outsider):
    """A re-shown form echoes what was posted; a pk must not come back as that row's public id."""
    conv = make_object(Conversation, world)
    url = admin_url(conv, "change")
    data = post_data(owner_client.get(url))
    html = owner_client.post(url, {**data, "assignee": str(outsider.agent.pk)}).content.decode()
    assert INVALID_CHOICE in html and outsider.agent.public_id not in html


def test_staff_chooses_the_tenant_by_public_id(staff_client, world, outsider):
    html = staff_client.get(admin_url(Team, "add")).content.decode()
    assert f'<option value="{world.tenant.public_id}">' in html and f'<option value="{outsider.tenant.pk}">' not in html
    response = staff_client.post(admin_url(Team, "add"), {"tenant": str(outsider.tenant.pk), "name": "By pk"})
    assert response.status_code == 200 and INVALID_CHOICE in str(response.context["adminform"].form.errors["tenant"])


def test_add_another_popup_hands_back_the_public_id(owner_client, world):
    """The "+" next to a select opens the target's add page in a pop-up; the new row must come
    back as an option the select can post (its public id), not as its pk."""
    conv = make_object(Conversation, world)
    html = owner_client.get(admin_url(conv, "change")).content.decode()
    link = re.search(r'id="add_id_team"[^>]*href="([^"]+)"|href="([^"]+)"[^>]*id="add_id_team"', html)
    assert link, "the team select has its add-another link"
    popup_url = (link.group(1) or link.group(2)).replace("&amp;", "&")
    assert popup_url.startswith(admin_url(Team, "add") + "?") and "_popup=1" in popup_url
    query = dict(pair.split("=") for pair in popup_url.split("?", 1)[1].split("&"))
    response = owner_client.post(popup_url, {**query, "name": "Nights"})
    assert response.status_code == 200
    handed_back = json.loads(response.context["popup_response_data"])
    with scope(tenant=world.tenant):
        nights = Team.objects.get(name="Nights")
    assert handed_back == {"value": nights.public_id, "obj": "Nights"}
    data = post_data(owner_client.get(admin_url(conv, "change")))
    assert owner_client.post(admin_url(conv, "change"), {**data, "team": handed_back["value"]}).status_code == 302
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert conv.team_id == nights.pk


# --- Bulk actions ------------------------------------------------------------------------------------

def _resolved(world, *convs: Conversation) -> None:
    with scopes_disabled():
        Conversation.objects.filter(pk__in=[c.pk for c in convs]).update(status="resolved")


def _two_own_and_one_foreign_resolved(world, outsider) -> tuple[Conversation, Conversation, Conversation]:
    """Two conversations of the tenant and one of the outsider's, all resolved."""
    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        other = start_conversation(tenant=world.tenant, contact=world.contact, subject="Other")
    theirs = make_object(Conversation, outsider)
    _resolved(world, conv, other, theirs)
    return conv, other, theirs


def _mark_open(client, selected: list[str], *, follow: bool = False, **fields: str):
    """The conversation list's "mark open" action on the ``selected`` (posted) ids."""
    return client.post(admin_url(Conversation, "changelist"), {
        "action": "mark_open", "index": "0", **fields, ACTION_CHECKBOX_NAME: selected,
    }, follow=follow)


def _status(conv: Conversation) -> str:
    with scopes_disabled():
        return Conversation.objects.get(pk=conv.pk).status


def test_bulk_action_by_public_id(owner_client, world, outsider):
    conv, other, theirs = _two_own_and_one_foreign_resolved(world, outsider)
    response = _mark_open(owner_client, [conv.public_id, theirs.public_id])
    assert response.status_code == 302
    assert (_status(conv), _status(other), _status(theirs)) == ("open", "resolved", "resolved")


@pytest.mark.parametrize("posted", ["pk", "foreign", "missing"])
def test_bulk_action_with_no_own_public_id_selects_nothing(owner_client, world, outsider, posted):
    conv = make_object(Conversation, world)
    theirs = make_object(Conversation, outsider)
    _resolved(world, conv, theirs)
    value = {"pk": str(conv.pk), "foreign": theirs.public_id, "missing": "cv_00000000000000000000"}[posted]
    response = _mark_open(owner_client, [value], follow=True)
    assert response.status_code == 200
    assert "Items must be selected" in response.content.decode()
    assert (_status(conv), _status(theirs)) == ("resolved", "resolved")


def test_select_across_runs_on_every_own_row_only(owner_client, world, outsider):
    conv, other, theirs = _two_own_and_one_foreign_resolved(world, outsider)
    response = _mark_open(owner_client, [conv.public_id], select_across="1")
    assert response.status_code == 302
    assert (_status(conv), _status(other), _status(theirs)) == ("open", "open", "resolved")


def test_delete_selected_confirms_and_deletes_by_public_id(owner_client, world, outsider):
    mine, theirs = make_object(Label, world), make_object(Label, outsider)
    url = admin_url(Label, "changelist")
    confirm = owner_client.post(url, {
        "action": "delete_selected", "index": "0", ACTION_CHECKBOX_NAME: [mine.public_id, theirs.public_id],
    })
    assert confirm.status_code == 200
    html = confirm.content.decode()
    hidden = [v for kind, name, v in form_values(html) if name == ACTION_CHECKBOX_NAME]
    assert hidden == [mine.public_id] and not integer_values(html)
    assert owner_client.post(url, {"action": "delete_selected", "post": "yes",
                                   ACTION_CHECKBOX_NAME: hidden}).status_code == 302
    with scopes_disabled():
        assert not Label.objects.filter(pk=mine.pk).exists() and Label.objects.filter(pk=theirs.pk).exists()


# --- Autocomplete ----------------------------------------------------------------------------------

def test_autocomplete_returns_public_ids(owner_client, world, outsider):
    make_object(Conversation, world)
    for field_name, expected in (("assignee", {world.agent.public_id, world.agent2.public_id, world.owner.public_id}),
                                 ("team", {world.team.public_id})):
        response = owner_client.get("/admin/autocomplete/", {
            "app_label": "support", "model_name": "conversation", "field_name": field_name, "term": "",
        })
        assert response.status_code == 200
        assert {r["id"] for r in response.json()["results"]} == expected


@pytest.fixture
def autocomplete_conversations(monkeypatch):
    monkeypatch.setattr(admin.site._registry[Conversation], "autocomplete_fields", ["assignee", "labels"])
    monkeypatch.setattr(admin.site._registry[Conversation], "filter_horizontal", [])


def test_autocomplete_widgets_render_and_post_public_ids(owner_client, world, outsider, autocomplete_conversations):
    conv = make_object(Conversation, world)
    url = admin_url(conv, "change")
    page = owner_client.get(url)
    html = page.content.decode()
    assert 'class="admin-autocomplete' in html
    options = [(name, value) for kind, name, value in form_values(html) if kind == "option"]
    with scope(tenant=world.tenant):
        label = conv.labels.get()
    # Only the current selection is rendered (the rest comes from the JSON view), by public id.
    assert ("assignee", world.agent.public_id) in options and ("labels", label.public_id) in options
    assert not integer_values(html)
    data = post_data(page)
    data["assignee"] = world.agent2.public_id
    assert owner_client.post(url, data).status_code == 302
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert conv.assignee_id == world.agent2.pk and list(conv.labels.all()) == [label]
    response = owner_client.post(url, {**data, "assignee": outsider.agent.public_id})
    assert response.status_code == 200 and outsider.agent.public_id not in response.content.decode().replace(
        f'value="{outsider.agent.public_id}"', "")


# --- Inline rows -----------------------------------------------------------------------------------

def test_delivery_attempts_are_a_table_without_ids(owner_client, world):
    delivery = make_object(WebhookDelivery, world)
    with_attempts(delivery)
    html = owner_client.get(admin_url(delivery, "change")).content.decode()
    assert html.count("<td>12 ms</td>") == 2 and "attempt_log-" not in html


MessageFormSet = inlineformset_factory(Conversation, Message, formset=PublicIdInlineFormSet, fields=["body"],
                                       extra=1, can_delete=False)


def _formset_data(formset) -> dict[str, str]:
    html = str(formset.management_form) + "".join(str(form) for form in formset.forms)
    return {name: value for kind, name, value in form_values(html) if kind == "hidden"}


def test_inline_formset_rows_by_public_id_round_trip(world, outsider):
    """A child model with a public id (none of today's tenant inlines has one): rows are
    identified by it, and another conversation's or tenant's row cannot be edited through it."""
    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        first = post_message(conversation=conv, author_type="contact", body="first").message
        second = post_message(conversation=conv, author_type="contact", body="second").message
        queryset = Message.objects.filter(pk__in=[first.pk, second.pk])
        formset = MessageFormSet(instance=conv, queryset=queryset)
        hidden = _formset_data(formset)
        html = "".join(str(form) for form in formset.forms)
    assert hidden["messages-0-id"] == first.public_id and hidden["messages-1-id"] == second.public_id
    assert hidden["messages-0-conversation"] == conv.public_id
    assert hidden["messages-2-conversation"] == conv.public_id  # the extra (new) row
    assert not integer_values(html)

    data = {**hidden, "messages-0-body": "first, edited", "messages-1-body": "second", "messages-2-body": ""}
    with scope(tenant=world.tenant):
        formset = MessageFormSet(data, instance=conv, queryset=queryset)
        assert formset.is_valid(), formset.errors
        formset.save()
        assert Message.objects.get(pk=first.pk).body == "first, edited"
        assert Message.objects.get(pk=second.pk).body == "second"

    theirs = make_object(Conversation, outsider)
    with scope(tenant=outsider.tenant):
        foreign = post_message(conversation=theirs, author_type="contact", body="theirs").message
    for bad_id in (foreign.public_id, str(first.pk), "msg_0000000000000000000"):
        with scope(tenant=world.tenant):
            formset = MessageFormSet({**data, "messages-0-id": bad_id, "messages-0-body": "hijack"},
                                     instance=conv, queryset=queryset)
            assert not formset.is_valid(), bad_id
            assert INVALID_CHOICE in str(formset.errors[0]["id"])
    for bad_parent in (str(conv.pk), theirs.public_id):
        with scope(tenant=world.tenant):
            formset = MessageFormSet({**data, "messages-0-conversation": bad_parent}, instance=conv, queryset=queryset)
            assert not formset.is_valid(), bad_parent
    with scopes_disabled():
        assert Message.objects.get(pk=foreign.pk).body == "theirs"
        assert Message.objects.get(pk=first.pk).body == "first, edited"


def test_membership_team_choices_by_public_id(owner_client, world, outsider):
    url = admin_url(world.agent, "change")
    data = post_data(owner_client.get(url))
    assert data["team_memberships"] == [world.team.public_id]
    response = owner_client.post(url, {**data, "team_memberships": [outsider.team.public_id]})
    assert response.status_code == 200
    assert INVALID_CHOICE in str(response.context["adminform"].form.errors["team_memberships"])
    with scopes_disabled():
        assert list(Membership.objects.get(pk=world.agent.pk).teams.all()) == [world.team]
