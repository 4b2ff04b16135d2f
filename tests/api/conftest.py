"""Fixtures for the REST API tests: token clients for our tenant and the outsider's."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client
from django_scopes import scope

from support.api import throttling
from support.models import ApiToken
from support.services.api_tokens import create_token
from support.services.conversations import start_conversation
from support.services.messages import post_message


class ApiClient:
    """A Django test client that speaks JSON and sends a bearer token."""

    def __init__(self, token: str | None = None, client: Client | None = None) -> None:
        self.token = token
        self.client = client or Client()

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def get(self, path: str, params: dict[str, Any] | None = None, headers: dict[str, str] | None = None):
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(self, path: str, data: Any = None, headers: dict[str, str] | None = None):
        return self.client.post(path, json.dumps(data if data is not None else {}), content_type="application/json",
                                headers=self._headers(headers))

    def patch(self, path: str, data: Any, headers: dict[str, str] | None = None):
        return self.client.patch(path, json.dumps(data), content_type="application/json",
                                 headers=self._headers(headers))

    def delete(self, path: str, headers: dict[str, str] | None = None):
        return self.client.delete(path, headers=self._headers(headers))

    def upload(self, path: str, files: dict[str, Any], headers: dict[str, str] | None = None):
        return self.client.post(path, files, headers=self._headers(headers))


def issue(world, scope_name: str = ApiToken.Scope.READ_WRITE, name: str = "test") -> str:
    return create_token(tenant=world.tenant, name=name, scope=scope_name, created_by=world.owner.user).plaintext


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture(autouse=True)
def _fresh_throttle_buckets(monkeypatch):
    # Throttle counters live in the cache; each test counts under its own prefix. (Never
    # cache.clear(): on Redis that is FLUSHDB, shared with everyone else's tests.)
    monkeypatch.setattr(throttling, "KEY_PREFIX", f"api:rl:test-{uuid.uuid4().hex}")


@pytest.fixture
def api(world) -> ApiClient:
    """Our tenant, read-write token."""
    return ApiClient(issue(world))


@pytest.fixture
def read_api(world) -> ApiClient:
    return ApiClient(issue(world, ApiToken.Scope.READ, name="reader"))


@pytest.fixture
def outsider_api(outsider) -> ApiClient:
    return ApiClient(issue(outsider))


def session_client(membership, *, csrf: bool = False) -> ApiClient:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(membership.user)
    return ApiClient(None, client)


@pytest.fixture
def conversation(world):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type="contact", body="Hello, my invoice is wrong")
        return conv
