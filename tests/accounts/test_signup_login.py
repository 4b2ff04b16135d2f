"""Sign-up, sign-in throttling, password reset and switching workspaces."""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django_scopes import scope, scopes_disabled

from push.models import OutboxEvent
from support.middleware import SESSION_TENANT_KEY
from support.models import Membership, Tenant, User

GOOD = {"company_name": "Initrode Ltd", "name": "Peter Gibbons", "email": "Peter@Initrode.example",
        "password": "correct-horse-battery-42"}


def test_signup_creates_user_tenant_owner_and_events(client, db):
    response = client.post("/accounts/signup/", GOOD)
    assert response.status_code == 302 and response["Location"] == "/app/"
    user = User.objects.get(email="peter@initrode.example")
    tenant = Tenant.objects.get(name="Initrode Ltd")
    assert tenant.slug == "initrode-ltd" and user.display_name == "Peter Gibbons"
    with scope(tenant=tenant):
        membership = Membership.objects.get(tenant=tenant, user=user)
        events = {e.type: e.payload for e in OutboxEvent.objects.all()}
    assert membership.role == "owner"
    assert events["tenant.created"]["tenant"] == tenant.public_id
    assert events["membership.created"] == {"tenant": tenant.public_id, "membership": membership.public_id,
                                             "user": user.public_id, "role": "owner"}
    assert client.session[SESSION_TENANT_KEY] == tenant.public_id
    assert int(client.session["_auth_user_id"]) == user.pk


def test_signup_slugs_are_unique(client, db):
    Tenant.objects.create(name="Initrode", slug="initrode-ltd")
    assert client.post("/accounts/signup/", GOOD).status_code == 302
    slug = Tenant.objects.get(name="Initrode Ltd").slug
    assert slug.startswith("initrode-ltd-") and slug != "initrode-ltd"


def test_signup_rejects_duplicate_email_case_insensitively(client, world):
    response = client.post("/accounts/signup/", {**GOOD, "email": "OWNER@acme.example"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert Tenant.objects.count() == 1


@pytest.mark.parametrize(("changes", "message"), [
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"email": "a" * 250 + "@x.example"}, "at most 254"),
    ({"password": "password"}, "too common"),
    ({"password": "123"}, "too short"),
    ({"password": "peter@initrode.example"}, "too similar"),
    ({"company_name": "C" * 101}, "at most 100"),
    ({"name": ""}, "This field is required"),
    ({"company_name": "   "}, "This field is required"),
])
def test_signup_rejects_bad_input(client, db, changes, message):
    response = client.post("/accounts/signup/", {**GOOD, **changes})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists() and not Tenant.objects.exists()


def test_signup_stores_hostile_text_as_text_and_escapes_it(client, db):
    hostile = '<script>alert("x")</script>'
    assert client.post("/accounts/signup/", {**GOOD, "company_name": hostile, "name": hostile}).status_code == 302
    tenant = Tenant.objects.get()
    assert tenant.name == hostile and tenant.slug == "scriptalertxscript"
    content = client.get("/accounts/workspaces/").content.decode()
    assert hostile not in content and "&lt;script&gt;" in content


def test_signup_page_renders(client, db):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200 and b"Create workspace" in response.content


# --- Sign-in and throttling -------------------------------------------------------------------------

def test_login_logout(client, world):
    response = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "pw-acme-Secret1"})
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert client.post("/accounts/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_login_ignores_offsite_next(client, world):
    response = client.post("/accounts/login/?next=https://evil.example/",
                           {"username": "owner@acme.example", "password": "pw-acme-Secret1"})
    assert response["Location"] == "/app/"


def test_login_throttles_per_email(client, world, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 3
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "wrong"})
        assert response.status_code == 400
    # Even the right password is refused while throttled, with a clear message.
    response = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "pw-acme-Secret1"})
    assert response.status_code == 429
    assert "Try again in 15 minutes" in response.content.decode()
    assert int(response["Retry-After"]) > 800
    assert "_auth_user_id" not in client.session


