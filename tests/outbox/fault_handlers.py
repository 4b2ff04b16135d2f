"""A test-only outbox handler for the fault tests, loaded by workers through
``OUTBOX_EXTRA_HANDLER_MODULES=tests.outbox.fault_handlers``.

Each run is logged in ``outbox_fault_runs``; the effect is a row in ``outbox_fault_effects``
keyed by event id, so a second run cannot apply it twice (the idempotency handlers must have).
An event may ask the first run to signal a marker file and then hang, so a test can kill the
worker in the middle of the handler.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connection, transaction

from push.handlers import outbox_handler
from push.models import OutboxEvent

TABLES = [
    "CREATE TABLE IF NOT EXISTS outbox_fault_runs (id serial PRIMARY KEY, event_id text NOT NULL, pid int NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox_fault_effects (event_id text PRIMARY KEY, pid int NOT NULL)",
]


@outbox_handler("test.fault_effect", events=["test.fault"])
def fault_effect(event: OutboxEvent) -> None:
    with connection.cursor() as cur:
        cur.execute("INSERT INTO outbox_fault_runs (event_id, pid) VALUES (%s, %s)", [event.public_id, os.getpid()])
        cur.execute("SELECT count(*) FROM outbox_fault_runs WHERE event_id = %s", [event.public_id])
        (runs,) = cur.fetchone()
    hold = event.payload.get("hold_seconds", 0)
    if hold and runs == 1:
        Path(event.payload["marker"]).write_text(str(os.getpid()))
        time.sleep(hold)
    elif event.payload.get("work_seconds"):
        time.sleep(event.payload["work_seconds"])
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO outbox_fault_effects (event_id, pid) VALUES (%s, %s) ON CONFLICT (event_id) DO NOTHING",
            [event.public_id, os.getpid()],
        )
