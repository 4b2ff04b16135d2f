"""Per-token limits: 429 with Retry-After; the rate comes from a function of the tenant."""
from __future__ import annotations

from support.api import throttling
from tests.api.conftest import ApiClient, issue


def test_over_the_limit_is_429_with_retry_after(world, api, settings, monkeypatch):
    settings.API_RATE_LIMIT_RESOLVER = "support.api.throttling.default_rate_per_minute"
    settings.API_RATE_PER_MINUTE = 3
    monkeypatch.setattr(throttling, "clock", lambda: 600_020.0)  # 20 s into a window
    assert [api.get("/api/v1/me").status_code for _ in range(3)] == [200, 200, 200]
    refused = api.get("/api/v1/me")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert refused["Retry-After"] == "40"
    monkeypatch.setattr(throttling, "clock", lambda: 600_080.0)  # next window
    assert api.get("/api/v1/me").status_code == 200


def test_limits_are_per_token(world, api, settings, monkeypatch):
    settings.API_RATE_LIMIT_RESOLVER = "support.api.throttling.default_rate_per_minute"
    settings.API_RATE_PER_MINUTE = 1
    monkeypatch.setattr(throttling, "clock", lambda: 2_000_000.0)
    other = ApiClient(issue(world, name="other"))
    assert api.get("/api/v1/me").status_code == 200
    assert api.get("/api/v1/me").status_code == 429
    assert other.get("/api/v1/me").status_code == 200


def plan_rate(tenant):
    return 1 if tenant.slug == "acme" else 100


def test_rate_is_a_function_of_the_tenant(world, outsider, api, outsider_api, settings, monkeypatch):
    settings.API_RATE_LIMIT_RESOLVER = "tests.api.test_throttling.plan_rate"
    monkeypatch.setattr(throttling, "clock", lambda: 3_000_000.0)
    assert api.get("/api/v1/me").status_code == 200
    assert api.get("/api/v1/me").status_code == 429
    assert [outsider_api.get("/api/v1/me").status_code for _ in range(5)] == [200] * 5
