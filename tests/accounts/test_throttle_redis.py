"""The sign-in throttle on the production cache (Redis): windows, growing delays, known devices."""
from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import RequestFactory

from support import sign_in_throttle
from support.sign_in_throttle import AttemptThrottle, GrowingDelay, SignInThrottle, Window
from tests.conftest import production_cache_on_redis


@pytest.fixture
def redis_cache(request, settings):
    production_cache_on_redis(request, settings, key_prefix=os.environ.get("REDIS_PREFIX", "sb") + ":test-throttle")
    return cache


def keys_of(*limits: Window | GrowingDelay) -> list[str]:
    return [key for limit in limits for key in (limit.key, limit.until_key)]


@pytest.mark.redis
def test_windows_count_on_redis(redis_cache, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 2
    ip, email = f"10.{uuid.uuid4().int % 250}.0.1", f"{uuid.uuid4().hex}@x.example"
    throttle = AttemptThrottle(action="login", ip=ip, email=email)
    try:
        assert throttle.retry_after() == 0
        throttle.record()
        assert throttle.retry_after() == 0
        throttle.record()
        assert 890 <= throttle.retry_after() <= 900
        throttle.windows[1].clear()
        # The per-IP counter still holds after the email counter is cleared.
        assert AttemptThrottle(action="login", ip=ip, email="other@x.example").retry_after() > 0
        assert AttemptThrottle(action="login", ip="10.255.255.1", email=email).retry_after() == 0
    finally:
        # Only this test's own keys: never cache.clear() (FLUSHDB) on a shared Redis.
        redis_cache.delete_many(keys_of(*throttle.windows))


@pytest.mark.redis
def test_growing_delays_and_known_devices_on_redis(redis_cache, settings, monkeypatch):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 3
    now = [1_800_000_000.0]
    monkeypatch.setattr(sign_in_throttle, "_now", lambda: now[0])
    email = f"{uuid.uuid4().hex}@x.example"
    attackers = [SignInThrottle(ip=f"10.{n}.{uuid.uuid4().int % 250}.1", email=email, known_device=False)
                 for n in range(3)]
    home = SignInThrottle(ip="10.254.0.1", email=email, known_device=True)
    stranger = SignInThrottle(ip="10.254.0.1", email=email, known_device=False)
    limits = [x for t in [*attackers, home] for x in (t.address, t.pair, t.account)]
    try:
        for attacker in attackers:
            assert attacker.refusal() is None
            attacker.failed()
        refusal = stranger.refusal()
        assert refusal is not None and 890 <= refusal.seconds <= 900 and "this account" in refusal.message
        assert home.refusal() is None, "the known device is exempt from the per-account limit"

        for _ in range(sign_in_throttle.FREE_FAILURES + 2):
            now[0] += 900
            home.failed()
        refusal = home.refusal()
        assert refusal is not None and refusal.seconds == 60 and "wrong passwords" in refusal.message
        home.succeeded()
        assert home.pair.retry_after() == 0 and redis_cache.get(home.pair.key) is None
    finally:
        redis_cache.delete_many(keys_of(*limits))


def test_known_device_cookie_round_trip():
    request = RequestFactory().get("/")
    response = HttpResponse()
    sign_in_throttle.remember_device(request, response, email="Owner@Acme.example")
    again = RequestFactory().get("/")
    again.COOKIES[sign_in_throttle.KNOWN_DEVICE_COOKIE] = response.cookies[sign_in_throttle.KNOWN_DEVICE_COOKIE].value
    assert sign_in_throttle.is_known_device(again, email="owner@acme.example")
    assert not sign_in_throttle.is_known_device(again, email="alice@acme.example")
    assert response.cookies[sign_in_throttle.KNOWN_DEVICE_COOKIE]["httponly"]
