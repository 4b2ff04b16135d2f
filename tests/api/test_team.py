"""/api/v1/members and /api/v1/invitations (the dashboard's team settings): owners and admins,
signed in, under the role rules of support.services.accounts; agents, tokens and outsiders get nothing."""
from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from support.errors import ValidationFailed
from support.models import Invitation, Membership
from tests.api.conftest import session_client

pytestmark = pytest.mark.django_db


def test_owner_lists_members_and_changes_a_role(world) -> None:
    owner = session_client(world.owner)
    members = owner.get("/api/v1/members").json()
    by_id = {m["id"]: m for m in members}
    assert by_id[world.owner.public_id]["is_you"] is True and by_id[world.owner.public_id]["can_manage"] is False
    assert by_id[world.agent.public_id] | {"joined": None} == {
        "id": world.agent.public_id, "name": world.agent.user.name, "email": world.agent.user.email, "role": "agent",
        "is_active": True, "joined": None, "is_you": False, "can_manage": True}
    answer = owner.patch(f"/api/v1/members/{world.agent.public_id}", {"role": "admin"})
    assert answer.status_code == 200 and answer.json()["role"] == "admin"
    answer = owner.patch(f"/api/v1/members/{world.agent.public_id}", {"is_active": False})
    assert answer.json()["is_active"] is False
    with scopes_disabled():
        assert Membership.objects.get(pk=world.agent.pk).is_active is False


def test_role_rules_hold(world) -> None:
    owner = session_client(world.owner)
    # Nobody changes their own role; the last owner stays.
    answer = owner.patch(f"/api/v1/members/{world.owner.public_id}", {"role": "agent"})
    assert answer.status_code == 403
    answer = owner.patch(f"/api/v1/members/{world.owner.public_id}", {"is_active": False})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "last_owner"
    # An admin never touches an owner nor makes one.
    owner.patch(f"/api/v1/members/{world.agent.public_id}", {"role": "admin"})
    admin = session_client(world.agent)
    assert admin.patch(f"/api/v1/members/{world.owner.public_id}", {"is_active": False}).status_code == 403
    assert admin.patch(f"/api/v1/members/{world.agent2.public_id}", {"role": "owner"}).status_code == 403
    assert admin.patch(f"/api/v1/members/{world.agent2.public_id}", {"role": "admin"}).status_code == 200
    assert admin.patch(f"/api/v1/members/{world.agent2.public_id}", {"role": "boss"}).status_code == 400


def test_invite_and_revoke(world, django_capture_on_commit_callbacks) -> None:
    owner = session_client(world.owner)
    with django_capture_on_commit_callbacks(execute=True):
        answer = owner.post("/api/v1/invitations", {"email": " New.Person@Example.com ", "role": "admin"})
    assert answer.status_code == 201, answer.content
    invitation = answer.json()
    assert (invitation["email"], invitation["role"], invitation["can_revoke"]) == ("new.person@example.com", "admin",
                                                                                    True)
    assert mail.outbox and mail.outbox[-1].to == ["new.person@example.com"]
    assert "token" not in invitation and "/accounts/invite/" not in answer.content.decode()
    assert [i["id"] for i in owner.get("/api/v1/invitations").json()] == [invitation["id"]]
    assert owner.delete(f"/api/v1/invitations/{invitation['id']}").status_code == 204
    assert owner.get("/api/v1/invitations").json() == []
    assert owner.delete(f"/api/v1/invitations/{invitation['id']}").status_code == 404


def test_invitation_errors_name_the_field(world) -> None:
    owner = session_client(world.owner)
    for email, code, message in [("not an email", "invalid_email", "valid email"),
                                 (world.agent.user.email, "already_member", "already a member"),
                                 ("x" * 250 + "@example.com", "invalid", "")]:
        answer = owner.post("/api/v1/invitations", {"email": email, "role": "agent"})
        assert answer.status_code == 400, email
        assert answer.json()["error"]["code"] == code
        assert message in answer.json()["error"]["fields"]["email"][0]
    assert owner.post("/api/v1/invitations", {"email": "a@example.com", "role": "owner"}).status_code == 400


