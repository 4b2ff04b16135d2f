"""Who may use the admin and what they may change: escalation, moving rows, role rules, services."""
from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django_scopes import scope, scopes_disabled

from support.events.models import OutboxEvent
from support.models import Conversation, Label, Membership, Message, Team, User
from tests.admin.helpers import admin_url, make_object, post_data


def post_workspace_setting(client, world, field: str, value: str):
    """Save the workspace settings page (the tenant's change form) as shown, with ``field`` set to ``value``."""
    url = admin_url(world.tenant, "change")
    data = post_data(client.get(url))
    data[field] = value
    return client.post(url, data)


@pytest.fixture
def owner_client(client, world, outsider):
    client.force_login(world.owner.user)
    return client


def make_admin(world) -> Membership:
    with scopes_disabled():
        user = User.objects.create_user("admin@acme.example", "pw-acme-Secret1", display_name="Adele Admin")
        return Membership.objects.create(tenant=world.tenant, user=user, role=Membership.Role.ADMIN)


# --- Who gets in -------------------------------------------------------------------------------

def test_agent_has_no_admin(client, world):
    client.force_login(world.agent.user)
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert b"No admin access" in response.content
    for url in ("/admin/support/conversation/", "/admin/support/membership/", admin_url(world.team, "change")):
        assert client.get(url).status_code == 302  # to the login page, which refuses them
        assert client.post(url, {"name": "x"}).status_code == 302
    with scopes_disabled():
        assert Team.objects.get(pk=world.team.pk).name == "Support"


def test_anonymous_admin_login_goes_to_throttled_accounts_login(client, db):
    response = client.get("/admin/login/?next=/admin/support/team/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=%2Fadmin%2Fsupport%2Fteam%2F"


def test_owner_and_admin_get_the_admin_with_their_tenant_name(client, world):
    client.force_login(world.owner.user)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert "Switchboard admin · Acme" in response.content.decode()
    client.force_login(make_admin(world).user)
    assert client.get("/admin/support/conversation/").status_code == 200


def test_deactivated_owner_has_no_admin(client, world):
    with scopes_disabled():
        Membership.objects.filter(pk=world.owner.pk).update(is_active=False)
    client.force_login(world.owner.user)
    assert client.get("/admin/support/team/").status_code == 302


# --- No escalation, no moving rows ----------------------------------------------------------------

def test_tenant_owner_cannot_escalate_to_staff(owner_client, world):
    user = world.owner.user
    url = admin_url(user, "change")
    response = owner_client.get(url)
    assert set(response.context["adminform"].form.fields) == {"display_name", "first_name", "last_name"}
    response = owner_client.post(url, {
        "display_name": "Boss", "first_name": "", "last_name": "", "is_staff": "on", "is_superuser": "on",
        "email": "owner@evil.example", "groups": ["1"], "user_permissions": ["1"],
    })
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.display_name, user.is_staff, user.is_superuser, user.email) == \
        ("Boss", False, False, "owner@acme.example")
    assert user.user_permissions.count() == 0
    assert owner_client.get(f"/admin/support/user/{world.agent.user.public_id}/password/").status_code == 404
    assert owner_client.get("/admin/support/user/add/").status_code == 403
    assert owner_client.get("/admin/auth/group/").status_code == 403


def test_tenant_row_cannot_change_tenant_or_slug(owner_client, world, outsider):
    url = admin_url(world.tenant, "change")
    response = owner_client.get(url)
    content = response.content.decode()
    assert f'data-key="{world.tenant.widget_key}"' in content.replace("&quot;", '"')
    assert world.tenant.identity_secret in content
    data = post_data(response)
    data.update(greeting="Hello <b>there</b>", slug="globex", color="#112233")
    assert owner_client.post(url, data).status_code == 302
    world.tenant.refresh_from_db()
    assert (world.tenant.greeting, world.tenant.slug, world.tenant.color) == ("Hello <b>there</b>", "acme", "#112233")
    assert owner_client.get("/admin/support/tenant/add/").status_code == 403


