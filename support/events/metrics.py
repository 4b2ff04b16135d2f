"""The outbox's Prometheus instruments (its backlog and dead letters in the database are read at
scrape time: config/observability/metrics.py). docs/operations.md, "Metrics", lists every series."""
from __future__ import annotations

from prometheus_client import Counter

DEAD_LETTERED = Counter(
    "switchboard_outbox_dead_lettered_total", "Outbox deliveries that went dead, by handler.", ["handler"]
)


def dead_lettered(handler: str) -> None:
    DEAD_LETTERED.labels(handler).inc()
