"""The events core finds every app's outbox_handlers module at start-up (support.events.apps)."""
from __future__ import annotations

from support.events.handlers import REGISTRY, handlers_for


def test_every_apps_handlers_are_registered_at_start():
    modules = {handler.func.__module__ for handler in REGISTRY.values()}
    assert {"support.outbox_handlers", "push.outbox_handlers", "billing.outbox_handlers"} <= modules
    # One event reaches the handlers of several apps: push's and billing's alike.
    names = {handler.name for handler in handlers_for("conversation.created")}
    assert {"auto_assign", "webhooks.enqueue", "notify.offline_conversation", "billing.metering"} <= names
