"""Wake-ups on the channel layer after a commit.

A group message only says "conversation X changed up to seq S" (or "conversation X was
updated"). Receivers read what they need from the database, so a dropped wake-up costs latency,
never data. Group names always start with the tenant's id.
"""
from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def conversation_group(tenant_id: int, conversation_id: int) -> str:
    return f"t{tenant_id}.cv.{conversation_id}"


def inbox_group(tenant_id: int) -> str:
    """Every agent connection of the tenant listens here for conversation-level changes."""
    return f"t{tenant_id}.inbox"


def presence_group(tenant_id: int) -> str:
    return f"t{tenant_id}.presence"


def publish(group: str, event: dict[str, Any]) -> None:
    """Best-effort send from sync code; failures are logged, never raised (the DB is the record)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the caller
        log.warning("channel layer publish to %s failed", group, exc_info=True)
