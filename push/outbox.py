"""Writing outbox events. Services call ``emit_event`` inside their transaction."""
from __future__ import annotations

from typing import Any

from django.db import transaction

from push.models import OutboxEvent
from support.models import Tenant


def emit_event(*, tenant: Tenant, type: str, payload: dict[str, Any], ordering_key: str = "", version: int = 1) -> OutboxEvent:
    """Record a side effect to perform once the surrounding transaction commits.

    Must be called inside ``transaction.atomic``: a rollback then discards the event too.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("emit_event must be called inside the transaction of the change it describes")
    event = OutboxEvent.objects.with_scope(tenant=tenant).create(
        tenant=tenant, type=type, payload=payload, ordering_key=ordering_key, version=version
    )
    return event