@pytest.mark.parametrize(("field", "value", "message"), [
    ("color", "red;}a{", "Use a colour like"),
    ("color", "red; background:url(x)", "at most 7 characters"),
    ("time_zone", "Mars/Olympus", "Unknown time zone"),
    ("allowed_origins", "javascript:alert(1)", "is not an origin"),
    ("business_hours", "mon 18:00-09:00", "closes before it opens"),
    ("business_hours", "mon 25:00-26:00", "each range is"),
    ("business_hours", '{"mon": [["09:00", "17:00"]]}', "Line 1: start with a day"),
    ("business_hours", "mon 09:00-12:00\nmon 13:00-17:00", "listed twice"),
    ("business_hours", "tue 9am-5pm", "is not a range like 09:00-17:00"),
    ("greeting", "x" * 281, "at most 280"),
])
def test_widget_settings_reject_bad_input(owner_client, world, field, value, message):
    response = post_workspace_setting(owner_client, world, field, value)
    assert response.status_code == 200
    assert message in response.content.decode()
    before = world.tenant.greeting
    world.tenant.refresh_from_db()
    assert world.tenant.greeting == before


def test_widget_origins_are_normalised(owner_client, world):
    origins = "https://www.example.com/\nhttp://localhost:8000\nhttps://www.example.com"
    assert post_workspace_setting(owner_client, world, "allowed_origins", origins).status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.allowed_origins == ["https://www.example.com", "http://localhost:8000"]


def test_forged_post_cannot_move_a_row_into_another_tenant(owner_client, world, outsider):
    label = make_object(Label, world)
    url = admin_url(label, "change")
    data = post_data(owner_client.get(url))
    data["tenant"] = str(outsider.tenant.pk)
    data["name"] = "renamed"
    assert owner_client.post(url, data).status_code == 302
    with scopes_disabled():
        label.refresh_from_db()
    assert (label.tenant_id, label.name) == (world.tenant.pk, "renamed")


def test_forged_foreign_ids_are_form_errors_not_saves(owner_client, world, outsider):
    conv = make_object(Conversation, world)
    url = admin_url(conv, "change")
    base = post_data(owner_client.get(url))
    with scopes_disabled():
        foreign_label = Label.objects.create(tenant=outsider.tenant, name="secret")
    # The form posts public ids (support.admin_ids); another tenant's is refused, and so is a pk.
    for field, value in [("assignee", outsider.agent.public_id), ("team", outsider.team.public_id),
                         ("labels", [foreign_label.public_id]), ("assignee", str(world.agent2.pk)),
                         ("labels", [str(foreign_label.pk)])]:
        response = owner_client.post(url, {**base, field: value})
        assert response.status_code == 200, field
        assert field in response.context["adminform"].form.errors
    with scopes_disabled():
        conv.refresh_from_db()
        assert conv.assignee_id == world.agent.pk and conv.team_id == world.team.pk
        assert foreign_label not in conv.labels.all()

    response = owner_client.post(admin_url(Team, "add"),
                                 {"name": "Infiltrators", "members": [outsider.agent.public_id]})
    assert response.status_code == 200 and "members" in response.context["adminform"].form.errors
    with scopes_disabled():
        assert not Team.objects.filter(name="Infiltrators").exists()


def test_add_sets_tenant_from_the_request(owner_client, world):
    response = owner_client.post(admin_url(Team, "add"), {"name": "Billing", "members": [world.agent.public_id]})
    assert response.status_code == 302
    with scopes_disabled():
        team = Team.objects.get(name="Billing")
        assert team.tenant_id == world.tenant.pk and list(team.members.all()) == [world.agent]


def test_duplicate_name_is_a_form_error_not_a_500(owner_client, world):
    response = owner_client.post(admin_url(Team, "add"), {"name": "Support"})
    assert response.status_code == 200
    assert "already exists" in response.content.decode()


def test_staff_add_requires_a_tenant_and_same_tenant_relations(client, world, outsider):
    client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    response = client.post(admin_url(Team, "add"), {
        "tenant": world.tenant.public_id, "name": "Mixed", "members": [outsider.agent.public_id],
    })
    assert response.status_code == 200 and "members" in response.context["adminform"].form.errors
    response = client.post(admin_url(Team, "add"), {"tenant": outsider.tenant.public_id, "name": "Night shift"})
    assert response.status_code == 302
    with scopes_disabled():
        assert Team.objects.get(name="Night shift").tenant_id == outsider.tenant.pk


# --- Membership role rules --------------------------------------------------------------------------

def _membership_post(client, membership, **changes):
    url = admin_url(membership, "change")
    data = post_data(client.get(url))
    data.update(changes)
    if changes.get("is_active") is False:
        data.pop("is_active")
    return client.post(url, data)


