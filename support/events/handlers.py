"""The registry of outbox handlers.

A handler is a function of one ``OutboxEvent``; it must be idempotent by event id (the
dispatcher records each successful ``(event, handler)`` pair and never runs it again, but a crash
after the effect and before that record means a second run). Handlers live in each app's
``outbox_handlers`` module, which ``support.events.apps`` imports at start-up; modules named in the
``OUTBOX_EXTRA_HANDLER_MODULES`` setting (test fixtures, plugins) are imported on first use.

The dispatcher calls a handler inside ``scope(tenant=event.tenant)``, outside any transaction:
a handler that writes to the database opens its own ``transaction.atomic``.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings

from support.events.models import OutboxEvent

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
_extra_loaded = False
_extra_lock = threading.Lock()


def outbox_handler(
    name: str, *, events: list[str] | tuple[str, ...], ordered: bool = False, max_attempts: int = 8
) -> Callable[[HandlerFunc], HandlerFunc]:
    if max_attempts < 1:
        raise ValueError(f"Outbox handler {name!r}: max_attempts must be at least 1")
    if len(name) > 100:
        raise ValueError(f"Outbox handler name {name!r} is longer than 100 characters")

    def register(func: HandlerFunc) -> HandlerFunc:
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise RuntimeError(f"Two outbox handlers are named {name!r}")
        REGISTRY[name] = Handler(name, frozenset(events), func, ordered, max_attempts)
        return func

    return register


def _load_extra_modules() -> None:
    global _extra_loaded
    if _extra_loaded:
        return
    with _extra_lock:
        if not _extra_loaded:
            for module in getattr(settings, "OUTBOX_EXTRA_HANDLER_MODULES", ()):
                import_module(module)
            _extra_loaded = True


def handlers_for(event_type: str) -> list[Handler]:
    _load_extra_modules()
    return [h for h in REGISTRY.values() if event_type in h.event_types or "*" in h.event_types]


def handler_named(name: str) -> Handler | None:
    """The registered handler called ``name``, or None if this process does not know it."""
    _load_extra_modules()
    return REGISTRY.get(name)


def ordered_handler_names() -> list[str]:
    _load_extra_modules()
    return sorted(h.name for h in REGISTRY.values() if h.ordered)
