"""The domain's Prometheus instruments (exposed by config/observability/metrics.py, docs/operations.md "Metrics").

Only counters bumped where the change commits: cheap enough for the write path.
"""
from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter

MESSAGES_PERSISTED = Counter(
    "switchboard_messages_persisted_total", "Messages committed to the database (every transport, the API, email)."
)


def messages_committed(wakeups: list[tuple[str, dict[str, Any]]]) -> None:
    """A batch of messages committed (called after commit with their wake-ups, one per message):
    count them, and stamp each wake-up with the commit time for the delivery-latency histogram."""
    MESSAGES_PERSISTED.inc(len(wakeups))
    committed_at = time.time()
    for _group, event in wakeups:
        event["at"] = committed_at