def test_admin_cannot_make_owners_or_edit_the_owner(client, world):
    admin_member = make_admin(world)
    client.force_login(admin_member.user)
    response = _membership_post(client, world.agent, role="owner")
    assert response.status_code == 200
    world.agent.refresh_from_db()
    assert world.agent.role == "agent"
    # The owner's page is view-only for an admin, and a forged POST is refused.
    response = client.get(admin_url(world.owner, "change"))
    assert response.status_code == 200 and not response.context["has_change_permission"]
    assert client.post(admin_url(world.owner, "change"), {"role": "agent", "capacity": "5"}).status_code == 403
    world.owner.refresh_from_db()
    assert world.owner.role == "owner"
    # Admins may promote agents to admin and set capacity.
    assert _membership_post(client, world.agent, role="admin", capacity="9").status_code == 302
    world.agent.refresh_from_db()
    assert (world.agent.role, world.agent.capacity) == ("admin", 9)


def test_nobody_can_demote_the_last_owner(client, world):
    client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    response = _membership_post(client, world.owner, role="agent")
    assert response.status_code == 200
    assert "at least one active owner" in response.content.decode()
    response = _membership_post(client, world.owner, is_active=False)
    assert "at least one active owner" in response.content.decode()
    world.owner.refresh_from_db()
    assert world.owner.role == "owner" and world.owner.is_active


def test_owner_deactivates_agent_through_the_service(owner_client, world):
    assert _membership_post(owner_client, world.agent, is_active=False).status_code == 302
    world.agent.refresh_from_db()
    assert not world.agent.is_active
    with scope(tenant=world.tenant):
        event = OutboxEvent.objects.get(type="membership.deactivated")
    assert event.payload == {"tenant": world.tenant.public_id, "membership": world.agent.public_id,
                             "user": world.agent.user.public_id, "role": "agent"}


def test_owner_sets_member_teams(owner_client, world):
    with scopes_disabled():
        other = Team.objects.create(tenant=world.tenant, name="Sales")
    assert _membership_post(owner_client, world.owner, team_memberships=[other.public_id]).status_code == 302
    with scopes_disabled():
        assert list(world.owner.teams.all()) == [other]


def test_memberships_are_not_added_or_deleted_in_the_admin(owner_client, world):
    assert owner_client.get(admin_url(Membership, "add")).status_code == 403
    assert owner_client.post(admin_url(world.agent, "delete"), {"post": "yes"}).status_code == 403


# --- Conversations go through services ----------------------------------------------------------------

def test_conversation_changes_go_through_services(owner_client, world):
    conv = make_object(Conversation, world)
    url = admin_url(conv, "change")
    data = post_data(owner_client.get(url))
    data.update(status="resolved", assignee=world.agent2.public_id)
    assert owner_client.post(url, data).status_code == 302
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert (conv.status, conv.assignee_id) == ("resolved", world.agent2.pk)
        assert conv.resolved_at is not None
        events = [m.data["event"] for m in Message.objects.filter(conversation=conv, kind="event").order_by("seq")]
        assert events[-2:] == ["assigned", "status_changed"]
        types = set(OutboxEvent.objects.values_list("type", flat=True))
    assert {"conversation.assigned", "conversation.status_changed"} <= types


def test_conversation_action_reopens_through_service(owner_client, world):
    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        Conversation.objects.filter(pk=conv.pk).update(status="resolved")
    response = owner_client.post("/admin/support/conversation/", {
        "action": "mark_open", "_selected_action": [conv.public_id],
    })
    assert response.status_code == 302
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert conv.status == "open"
        assert Message.objects.filter(conversation=conv, data__event="status_changed").exists()


def test_snoozing_without_a_time_is_a_form_error(owner_client, world):
    conv = make_object(Conversation, world)
    url = admin_url(conv, "change")
    data = post_data(owner_client.get(url))
    data["status"] = "snoozed"
    response = owner_client.post(url, data)
    assert response.status_code == 200 and "snoozed_until" in response.context["adminform"].form.errors


def test_messages_are_read_only_and_escaped(owner_client, world):
    conv = make_object(Conversation, world)
    from support.services.messages import post_message

    with scope(tenant=world.tenant):
        post_message(conversation=conv, author_type="contact", body="<script>alert(1)</script>")
    response = owner_client.get(admin_url(conv, "change"))
    content = response.content.decode()
    assert "<script>alert(1)</script>" not in content and "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert owner_client.get("/admin/support/message/").status_code == 404  # no page of its own


# --- Invitations and the change log --------------------------------------------------------------

def test_deleting_an_invitation_revokes_it(owner_client, world):
    from support.models import Invitation

    invitation = make_object(Invitation, world)
    assert owner_client.post(admin_url(invitation, "delete"), {"post": "yes"}).status_code == 302
    with scopes_disabled():
        assert not Invitation.objects.filter(pk=invitation.pk).exists()