def test_login_throttles_per_ip_across_emails(client, world, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 3
    for n in range(3):
        client.post("/accounts/login/", {"username": f"guess{n}@acme.example", "password": "wrong"})
    response = client.post("/accounts/login/", {"username": "alice@acme.example", "password": "pw-acme-Secret1"})
    assert response.status_code == 429
    # Another address (client) is not affected.
    response = client.post("/accounts/login/", {"username": "alice@acme.example", "password": "pw-acme-Secret1"},
                           REMOTE_ADDR="10.0.0.9")
    assert response.status_code == 302


def test_a_successful_login_does_not_forgive_the_failures_of_other_browsers(client, world, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 3
    for _ in range(2):
        client.post("/accounts/login/", {"username": "owner@acme.example", "password": "wrong"},
                    REMOTE_ADDR="10.0.0.1")
    owner = Client()
    owner.post("/accounts/login/", {"username": "owner@acme.example", "password": "pw-acme-Secret1"},
               REMOTE_ADDR="10.0.0.2")
    response = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "wrong"},
                           REMOTE_ADDR="10.0.0.3")
    assert response.status_code == 400  # the third failure is still tried...
    response = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "wrong"},
                           REMOTE_ADDR="10.0.0.4")
    assert response.status_code == 429  # ...and it counted with the two before the owner's sign-in


def test_login_to_admin_starts_in_an_administered_workspace(client, world, outsider):
    # Alice is an agent in acme (her first workspace) and an admin of globex.
    with scopes_disabled():
        Membership.objects.create(tenant=outsider.tenant, user=world.agent.user, role="admin")
    response = client.post("/accounts/login/?next=/admin/",
                           {"username": "alice@acme.example", "password": "pw-acme-Secret1"})
    assert response["Location"] == "/admin/"
    assert client.session[SESSION_TENANT_KEY] == outsider.tenant.public_id
    assert client.get("/admin/").status_code == 200


# --- Password reset ---------------------------------------------------------------------------------

def test_password_reset_email_and_new_password(client, world):
    response = client.post("/accounts/password/reset/", {"email": "owner@acme.example"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["owner@acme.example"]
    link = re.search(r"http://\S+/accounts/password/reset/\S+/", mail.outbox[0].body).group(0)
    path = link.split("127.0.0.1:8000", 1)[1]
    response = client.get(path, follow=True)
    assert response.status_code == 200 and response.context["validlink"]
    form_url = response.redirect_chain[-1][0]
    response = client.post(form_url, {"new_password1": "brand-new-Secret-77", "new_password2": "brand-new-Secret-77"})
    assert response.status_code == 302
    assert User.objects.get(email="owner@acme.example").check_password("brand-new-Secret-77")


def test_password_reset_for_unknown_email_sends_nothing_and_says_the_same(client, world):
    response = client.post("/accounts/password/reset/", {"email": "nobody@nowhere.example"})
    assert response.status_code == 302 and mail.outbox == []


def test_password_reset_is_throttled(client, world, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 2
    for _ in range(2):
        client.post("/accounts/password/reset/", {"email": "owner@acme.example"})
    assert client.post("/accounts/password/reset/", {"email": "owner@acme.example"}).status_code == 429
    assert len(mail.outbox) == 2


# --- Workspace switching --------------------------------------------------------------------------------

def test_switch_workspace(client, world, outsider):
    with scopes_disabled():
        Membership.objects.create(tenant=outsider.tenant, user=world.owner.user, role="agent")
    client.force_login(world.owner.user)
    content = client.get("/accounts/workspaces/").content.decode()
    assert "Acme" in content and "Globex" in content
    response = client.post(f"/accounts/switch/{outsider.tenant.public_id}/")
    assert response.status_code == 302 and client.session[SESSION_TENANT_KEY] == outsider.tenant.public_id


def test_cannot_switch_into_a_foreign_workspace(client, world, outsider):
    client.force_login(world.owner.user)
    assert client.post(f"/accounts/switch/{outsider.tenant.public_id}/").status_code == 404
    assert client.post("/accounts/switch/garbage<script>/").status_code == 404
    assert client.get(f"/accounts/switch/{world.tenant.public_id}/").status_code == 405
    assert SESSION_TENANT_KEY not in client.session
