"""Fixtures of the outbox tests: throw-away handlers registered for one test only."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from django.core.cache import cache
from django.db import transaction

from support.events import handlers
from support.events.models import OutboxEvent
from support.events.outbox import emit_event

_names = itertools.count()


@pytest.fixture
def register() -> Iterator[Callable[..., str]]:
    """``register(func, events=[...], ordered=..., max_attempts=...)`` → the handler's name."""
    added: list[str] = []

    def add(func, *, events, ordered=False, max_attempts=8, name=None) -> str:
        name = name or f"test.handler{next(_names)}"
        handlers.outbox_handler(name, events=events, ordered=ordered, max_attempts=max_attempts)(func)
        added.append(name)
        return name

    yield add
    for name in added:
        handlers.REGISTRY.pop(name, None)


@pytest.fixture(autouse=True)
def _fresh_kick_flag():
    cache.delete("outbox:kick-pending")
    yield


def emit(tenant, type_: str, ordering_key: str = "", **payload) -> OutboxEvent:
    with transaction.atomic():
        return emit_event(tenant=tenant, type=type_, payload=payload, ordering_key=ordering_key)
