"""Idempotency-Key: one execution per key and caller; replay, 422 on another body, 409 while running."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_scopes import scope

from support.api import idempotency
from support.models import Contact, IdempotencyKey, Message
from tests.api.conftest import ApiClient, issue, session_client
from tests.conftest import skip_without_service


def _contacts(world) -> int:
    with scope(tenant=world.tenant):
        return Contact.objects.count()


def test_same_key_twice_runs_once_and_replays(world, api):
    before = _contacts(world)
    first = api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "k-1"})
    again = api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert _contacts(world) == before + 1


def test_same_key_other_body_is_422(world, api):
    api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "k-2"})
    response = api.post("/api/v1/contacts", {"name": "Bob"}, headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"


def test_same_key_other_path_is_422(world, api, conversation):
    api.post("/api/v1/contacts", {"body": "x"}, headers={"Idempotency-Key": "k-3"})
    response = api.post(f"/api/v1/conversations/{conversation.public_id}/messages", {"body": "x"},
                        headers={"Idempotency-Key": "k-3"})
    assert response.status_code == 422


def test_keys_are_per_token(world, api):
    other = ApiClient(issue(world, name="other"))
    api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "shared"})
    response = other.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "shared"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response


def test_session_callers_have_their_own_keys(world):
    client = session_client(world.agent)
    first = client.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "s-1"})
    again = client.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "s-1"})
    assert first.status_code == 201 and again["Idempotent-Replayed"] == "true"


def test_failed_first_attempt_releases_the_key(world, api):
    bad = api.post("/api/v1/contacts", {"email": "not-an-email"}, headers={"Idempotency-Key": "k-4"})
    assert bad.status_code == 400
    with scope(tenant=world.tenant):
        assert not IdempotencyKey.objects.filter(key="k-4").exists()
    retry = api.post("/api/v1/contacts", {"email": "not-an-email"}, headers={"Idempotency-Key": "k-4"})
    assert retry.status_code == 400  # run again, not replayed


def test_expired_key_runs_again(world, api):
    api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "k-5"})
    with scope(tenant=world.tenant):
        IdempotencyKey.objects.filter(key="k-5").update(expires_at=timezone.now() - timedelta(seconds=1))
    before = _contacts(world)
    response = api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "k-5"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert _contacts(world) == before + 1
    with scope(tenant=world.tenant):
        key = IdempotencyKey.objects.get(key="k-5")
    assert key.expires_at - key.created_at == timedelta(hours=24)


def test_purge_deletes_only_expired(world, api):
    api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "old"})
    api.post("/api/v1/contacts", {"name": "Bob"}, headers={"Idempotency-Key": "new"})
    with scope(tenant=world.tenant):
        IdempotencyKey.objects.filter(key="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    assert idempotency.purge_expired_keys() == 1
    with scope(tenant=world.tenant):
        assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_bad_key_is_400(world, api):
    response = api.post("/api/v1/contacts", {"name": "Ada"}, headers={"Idempotency-Key": "x" * 256})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_idempotency_key"


def test_unique_constraint_stops_two_firsts(world, api):
    from support.models import ApiToken

    with scope(tenant=world.tenant):
        token = ApiToken.objects.first()
        fields = dict(tenant=world.tenant, token=token, key="race", fingerprint="f",
                      expires_at=timezone.now() + timedelta(hours=1))
        IdempotencyKey.objects.create(**fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            IdempotencyKey.objects.create(**fields)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_same_key_runs_once_and_the_other_gets_409(request, world, conversation, monkeypatch):
    """Two threads, real connections: the second arrives while the first is inside the handler."""
    if connection.vendor != "postgresql":
        skip_without_service(request.node, service="postgres",
                             reason="concurrent idempotency is checked on PostgreSQL: set DATABASE_URL")
    token = issue(world)
    path = f"/api/v1/conversations/{conversation.public_id}/messages"
    inside, release = threading.Event(), threading.Event()
    from support.api import views_messages

    real_post = views_messages.post_message

    def slow_post(**kwargs):
        inside.set()
        assert release.wait(10)
        return real_post(**kwargs)

    monkeypatch.setattr(views_messages, "post_message", slow_post)
    results: dict[str, object] = {}

    def first():
        try:
            results["first"] = ApiClient(token).post(path, {"body": "once"}, headers={"Idempotency-Key": "c-1"})
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    try:
        second = ApiClient(token).post(path, {"body": "once"}, headers={"Idempotency-Key": "c-1"})
    finally:
        release.set()
        thread.join(10)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "idempotency_key_in_use"
    assert results["first"].status_code == 201
    third = ApiClient(token).post(path, {"body": "once"}, headers={"Idempotency-Key": "c-1"})
    assert third.status_code == 201 and third["Idempotent-Replayed"] == "true"
    with scope(tenant=world.tenant):
        assert Message.objects.filter(conversation=conversation, body="once").count() == 1
