"""Invitations: issuing, accepting, expiry, reuse, revocation, cross-tenant ids and role rules."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support.errors import PermissionDenied, ValidationFailed
from support.events.models import OutboxEvent
from support.middleware import SESSION_TENANT_KEY
from support.models import Invitation, Membership, User
from support.services import accounts


def invite(world, email="new@people.example", role="agent", by=None, capture=None):
    issued = accounts.invite_member(tenant=world.tenant, invited_by=by or world.owner, email=email, role=role)
    return issued, issued.url.split("/accounts/invite/", 1)[1].rstrip("/")


def test_team_page_sends_an_invitation_email_with_a_hashed_token(client, world, django_capture_on_commit_callbacks):
    client.force_login(world.owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/team/", {"email": "New.Person@People.example", "role": "admin"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.person@people.example"]
    token = re.search(r"/accounts/invite/([^/\s]+)/", mail.outbox[0].body).group(1)
    with scopes_disabled():
        invitation = Invitation.objects.get()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in invitation.token_hash
    assert invitation.role == "admin" and invitation.tenant_id == world.tenant.pk
    assert invitation.expires_at - timezone.now() > timedelta(hours=71)
    page = client.get("/accounts/team/").content.decode()
    assert "new.person@people.example" in page and "Alice" in page


def test_new_user_accepts(client, world):
    _, token = invite(world)
    page = client.get(f"/accounts/invite/{token}/")
    assert page.status_code == 200 and "Join Acme" in page.content.decode()
    response = client.post(f"/accounts/invite/{token}/", {"name": "Nia New", "password": "a-long-Secret-pass-9"})
    assert response.status_code == 302
    user = User.objects.get(email="new@people.example")
    with scope(tenant=world.tenant):
        membership = Membership.objects.get(user=user)
        event = OutboxEvent.objects.get(type="membership.created")
    assert membership.role == "agent" and user.display_name == "Nia New"
    assert event.payload["membership"] == membership.public_id and event.payload["role"] == "agent"
    assert client.session[SESSION_TENANT_KEY] == world.tenant.public_id


def test_reused_token_is_rejected(client, world):
    _, token = invite(world)
    client.post(f"/accounts/invite/{token}/", {"name": "Nia", "password": "a-long-Secret-pass-9"})
    client.logout()
    response = client.get(f"/accounts/invite/{token}/")
    assert response.status_code == 410 and "already been used" in response.content.decode()
    response = client.post(f"/accounts/invite/{token}/", {"name": "Mallory", "password": "a-long-Secret-pass-9"})
    assert response.status_code == 410
    assert User.objects.filter(email="new@people.example").count() == 1


def test_expired_token_is_rejected(client, world):
    issued, token = invite(world)
    with scopes_disabled():
        Invitation.objects.filter(pk=issued.invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(f"/accounts/invite/{token}/", {"name": "Late", "password": "a-long-Secret-pass-9"})
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert not User.objects.filter(email="new@people.example").exists()


@pytest.mark.parametrize("token", ["x" * 43, "short", "a" * 500, "<img src=x onerror=alert(1)>" * 2])
def test_unknown_or_malformed_token_is_rejected(client, world, token):
    response = client.get(f"/accounts/invite/{token}/")
    assert response.status_code == 404 and "not valid" in response.content.decode()
    assert "<img src=x" not in response.content.decode()


def test_revoked_token_is_rejected(client, world):
    issued, token = invite(world)
    client.force_login(world.owner.user)
    assert client.post(f"/accounts/team/invitations/{issued.invitation.public_id}/revoke/").status_code == 302
    client.logout()
    assert client.get(f"/accounts/invite/{token}/").status_code == 404


def test_reinviting_replaces_the_old_link(world):
    _, first = invite(world)
    _, second = invite(world)
    with pytest.raises(accounts.InvitationUnusable):
        accounts.find_invitation(first)
    assert accounts.find_invitation(second).email == "new@people.example"


def test_existing_user_signs_in_and_accepts(client, world, outsider):
    _, token = invite(world, email="owner@globex.example")
    page = client.get(f"/accounts/invite/{token}/").content.decode()
    assert "Sign in to accept" in page
    client.force_login(User.objects.get(email="owner@globex.example"))
    assert client.post(f"/accounts/invite/{token}/").status_code == 302
    with scope(tenant=world.tenant):
        assert Membership.objects.get(user__email="owner@globex.example").role == "agent"
    assert client.session[SESSION_TENANT_KEY] == world.tenant.public_id


def test_invitation_for_someone_else_cannot_be_taken(client, world, outsider):
    _, token = invite(world)
    client.force_login(outsider.owner.user)
    assert "You are signed in as" in client.get(f"/accounts/invite/{token}/").content.decode()
    response = client.post(f"/accounts/invite/{token}/")
    assert response.status_code == 400 and "Sign in with that address" in response.content.decode()
    with scope(tenant=world.tenant):
        assert not Membership.objects.filter(user=outsider.owner.user).exists()


def test_cross_tenant_revoke_is_404(client, world, outsider):
    issued, token = invite(outsider)
    client.force_login(world.owner.user)
    assert client.post(f"/accounts/team/invitations/{issued.invitation.public_id}/revoke/").status_code == 404
    assert accounts.find_invitation(token)  # still usable


def test_agents_have_no_team_page(client, world):
    client.force_login(world.agent.user)
    assert client.get("/accounts/team/").status_code == 404
    assert client.post("/accounts/team/", {"email": "x@y.example", "role": "agent"}).status_code == 404
    with scopes_disabled():
        assert not Invitation.objects.exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"email": "not an email", "role": "agent"}, "Enter a valid email address"),
    ({"email": "alice@acme.example", "role": "agent"}, "already a member"),
    ({"email": "x@y.example", "role": "owner"}, "Select a valid choice"),
    ({"email": "x" * 300 + "@y.example", "role": "agent"}, "at most 254"),
])
def test_invite_form_rejects_bad_input(client, world, data, message):
    client.force_login(world.owner.user)
    response = client.post("/accounts/team/", data)
    assert response.status_code == 400 and message in response.content.decode()
    with scopes_disabled():
        assert not Invitation.objects.exists()


# --- Role rules (service level) -------------------------------------------------------------------

def test_role_rules_for_invitations(world, outsider):
    with pytest.raises(PermissionDenied):
        invite(world, by=world.agent)
    with pytest.raises(ValidationFailed):
        invite(world, role="owner")
    with pytest.raises(Exception) as excinfo:
        invite(world, by=outsider.owner)
    assert getattr(excinfo.value, "code", "") == "not_found"
    with scopes_disabled():
        admin = Membership.objects.create(
            tenant=world.tenant, role="admin",
            user=User.objects.create_user("adm@acme.example", "pw-acme-Secret1"),
        )
    issued, _ = invite(world, email="second-admin@people.example", role="admin", by=admin)
    assert issued.invitation.role == "admin"


def test_role_rules_for_membership_changes(world):
    with scopes_disabled():
        admin = Membership.objects.create(
            tenant=world.tenant, role="admin",
            user=User.objects.create_user("adm@acme.example", "pw-acme-Secret1"),
        )
    with pytest.raises(PermissionDenied):
        accounts.update_membership(membership=world.owner, actor=admin, is_active=False)
    with pytest.raises(PermissionDenied):
        accounts.update_membership(membership=world.agent, actor=admin, role="owner")
    with pytest.raises(PermissionDenied):
        accounts.update_membership(membership=world.agent2, actor=world.agent, role="admin")
    with pytest.raises(PermissionDenied):
        accounts.update_membership(membership=admin, actor=admin, role="agent")
    with pytest.raises(ValidationFailed) as excinfo:
        accounts.update_membership(membership=world.owner, actor=None, role="agent")
    assert excinfo.value.code == "last_owner"
    # An owner can make a second owner; then the first may step down.
    accounts.update_membership(membership=admin, actor=world.owner, role="owner")
    admin.refresh_from_db()
    accounts.update_membership(membership=world.owner, actor=admin, role="agent")
    world.owner.refresh_from_db()
    assert world.owner.role == "agent"


def test_reactivation_emits_a_seat_event(world):
    accounts.update_membership(membership=world.agent, actor=world.owner, is_active=False)
    accounts.update_membership(membership=world.agent, actor=world.owner, is_active=True)
    with scope(tenant=world.tenant):
        types = list(OutboxEvent.objects.order_by("created_at", "pk").values_list("type", flat=True))
    assert types == ["membership.deactivated", "membership.reactivated"]


def test_deactivated_member_can_be_invited_back(client, world):
    accounts.update_membership(membership=world.agent, actor=world.owner, is_active=False)
    _, token = invite(world, email="alice@acme.example", role="admin")
    client.force_login(world.agent.user)
    assert client.post(f"/accounts/invite/{token}/").status_code == 302
    world.agent.refresh_from_db()
    assert world.agent.is_active and world.agent.role == "admin"
    with scope(tenant=world.tenant):
        assert OutboxEvent.objects.filter(type="membership.reactivated").count() == 1
