"""The outbox event types a tenant can subscribe a webhook endpoint to, and the body we send."""
from __future__ import annotations

import json
from typing import Any

from support.errors import ValidationFailed
from support.events.models import OutboxEvent
from support.models import Tenant

# Kept explicit so a typo in an endpoint's list is an error, not a silent "never fires".
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "conversation.created",
    "conversation.assigned",
    "conversation.status_changed",
    "conversation.team_changed",
    "conversation.labels_changed",
    "conversation.rated",
    "message.created",
    "contact.created",
    "contact.updated",
)
ALL_EVENTS = "*"
PING = "ping"


def clean_event_types(value: object) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed("event_types must be a non-empty list", code="invalid_event_types")
    cleaned: list[str] = []
    for item in value:
        if not isinstance(item, str) or (item != ALL_EVENTS and item not in WEBHOOK_EVENT_TYPES):
            known = ", ".join(WEBHOOK_EVENT_TYPES)
            raise ValidationFailed(
                f"Unknown event type {item!r}; use {ALL_EVENTS!r} or some of: {known}", code="invalid_event_types"
            )
        if item not in cleaned:
            cleaned.append(item)
    return [ALL_EVENTS] if ALL_EVENTS in cleaned else cleaned


def render_body(*, event_id: str, event_type: str, version: int, created: str, tenant: Tenant,
                data: dict[str, Any]) -> str:
    """The JSON a receiver gets. ``id`` is the event's id: the same across retries and redeliveries."""
    return json.dumps(
        {"id": event_id, "type": event_type, "version": version, "created": created,
         "tenant": tenant.public_id, "data": data},
        separators=(",", ":"), ensure_ascii=False,
    )


def body_for_event(event: OutboxEvent) -> str:
    return render_body(
        event_id=event.public_id, event_type=event.type, version=event.version,
        created=event.created_at.isoformat(), tenant=event.tenant, data=event.payload,
    )
