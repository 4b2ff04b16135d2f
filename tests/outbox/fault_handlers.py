"""A test-only outbox handler for the fault tests, loaded by workers through
``OUTBOX_EXTRA_HANDLER_MODULES=tests.outbox.fault_handlers``.

Each run is logged in ``outbox_fault_runs``; the effect is a row in ``outbox_fault_effects``
keyed by event id, so a second run cannot apply it twice (the idempotency handlers must have).
An event may ask the first run to signal a marker file and then hang, so a test can kill the
worker in the middle of the handler. ``test.fault_message_effect`` does the same for every stored
message (the cluster fault test, tests/multiprocess/test_cluster_faults.py).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connection, transaction

from support.events.handlers import outbox_handler
from support.events.models import OutboxEvent

TABLES = [
    "CREATE TABLE IF NOT EXISTS outbox_fault_runs (id serial PRIMARY KEY, event_id text NOT NULL, pid int NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox_fault_effects (event_id text PRIMARY KEY, pid int NOT NULL)",
]


@outbox_handler("test.fault_effect", events=["test.fault"])
def fault_effect(event: OutboxEvent) -> None:
    run_with_effect(event, hold_seconds=event.payload.get("hold_seconds", 0), marker=event.payload.get("marker", ""),
                    work_seconds=event.payload.get("work_seconds", 0))


@outbox_handler("test.fault_message_effect", events=["message.created"])
def message_effect(event: OutboxEvent) -> None:
    """The cluster fault test's: one effect per stored message. While the file named by
    ``OUTBOX_FAULT_HOLD_FILE`` exists, the first run to get there hangs (its pid in ``<file>.held``),
    so the test can SIGKILL that worker in the middle of its batch."""
    hold_file = os.environ.get("OUTBOX_FAULT_HOLD_FILE", "")
    holding = bool(hold_file) and Path(hold_file).exists()
    run_with_effect(event, hold_seconds=120 if holding else 0, marker=f"{hold_file}.held")


def run_with_effect(event: OutboxEvent, *, hold_seconds: float, marker: str, work_seconds: float = 0) -> None:
    """Log the run, maybe hang (the first run of an event, and only the first to create ``marker``),
    then apply the effect once per event."""
    with connection.cursor() as cur:
        cur.execute("INSERT INTO outbox_fault_runs (event_id, pid) VALUES (%s, %s)", [event.public_id, os.getpid()])
        cur.execute("SELECT count(*) FROM outbox_fault_runs WHERE event_id = %s", [event.public_id])
        (runs,) = cur.fetchone()
    if hold_seconds and runs == 1 and _first_to_hold(marker):
        time.sleep(hold_seconds)
    elif work_seconds:
        time.sleep(work_seconds)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "INSERT INTO outbox_fault_effects (event_id, pid) VALUES (%s, %s) ON CONFLICT (event_id) DO NOTHING",
            [event.public_id, os.getpid()],
        )


def _first_to_hold(marker: str) -> bool:
    try:
        with open(marker, "x") as out:  # exclusive: of workers side by side, one holds
            out.write(str(os.getpid()))
    except FileExistsError:
        return False
    return True


def create_tables() -> None:
    with connection.cursor() as cur:
        for sql in TABLES:
            cur.execute(sql)
