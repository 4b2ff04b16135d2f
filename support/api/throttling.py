"""Per-caller request limits: a fixed one-minute window per token (or signed-in member).

The rate is a function of the tenant, named by ``settings.API_RATE_LIMIT_RESOLVER``, so billing can
give each plan its own limit; the default resolver returns ``settings.API_RATE_PER_MINUTE``.
Counted by ``support.rate_limits.count_hit`` (the cache: Redis in production), keyed by tenant and
caller; a refused client is told when the window ends.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from support.api.authentication import Principal
from support.models import Tenant
from support.rate_limits import FixedWindow, count_hit

WINDOW_SECONDS = 60
# Prefix of the counters in the cache (tests give each test its own).
KEY_PREFIX = "api:rl"


def default_rate_per_minute(tenant: Tenant) -> int:
    return int(settings.API_RATE_PER_MINUTE)


@lru_cache(maxsize=4)
def _resolver(path: str) -> Callable[[Tenant], int]:
    return import_string(path)  # type: ignore[no-any-return]


def rate_per_minute(tenant: Tenant) -> int:
    return _resolver(settings.API_RATE_LIMIT_RESOLVER)(tenant)


def clock() -> float:
    """Current time; tests replace it to cross window boundaries without sleeping."""
    return time.time()


class PrincipalRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return True  # unauthenticated requests are refused before reaching any data
        limit = rate_per_minute(principal.tenant)
        window = FixedWindow.at(f"{KEY_PREFIX}:t{principal.tenant.pk}:{principal.owner_key}", seconds=WINDOW_SECONDS,
                                now=clock())
        count, _previous = count_hit(window)
        if count <= limit:
            return True
        self._wait = window.remaining
        return False

    def wait(self) -> float | None:
        return self._wait
