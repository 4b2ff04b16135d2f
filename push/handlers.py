"""The registry of outbox handlers.

A handler is a function of one ``OutboxEvent``; it must be idempotent by event id (the
dispatcher records each successful ``(event, handler)`` pair and never runs it again, but a crash
after the effect and before that record means a second run). Handlers live in each app's
``outbox_handlers`` module, which ``push.apps`` imports at start-up.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from push.models import OutboxEvent

HandlerFunc = Callable[[OutboxEvent], None]


@dataclass(frozen=True)
class Handler:
    name: str
    event_types: frozenset[str]
    func: HandlerFunc
    # Ordered handlers see the events of one ordering_key (a conversation) in creation order:
    # a later event waits until every earlier one is handled or dead-lettered.
    ordered: bool = False
    max_attempts: int = 8


REGISTRY: dict[str, Handler] = {}


def outbox_handler(
    name: str, *, events: list[str] | tuple[str, ...], ordered: bool = False, max_attempts: int = 8
) -> Callable[[HandlerFunc], HandlerFunc]:
    def register(func: HandlerFunc) -> HandlerFunc:
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise RuntimeError(f"Two outbox handlers are named {name!r}")
        REGISTRY[name] = Handler(name, frozenset(events), func, ordered, max_attempts)
        return func

    return register


def handlers_for(event_type: str) -> list[Handler]:
    return [h for h in REGISTRY.values() if event_type in h.event_types or "*" in h.event_types]
