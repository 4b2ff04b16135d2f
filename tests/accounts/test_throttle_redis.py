"""The sign-in throttle on the production cache (Redis): counters, window and clean-up."""
from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache import cache

from support.views_accounts import AttemptThrottle
from tests.conftest import service_redis_url


@pytest.fixture
def redis_cache(settings):
    url = service_redis_url()
    if not url:
        pytest.skip("needs TEST_REDIS_URL or REDIS_URL (a real Redis) for the production cache backend")
    prefix = os.environ.get("REDIS_PREFIX", "sb") + ":test-throttle"
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": url, "KEY_PREFIX": prefix}}
    return cache


@pytest.mark.redis
def test_throttle_counts_on_redis(redis_cache, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 2
    ip, email = f"10.{uuid.uuid4().int % 250}.0.1", f"{uuid.uuid4().hex}@x.example"
    throttle = AttemptThrottle(action="login", ip=ip, email=email)
    try:
        assert throttle.retry_after() == 0
        throttle.record()
        assert throttle.retry_after() == 0
        throttle.record()
        assert 890 <= throttle.retry_after() <= 900
        throttle.clear_email()
        # The per-IP counter still holds after the email counter is cleared.
        assert AttemptThrottle(action="login", ip=ip, email="other@x.example").retry_after() > 0
        assert AttemptThrottle(action="login", ip="10.255.255.1", email=email).retry_after() == 0
    finally:
        # Only this test's own keys: never cache.clear() (FLUSHDB) on a shared Redis.
        redis_cache.delete_many([k for key in throttle.keys for k in (key, f"{key}:until")])
