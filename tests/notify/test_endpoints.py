"""The dashboard's notification endpoints: push subscriptions, VAPID key, preferences."""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django_scopes import scope

from push.models import PushSubscription


@pytest.fixture
def alice(world, client):
    client.force_login(world.agent.user)
    return client


def subscription_body(browser, endpoint="https://push.example.net/send/abc"):
    return {"endpoint": endpoint, "keys": {"p256dh": browser.p256dh, "auth": browser.auth}}


def send(client, method, path, data=None):
    return getattr(client, method)(path, data=json.dumps(data), content_type="application/json")


def subs(world):
    with scope(tenant=world.tenant):
        return list(PushSubscription.objects.values_list("membership_id", "endpoint"))


def test_signed_out_requests_are_refused(client, world, browser):
    assert send(client, "post", "/notifications/subscriptions", subscription_body(browser)).status_code == 401
    assert client.get("/notifications/preferences").status_code == 401
    assert client.get("/notifications/vapid-public-key").status_code == 401
    assert subs(world) == []


def test_save_refresh_and_delete_a_subscription(alice, world, browser):
    created = send(alice, "post", "/notifications/subscriptions", subscription_body(browser))
    assert created.status_code == 201 and created.json()["id"].startswith("ps_")
    again = send(alice, "post", "/notifications/subscriptions", subscription_body(browser))
    assert again.json()["id"] == created.json()["id"], "the same browser re-subscribing updates its row"
    assert subs(world) == [(world.agent.pk, "https://push.example.net/send/abc")]

    gone = send(alice, "delete", "/notifications/subscriptions", {"endpoint": "https://push.example.net/send/abc"})
    assert gone.status_code == 204 and subs(world) == []
    again = send(alice, "delete", "/notifications/subscriptions", {"endpoint": "https://push.example.net/send/abc"})
    assert again.status_code == 404


@pytest.mark.parametrize("change, code", [
    ({"endpoint": "http://push.example.net/x"}, "invalid_subscription"),
    ({"endpoint": "https://10.0.0.1/x"}, "invalid_subscription"),
    ({"endpoint": "https://[::1]/x"}, "invalid_subscription"),
    ({"endpoint": "ftp://push.example.net/x"}, "invalid_subscription"),
    ({"keys": {"p256dh": "short", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "invalid_subscription"),
    ({"keys": {"p256dh": None, "auth": None}}, "invalid_subscription"),
    ({"keys": "nope"}, "invalid_subscription"),
])
def test_bad_subscriptions_are_refused_with_a_reason(alice, world, browser, change, code):
    body = {**subscription_body(browser), **change}
    answer = send(alice, "post", "/notifications/subscriptions", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code and answer.json()["error"]["detail"]
    assert subs(world) == []


def test_not_json_is_a_400(alice):
    answer = alice.post("/notifications/subscriptions", data="{nope", content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_json"


@pytest.mark.parametrize(("data", "content_type", "status", "code"), [
    ("[1, 2]", "application/json", 400, "bad_json"),  # JSON, but not an object
    ('{"endpoint": "' + "x" * 20_000 + '"}', "application/json", 413, "too_large"),
    ("endpoint=https://push.example.net/x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
])
def test_bodies_are_read_as_every_push_endpoint_reads_them(alice, world, data, content_type, status, code):
    """The one JSON-body reader of push's views (push/json_body.py): its codes and statuses."""
    for method in ("post", "delete"):
        answer = getattr(alice, method)("/notifications/subscriptions", data=data, content_type=content_type)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    answer = alice.put("/notifications/preferences", data=data, content_type=content_type)
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert subs(world) == []


def test_an_agent_cannot_remove_a_colleagues_or_another_tenants_subscription(world, outsider, browser):
    bob, stranger = Client(), Client()
    bob.force_login(world.agent2.user)
    stranger.force_login(outsider.agent.user)
    alice = Client()
    alice.force_login(world.agent.user)
    send(alice, "post", "/notifications/subscriptions", subscription_body(browser))
    body = {"endpoint": "https://push.example.net/send/abc"}
    assert send(bob, "delete", "/notifications/subscriptions", body).status_code == 404
    assert send(stranger, "delete", "/notifications/subscriptions", body).status_code == 404
    assert len(subs(world)) == 1


def test_csrf_is_required(world, browser):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.agent.user)
    assert send(client, "post", "/notifications/subscriptions", subscription_body(browser)).status_code == 403


def test_vapid_public_key(alice, settings):
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "", ""
    assert alice.get("/notifications/vapid-public-key").json() == {"public_key": "", "enabled": False}
    settings.VAPID_PUBLIC_KEY, settings.VAPID_PRIVATE_KEY = "BPub", "priv"
    assert alice.get("/notifications/vapid-public-key").json() == {"public_key": "BPub", "enabled": True}


def test_preferences_read_and_change(alice, world):
    prefs = alice.get("/notifications/preferences").json()["preferences"]
    assert prefs and all(prefs.values()), "everything on by default"
    changed = send(alice, "put", "/notifications/preferences", {"push_message": False})
    assert changed.status_code == 200 and changed.json()["preferences"]["push_message"] is False
    assert alice.get("/notifications/preferences").json()["preferences"]["push_message"] is False

    unknown = send(alice, "put", "/notifications/preferences", {"push_everything": True})
    assert unknown.status_code == 400 and "push_everything" in unknown.json()["error"]["detail"]
    wrong = send(alice, "put", "/notifications/preferences", {"push_message": "yes"})
    assert wrong.status_code == 400
    with scope(tenant=world.tenant):
        world.agent.refresh_from_db()
    assert world.agent.notification_prefs == {"push_message": False}


@pytest.mark.parametrize("body", ["[" * 5_000, '{"endpoint": NaN}'])
def test_hostile_json_is_a_400_not_a_500(alice, body):
    answer = alice.post("/notifications/subscriptions", data=body, content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_json"
