"""Sign-up asks for the website's address: it becomes the new workspace's allowed widget origin."""
from __future__ import annotations

from django.core import mail

from support.models import Tenant
from tests.accounts.test_signup_login import GOOD, sign_up


def test_the_website_typed_at_signup_is_the_first_allowed_origin(client, db):
    response = sign_up(client, {**GOOD, "website": "www.initrode.example/about"})
    assert response.status_code == 302
    assert Tenant.objects.get(name="Initrode Ltd").allowed_origins == ["https://www.initrode.example"]


def test_without_a_website_the_workspace_allows_no_origin_yet(client, db):
    sign_up(client)
    assert Tenant.objects.get(name="Initrode Ltd").allowed_origins == []


def test_a_website_that_is_not_an_address_is_refused_on_the_form(client, db):
    response = client.post("/accounts/signup/", {**GOOD, "website": "my shop"})
    assert response.status_code == 400
    assert "like https://example.com" in response.content.decode()
    assert mail.outbox == []
