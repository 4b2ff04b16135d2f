"""Sign-up, sign-in throttling, password reset and switching workspaces."""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django_scopes import scope, scopes_disabled

from support.events.models import OutboxEvent
from support.middleware import SESSION_TENANT_KEY
from support.models import Membership, Tenant, User
from support.sign_in_throttle import KNOWN_DEVICE_COOKIE

GOOD = {"company_name": "Initrode Ltd", "name": "Peter Gibbons", "email": "Peter@Initrode.example"}
PASSWORD = "correct-horse-battery-42"


def finish_link(message) -> str:
    """The path of the finish link in a sign-up email."""
    url = re.search(r"http://\S+/accounts/signup/finish/\S+/", message.body).group(0)
    return url.split("127.0.0.1:8000", 1)[1]


def sign_up(client, data=GOOD, *, password=PASSWORD, **finish):
    """Both steps, as a new customer does them: the form, the email, the link, a password."""
    response = client.post("/accounts/signup/", data)
    assert response.status_code == 302 and response["Location"] == "/accounts/signup/sent/"
    link = finish_link(mail.outbox[-1])
    page = client.get(link)
    assert page.status_code == 200
    return client.post(link, {"company_name": page.context["form"]["company_name"].value(),
                              "name": page.context["form"]["name"].value(), "password": password, **finish})


def test_signup_creates_user_tenant_owner_and_events(client, db):
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/app/setup"
    user = User.objects.get(email="peter@initrode.example")
    tenant = Tenant.objects.get(name="Initrode Ltd")
    assert tenant.slug == "initrode-ltd" and user.display_name == "Peter Gibbons"
    assert user.check_password(PASSWORD)
    with scope(tenant=tenant):
        membership = Membership.objects.get(tenant=tenant, user=user)
        events = {e.type: e.payload for e in OutboxEvent.objects.all()}
    assert membership.role == "owner"
    assert events["tenant.created"]["tenant"] == tenant.public_id
    assert events["membership.created"] == {"tenant": tenant.public_id, "membership": membership.public_id,
                                             "user": user.public_id, "role": "owner"}
    assert client.session[SESSION_TENANT_KEY] == tenant.public_id
    assert int(client.session["_auth_user_id"]) == user.pk
    # Finishing proved the address: this browser is a known device of the new account.
    assert client.cookies[KNOWN_DEVICE_COOKIE].value


def test_nothing_is_created_before_the_link_is_followed(client, db):
    response = client.post("/accounts/signup/", GOOD)
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert "Check your email to continue" in page.content.decode()
    assert not User.objects.exists() and not Tenant.objects.exists()
    [message] = mail.outbox
    assert message.to == ["peter@initrode.example"] and "Initrode Ltd" in message.body
    assert "_auth_user_id" not in client.session


def test_the_names_can_be_changed_on_the_finish_page(client, db):
    response = sign_up(client, company_name="Initech", name="Peter G.")
    assert response.status_code == 302
    assert Tenant.objects.get().name == "Initech" and User.objects.get().display_name == "Peter G."


def test_signup_slugs_are_unique(client, db):
    Tenant.objects.create(name="Initrode", slug="initrode-ltd")
    assert sign_up(client).status_code == 302
    slug = Tenant.objects.get(name="Initrode Ltd").slug
    assert slug.startswith("initrode-ltd-") and slug != "initrode-ltd"


def test_signup_says_the_same_for_an_existing_email_and_tells_its_owner(world):
    new, taken = Client(), Client()
    for_new = new.post("/accounts/signup/", GOOD)
    for_taken = taken.post("/accounts/signup/", {**GOOD, "email": "OWNER@acme.example"})
    assert (for_new.status_code, for_new["Location"]) == (for_taken.status_code, for_taken["Location"])
    assert new.get(for_new["Location"]).content == taken.get(for_taken["Location"]).content
    assert Tenant.objects.count() == 1 and "_auth_user_id" not in taken.session

    finish, notice = mail.outbox
    assert finish.to == ["peter@initrode.example"] and "/accounts/signup/finish/" in finish.body
    assert notice.to == ["owner@acme.example"]
    assert notice.subject == "Someone tried to create a Switchboard account with your email"
    assert "http://127.0.0.1:8000/accounts/login/" in notice.body
    assert "http://127.0.0.1:8000/accounts/password/reset/" in notice.body
    assert "/accounts/signup/finish/" not in notice.body, "no way to make a second account"


@pytest.mark.parametrize(("changes", "message"), [
    ({"email": "not-an-email"}, "Enter a valid email address"),
    ({"email": "a" * 250 + "@x.example"}, "at most 254"),
    ({"company_name": "C" * 101}, "at most 100"),
    ({"name": ""}, "This field is required"),
    ({"company_name": "   "}, "This field is required"),
    ({"company_name": "\x01\x02"}, "Company name is required"),
])
def test_signup_rejects_bad_input(client, db, changes, message):
    response = client.post("/accounts/signup/", {**GOOD, **changes})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert mail.outbox == []


@pytest.mark.parametrize(("changes", "message"), [
    ({"password": "password"}, "too common"),
    ({"password": "123"}, "too short"),
    ({"password": "peter@initrode.example"}, "too similar"),
    ({"company_name": "C" * 101}, "at most 100"),
    ({"name": ""}, "This field is required"),
])
def test_finishing_rejects_bad_input(client, db, changes, message):
    response = sign_up(client, **changes)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists() and not Tenant.objects.exists()


def test_a_finish_link_works_once(client, db):
    assert sign_up(client).status_code == 302
    again = Client().post(finish_link(mail.outbox[0]), {**GOOD, "password": PASSWORD})
    assert again.status_code == 400 and "already have an account" in again.content.decode()
    assert Tenant.objects.count() == 1


def test_altered_and_expired_finish_links_are_refused(client, db, monkeypatch):
    client.post("/accounts/signup/", GOOD)
    link = finish_link(mail.outbox[0])
    token = link.rstrip("/").rsplit("/", 1)[1]
    altered = client.get(link.replace(token, token[:-3] + ("abc" if not token.endswith("abc") else "xyz")))
    assert altered.status_code == 404 and "not valid" in altered.content.decode()
    import time as time_module
    real_time = time_module.time
    monkeypatch.setattr(time_module, "time", lambda: real_time() + 25 * 3600)
    expired = client.get(link)
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    monkeypatch.undo()
    assert not User.objects.exists()


def test_signup_requests_are_throttled(client, db, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 2
    for n in range(2):
        assert client.post("/accounts/signup/", {**GOOD, "email": f"p{n}@initrode.example"}).status_code == 302
    response = client.post("/accounts/signup/", GOOD)
    assert response.status_code == 429 and "Too many sign-up requests" in response.content.decode()
    assert len(mail.outbox) == 2


def test_signup_stores_hostile_text_as_text_and_escapes_it(client, db):
    hostile = '<script>alert("x")</script>'
    assert sign_up(client, {**GOOD, "company_name": hostile, "name": hostile}).status_code == 302
    tenant = Tenant.objects.get()
    assert tenant.name == hostile and tenant.slug == "scriptalertxscript"
    content = client.get("/accounts/workspaces/").content.decode()
    assert hostile not in content and "&lt;script&gt;" in content


def test_signup_page_renders(client, db):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200 and b"Work email" in response.content
    assert b'type="password"' not in response.content, "the password is chosen behind the emailed link"


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
