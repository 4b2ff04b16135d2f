"""Web push endpoints must be https to a known push service, at subscription and again at send."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django_scopes import scope

from push import webpush
from push.notifications.subscriptions import save_subscription
from support.errors import ValidationFailed


@pytest.fixture
def production(settings):
    """The shipped allow-list and address rules, not the tests' additions."""
    settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS = False
    settings.WEBPUSH_ALLOWED_HOSTS = [
        "fcm.googleapis.com", "updates.push.services.mozilla.com", "*.notify.windows.com",
        "web.push.apple.com", "*.push.apple.com",
    ]


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/dQw4w9WgXcQ:APA91b",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
    "https://wns2-par02p.notify.windows.com/w/?token=BQYAAAD",
    "https://web.push.apple.com/QGq3fjx1",
    "https://api.push.apple.com/3/device/abc",
    "https://FCM.googleapis.com./fcm/send/x",
])
def test_known_push_services_are_accepted(world, production, browser, endpoint):
    saved = save_subscription(membership=world.agent, endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)
    assert saved.endpoint == endpoint


@pytest.mark.parametrize("endpoint, reason", [
    ("https://localhost:8443/push", "not a known push service"),
    ("https://localhost./push", "not a known push service"),
    ("https://0x7f000001/push", "not a known push service"),
    ("https://2130706433/push", "not a known push service"),
    ("https://127.0.0.1/push", "not a known push service"),
    ("https://[::1]/push", "not a known push service"),
    ("https://[2002:7f00:1::]/push", "not a known push service"),
    ("https://push.example.net/x", "not a known push service"),
    ("https://evil.example/fcm.googleapis.com/x", "not a known push service"),
    ("https://fcm.googleapis.com.evil.example/x", "not a known push service"),
    ("https://evilfcm.googleapis.com/x", "not a known push service"),
    ("https://notify.windows.com/x", "not a known push service"),  # "*." needs a host under the name
    ("http://fcm.googleapis.com/fcm/send/x", "must be an https URL"),
    ("ftp://fcm.googleapis.com/x", "Only http and https"),
])
def test_other_endpoints_are_refused_at_registration(world, production, browser, endpoint, reason):
    with pytest.raises(ValidationFailed) as refused:
        save_subscription(membership=world.agent, endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)
    assert refused.value.code == "invalid_subscription" and reason in refused.value.detail


def test_a_listed_address_literal_must_still_be_public(world, production, settings, browser):
    settings.WEBPUSH_ALLOWED_HOSTS = ["127.0.0.1", "2002:7f00:1::"]
    for endpoint in ("https://127.0.0.1/push", "https://[2002:7f00:1::]/push"):
        with pytest.raises(ValidationFailed, match="private address"):
            save_subscription(membership=world.agent, endpoint=endpoint, p256dh=browser.p256dh, auth=browser.auth)


def test_the_allow_list_is_checked_again_at_send(world, vapid, push_service, browser, settings):
    subscription = save_subscription(
        membership=world.agent, endpoint=push_service.url + "/push/laptop", p256dh=browser.p256dh, auth=browser.auth,
    )
    assert webpush.send_push(subscription=subscription, payload={"title": "one"}) is webpush.PushResult.SENT
    assert len(push_service.requests) == 1

    settings.WEBPUSH_ALLOWED_HOSTS = ["fcm.googleapis.com"]  # the operator narrowed the list
    assert webpush.send_push(subscription=subscription, payload={"title": "two"}) is webpush.PushResult.FAILED
    assert len(push_service.requests) == 1, "nothing was sent to the no-longer-listed host"
    with scope(tenant=world.tenant):
        subscription.refresh_from_db()
    # Kept (the operator may widen the list again), and marked as failing.
    assert subscription.last_failure_at is not None


@pytest.mark.parametrize("value, ok", [
    ("fcm.googleapis.com, *.push.apple.com", True),
    ("*", False),
    ("push.*.example", False),
    ("https://fcm.googleapis.com/", False),
])
def test_a_bad_allow_list_stops_the_process_at_start(value, ok):
    env = {**os.environ, "WEBPUSH_ALLOWED_HOSTS": value, "DJANGO_SETTINGS_MODULE": "config.settings"}
    started = subprocess.run([sys.executable, "-c", "import config.settings"], env=env, capture_output=True,
                             text=True, timeout=60)
    assert (started.returncode == 0) is ok
    if not ok:
        assert "WEBPUSH_ALLOWED_HOSTS" in started.stderr and "is not a host name" in started.stderr