def test_admin_changes_are_logged_and_history_is_scoped(owner_client, world, outsider):
    label, theirs = make_object(Label, world), make_object(Label, outsider)
    url = admin_url(label, "change")
    data = post_data(owner_client.get(url))
    data["name"] = "vip"
    owner_client.post(url, data)
    entry = LogEntry.objects.get(object_id=str(label.pk), content_type__model="label")
    assert entry.user == world.owner.user and "name" in entry.get_change_message().lower()
    response = owner_client.get(admin_url(label, "history"))
    assert response.status_code == 200 and "vip" in response.content.decode()
    assert owner_client.get(admin_url(theirs, "history")).status_code == 404
    assert owner_client.get("/admin/admin/logentry/").status_code == 403
    assert "Recent actions" not in owner_client.get("/admin/").content.decode()

    owner_client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    response = owner_client.get("/admin/admin/logentry/")
    assert response.status_code == 200 and entry in response.context["cl"].result_list


def test_bulk_actions_ignore_foreign_ids(owner_client, world, outsider):
    mine, theirs = make_object(Label, world), make_object(Label, outsider)
    response = owner_client.post("/admin/support/label/", {
        "action": "delete_selected", "_selected_action": [mine.public_id, theirs.public_id], "post": "yes",
    })
    assert response.status_code == 302
    with scopes_disabled():
        assert not Label.objects.filter(pk=mine.pk).exists()
        assert Label.objects.filter(pk=theirs.pk).exists()


def test_hostile_tenant_name_is_escaped_in_the_admin(owner_client, world):
    with scopes_disabled():
        type(world.tenant).objects.filter(pk=world.tenant.pk).update(name="<img src=x onerror=alert(1)>")
    content = owner_client.get("/admin/").content.decode()
    assert "<img src=x" not in content and "&lt;img src=x onerror=alert(1)&gt;" in content


def test_password_filter_lookups_are_refused(owner_client, world):
    response = owner_client.get("/admin/support/conversation/", {"assignee__user__password__startswith": "md5"})
    assert response.status_code == 400


def test_staff_adds_and_edits_users(client, db):
    client.force_login(User.objects.create_superuser("root@platform.example", "x-Secret-123"))
    response = client.post("/admin/support/user/add/", {
        "email": "new.staff@platform.example", "password1": "a-long-Secret-pass-9", "password2": "a-long-Secret-pass-9",
    })
    assert response.status_code == 302
    user = User.objects.get(email="new.staff@platform.example")
    assert user.check_password("a-long-Secret-pass-9") and not user.is_staff
    response = client.get(admin_url(user, "change"))
    assert response.status_code == 200 and "is_staff" in response.context["adminform"].form.fields
    assert client.get(f"/admin/support/user/{user.public_id}/password/").status_code == 200


def test_business_hours_are_edited_as_lines(owner_client, world):
    """Owners type one line per day; the stored shape stays the JSON the widget reads."""
    url = admin_url(world.tenant, "change")
    hours = "Mon 9:00-12:00, 13:00-17:30\n\nsat 10:00-14:00\n"
    assert post_workspace_setting(owner_client, world, "business_hours", hours).status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.business_hours == {"mon": [["09:00", "12:00"], ["13:00", "17:30"]], "sat": [["10:00", "14:00"]]}
    page = owner_client.get(url).content.decode()
    assert "mon 09:00-12:00, 13:00-17:30\nsat 10:00-14:00" in page
    assert post_workspace_setting(owner_client, world, "business_hours", "").status_code == 302
    world.tenant.refresh_from_db()
    assert world.tenant.business_hours == {}


def test_identity_secret_is_behind_a_disclosure_and_owner_lands_on_settings(owner_client, world):
    response = owner_client.get("/admin/support/tenant/", follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == admin_url(world.tenant, "change")
    assert "<summary>Show secret</summary>" in html and world.tenant.identity_secret in html
    assert "Workspace settings" in html
    index = owner_client.get("/admin/").content.decode()
    assert "Workspace settings" in index and "API tokens" in index and ">Agents<" in index


def test_conversation_shows_a_read_only_transcript(owner_client, world):
    from support.services.messages import post_message

    conv = make_object(Conversation, world)
    with scope(tenant=world.tenant):
        post_message(conversation=conv, author_type="contact", body="Where is <b>my</b> order?")
    html = owner_client.get(admin_url(conv, "change")).content.decode()
    assert "Where is &lt;b&gt;my&lt;/b&gt; order?" in html
    assert "message_set" not in html and "messages-TOTAL_FORMS" not in html
