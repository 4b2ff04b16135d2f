"""``/healthz`` answers while the process lives; ``/readyz`` answers 200 only while PostgreSQL and
Redis answer and the node is not draining, else 503 naming what failed."""
from __future__ import annotations

import socket

import pytest

from push import draining

pytestmark = pytest.mark.django_db


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_touches_nothing(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{dead_port()}/0"
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


def test_readyz_passes_when_the_database_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "checks": {"database": "ok"}, "failed": []}


def test_readyz_fails_when_postgresql_is_down(client, settings):
    settings.IS_POSTGRES = True
    settings.DATABASES = {**settings.DATABASES, "default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": "switchboard", "USER": "postgres",
        "HOST": "127.0.0.1", "PORT": str(dead_port()), "OPTIONS": {"pool": {"max_size": 2}},
    }}
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"ok": False, "checks": {"database": "down"}, "failed": ["database"]}


@pytest.mark.postgres
def test_readyz_passes_on_a_live_postgresql(client, require_postgres):
    response = client.get("/readyz")
    assert (response.status_code, response.json()["checks"]) == (200, {"database": "ok"})


def test_readyz_fails_when_redis_is_down_and_names_it_without_its_address(client, settings):
    port = dead_port()
    settings.REDIS_URL = f"redis://:hunter2@127.0.0.1:{port}/0"
    settings.REALTIME_BUS_URLS = [settings.REDIS_URL, f"redis://127.0.0.1:{dead_port()}/0"]
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "redis": "down", "bus-2": "down"}
    assert body["failed"] == ["bus-2", "redis"]
    assert "hunter2" not in response.content.decode() and str(port) not in response.content.decode()


@pytest.mark.redis
def test_readyz_passes_on_a_live_redis(client, settings, redis_url):
    settings.REDIS_URL = redis_url
    settings.REALTIME_BUS_URLS = [redis_url]
    response = client.get("/readyz")
    assert (response.status_code, response.json()["checks"]) == (200, {"database": "ok", "redis": "ok"})


def test_readyz_fails_while_the_node_drains(client, monkeypatch):
    monkeypatch.setattr(draining, "draining", True)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["draining"]


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/healthz", "/readyz"):
        assert client.get(path).status_code == 200
    assert client.get("/admin/login/").status_code == 301  # the rest of the site still is
