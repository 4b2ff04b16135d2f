"""Authentication (tokens, session + CSRF), token scopes, roles, and token management."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope

from support.models import ApiToken
from support.services.api_tokens import authenticate_token, create_token, hash_secret
from tests.api.conftest import ApiClient, issue, session_client


def test_no_credentials_is_401_with_error_shape(db):
    response = ApiClient().get("/api/v1/conversations")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "not_authenticated",
                                         "detail": "Authentication credentials were not provided."}}
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer sb_abcdefghij_" + "x" * 40, "Bearer a b"])
def test_bad_tokens_are_401(world, header):
    response = ApiClient().get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_token_is_stored_hashed_and_shown_once(world):
    issued = create_token(tenant=world.tenant, name="CRM", scope="read", created_by=world.owner.user)
    _, prefix, secret = issued.plaintext.split("_")
    with scope(tenant=world.tenant):
        row = ApiToken.objects.get(pk=issued.token.pk)
    assert row.prefix == prefix and row.secret_hash == hash_secret(secret)
    assert secret not in str(row.__dict__)


def test_revoked_token_is_refused(world):
    client = session_client(world.owner)
    created = client.post("/api/v1/tokens", {"name": "temp", "scope": "read"}).json()
    assert ApiClient(created["token"]).get("/api/v1/me").status_code == 200
    revoked = client.delete(f"/api/v1/tokens/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert ApiClient(created["token"]).get("/api/v1/me").status_code == 401


def test_read_token_cannot_write(read_api, conversation):
    response = read_api.patch(f"/api/v1/conversations/{conversation.public_id}", {"status": "resolved"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "read_only_token"
    assert read_api.post("/api/v1/contacts", {"name": "x"}).status_code == 403
    assert read_api.get("/api/v1/conversations").status_code == 200


def test_tokens_cannot_manage_tokens(api):
    response = api.post("/api/v1/tokens", {"name": "escalate", "scope": "read_write"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_required"


def test_agents_cannot_manage_tokens_or_webhooks_or_teams(world):
    client = session_client(world.agent)
    assert client.get("/api/v1/tokens").json()["error"]["code"] == "admin_required"
    assert client.get("/api/v1/webhooks").status_code == 403
    assert client.post("/api/v1/teams", {"name": "Mine"}).status_code == 403
    assert client.get("/api/v1/teams").status_code == 200  # reading is fine


def test_session_writes_need_csrf(world, conversation):
    client = session_client(world.agent, csrf=True)
    path = f"/api/v1/conversations/{conversation.public_id}"
    assert client.get(path).status_code == 200
    refused = client.patch(path, {"status": "resolved"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["detail"]
    client.client.get("/api/v1/me")  # any page; the cookie is set by get_token below
    from django.middleware.csrf import _get_new_csrf_string, _mask_cipher_secret

    secret = _get_new_csrf_string()
    client.client.cookies["csrftoken"] = secret
    ok = client.patch(path, {"status": "resolved"}, headers={"X-CSRFToken": _mask_cipher_secret(secret)})
    assert ok.status_code == 200 and ok.json()["status"] == "resolved"


def test_me_for_session_and_token(world, api):
    me = session_client(world.agent).get("/api/v1/me").json()
    assert me["agent"]["id"] == world.agent.public_id and me["role"] == "agent" and me["token"] is None
    assert me["tenant"]["id"] == world.tenant.public_id
    token_me = api.get("/api/v1/me").json()
    assert token_me["agent"] is None and token_me["role"] == "integration" and token_me["scope"] == "read_write"


def test_last_used_is_written_at_most_once_a_minute(world, django_assert_num_queries):
    plaintext = issue(world, "read")
    token = authenticate_token(plaintext=plaintext)
    first = token.last_used_at
    assert first is not None
    with django_assert_num_queries(1):  # the lookup only: no write within the minute
        authenticate_token(plaintext=plaintext)
    with scope(tenant=world.tenant):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - timedelta(minutes=2))
    with django_assert_num_queries(2):  # lookup + one conditional UPDATE
        again = authenticate_token(plaintext=plaintext)
    assert again.last_used_at > first


def test_token_listing_shows_prefix_never_secret(world):
    client = session_client(world.owner)
    created = client.post("/api/v1/tokens", {"name": "Zapier", "scope": "read_write"}).json()
    listed = client.get("/api/v1/tokens").json()["results"]
    entry = next(t for t in listed if t["id"] == created["id"])
    assert "token" not in entry and created["token"].startswith(entry["prefix"])
    assert created["token"].split("_")[2] not in client.get("/api/v1/tokens").content.decode()
