"""The benchmark's outbox handler: one small database write per event, like a real handler.

Runs are logged without a unique key so a second run of one event shows up as a duplicate.
"""
from __future__ import annotations

import os

from django.db import connection

from support.events.handlers import outbox_handler
from support.events.models import OutboxEvent

TABLE = "CREATE TABLE IF NOT EXISTS outbox_bench_runs (event_id bigint NOT NULL, pid int NOT NULL)"


@outbox_handler("bench.record", events=["bench.record"])
def record(event: OutboxEvent) -> None:
    with connection.cursor() as cur:
        cur.execute("INSERT INTO outbox_bench_runs (event_id, pid) VALUES (%s, %s)", [event.pk, os.getpid()])


@outbox_handler("bench.noop", events=["bench.noop"])
def noop(event: OutboxEvent) -> None:
    """Measures the dispatcher itself: claim, scope, record."""
