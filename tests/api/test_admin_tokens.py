"""The API token admin: create shows the token once, revoke works, other tenants' tokens are 404."""
from __future__ import annotations

import re

import pytest
from django.test import Client
from django_scopes import scope

import support.admin_api  # noqa: F401  (registers the page even before support/admin.py imports it)
from support.models import ApiToken
from support.services.api_tokens import authenticate_token, create_token


@pytest.fixture
def owner_admin(world) -> Client:
    client = Client()
    client.force_login(world.owner.user)
    return client


def test_create_shows_the_token_once(world, owner_admin):
    response = owner_admin.post("/admin/support/apitoken/add/", {"name": "Zapier", "scope": "read_write"})
    assert response.status_code == 200, response.content[:500]
    plaintext = re.search(rb"sb_[a-z0-9]{10}_[a-z0-9]{40}", response.content).group().decode()
    token = authenticate_token(plaintext=plaintext)
    assert token is not None and token.tenant_id == world.tenant.pk and token.scope == "read_write"
    assert token.created_by == world.owner.user
    listing = owner_admin.get("/admin/support/apitoken/")
    assert listing.status_code == 200 and plaintext.split("_")[2].encode() not in listing.content


def test_revoke_action(world, owner_admin):
    issued = create_token(tenant=world.tenant, name="old", scope="read", created_by=None)
    response = owner_admin.post("/admin/support/apitoken/",
                                {"action": "revoke", "_selected_action": [issued.token.public_id]})
    assert response.status_code == 302
    assert authenticate_token(plaintext=issued.plaintext) is None
    with scope(tenant=world.tenant):
        assert ApiToken.objects.get(pk=issued.token.pk).revoked_at is not None


def test_agents_and_outsiders_cannot_reach_tokens(world, outsider):
    issued = create_token(tenant=world.tenant, name="ours", scope="read", created_by=None)
    stranger = Client()
    stranger.force_login(outsider.owner.user)
    assert stranger.get(f"/admin/support/apitoken/{issued.token.pk}/change/").status_code == 404
    assert b"ours" not in stranger.get("/admin/support/apitoken/").content
    agent = Client()
    agent.force_login(world.agent.user)
    assert agent.get("/admin/support/apitoken/").status_code in (302, 403)
