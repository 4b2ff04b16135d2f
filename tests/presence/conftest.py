"""Fixtures for presence tests: a frozen clock and a fresh store per test."""
from __future__ import annotations

import uuid

import pytest

from push import presence
from push.presence_store import MemoryStore, RedisStore, set_store


class FrozenClock:
    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> FrozenClock:
    frozen = FrozenClock()
    monkeypatch.setattr(presence, "clock", frozen)
    return frozen


@pytest.fixture(autouse=True, params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def store(request):
    """Every presence test runs on the embedded store and, where Redis is available, on Redis."""
    if request.param == "memory":
        chosen = MemoryStore()
    else:
        url = request.getfixturevalue("redis_url")
        chosen = RedisStore(url=url, prefix=f"sb_test_presence_{uuid.uuid4().hex[:8]}")
    set_store(chosen)
    yield chosen
    chosen.clear()
    set_store(None)


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict]]:
    """Channel-layer publishes made by presence (recorded instead of sent)."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(presence.fanout, "publish", lambda group, event: sent.append((group, event)))
    return sent