def test_agents_tokens_and_outsiders_get_nothing(world, outsider, api) -> None:
    owner = session_client(world.owner)
    invitation = owner.post("/api/v1/invitations", {"email": "new@example.com"}).json()
    agent = session_client(world.agent)
    for client in (agent, api):
        assert client.get("/api/v1/members").status_code == 403
        assert client.get("/api/v1/invitations").status_code == 403
        assert client.post("/api/v1/invitations", {"email": "sneaky@example.com"}).status_code == 403
        assert client.patch(f"/api/v1/members/{world.agent2.public_id}", {"role": "admin"}).status_code == 403
        assert client.delete(f"/api/v1/invitations/{invitation['id']}").status_code == 403
    theirs = session_client(outsider.owner)
    listing = theirs.get("/api/v1/members").content.decode() + theirs.get("/api/v1/invitations").content.decode()
    assert world.agent.public_id not in listing and invitation["id"] not in listing
    assert theirs.patch(f"/api/v1/members/{world.agent.public_id}", {"is_active": False}).status_code == 404
    assert theirs.delete(f"/api/v1/invitations/{invitation['id']}").status_code == 404
    with scopes_disabled():
        assert Membership.objects.get(pk=world.agent.pk).is_active is True
        assert Invitation.objects.filter(public_id=invitation["id"]).exists()


def test_resend_emails_a_new_link_and_the_old_one_stops_working(world, django_capture_on_commit_callbacks) -> None:
    from support.services.accounts import find_invitation
    owner = session_client(world.owner)
    with django_capture_on_commit_callbacks(execute=True):
        invitation = owner.post("/api/v1/invitations", {"email": "new@example.com", "role": "agent"}).json()
    first_link = mail.outbox[-1].body.split("/accounts/invite/")[1].split("/")[0]
    with scopes_disabled():
        Invitation.objects.filter(public_id=invitation["id"]).update(expires_at=timezone.now())  # expired
    with django_capture_on_commit_callbacks(execute=True):
        answer = owner.post(f"/api/v1/invitations/{invitation['id']}/resend")
    assert answer.status_code == 200, answer.content
    assert answer.json()["id"] == invitation["id"] and answer.json()["expired"] is False
    assert "/accounts/invite/" not in answer.content.decode()
    assert [m.to for m in mail.outbox] == [["new@example.com"], ["new@example.com"]]
    second_link = mail.outbox[-1].body.split("/accounts/invite/")[1].split("/")[0]
    assert second_link != first_link
    assert find_invitation(second_link).public_id == invitation["id"]
    with pytest.raises(ValidationFailed):
        find_invitation(first_link)


def test_resend_is_rate_limited_per_invitation(world, settings) -> None:
    settings.INVITATION_RESENDS_PER_HOUR = 2
    owner = session_client(world.owner)
    first = owner.post("/api/v1/invitations", {"email": "one@example.com"}).json()
    second = owner.post("/api/v1/invitations", {"email": "two@example.com"}).json()
    assert [owner.post(f"/api/v1/invitations/{first['id']}/resend").status_code for _ in range(3)] == [200, 200, 429]
    limited = owner.post(f"/api/v1/invitations/{first['id']}/resend")
    assert (limited.status_code, limited.json()["error"]["code"], limited["Retry-After"]) == (429, "throttled", "3600")
    assert owner.post(f"/api/v1/invitations/{second['id']}/resend").status_code == 200  # its own count


def test_resend_follows_the_role_rules_and_stays_in_the_tenant(world, outsider, api) -> None:
    owner = session_client(world.owner)
    admin_invitation = owner.post("/api/v1/invitations", {"email": "boss@example.com", "role": "admin"}).json()
    for client in (session_client(world.agent), api):
        assert client.post(f"/api/v1/invitations/{admin_invitation['id']}/resend").status_code == 403
    answer = session_client(outsider.owner).post(f"/api/v1/invitations/{admin_invitation['id']}/resend")
    assert answer.status_code == 404
    assert owner.post("/api/v1/invitations/inv_nope/resend").status_code == 404
