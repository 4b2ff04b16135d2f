"""Drives the fault tests' separate database from a subprocess (its own settings and env).

    python -m tests.outbox.fault_driver setup         # migrations (into a temp package), tables, tenant
    python -m tests.outbox.fault_driver emit COUNT [--hold SECONDS --marker PATH] [--work SECONDS]
    python -m tests.outbox.fault_driver status        # prints one JSON line
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.outbox.fault_settings")
django.setup()

from django.db import connection, transaction  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from support.events.models import OutboxDelivery, OutboxEvent  # noqa: E402
from support.events.outbox import emit_event  # noqa: E402
from support.models import Tenant  # noqa: E402
from tests.outbox import fault_handlers  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("setup")
    emit = sub.add_parser("emit")
    emit.add_argument("count", type=int)
    emit.add_argument("--hold", type=float, default=0)
    emit.add_argument("--marker", default="")
    emit.add_argument("--work", type=float, default=0)
    sub.add_parser("status")
    args = parser.parse_args()
    if args.cmd == "setup":
        # One process for the whole setup: each Django start costs seconds on a loaded machine.
        from django.core.management import call_command

        call_command("makemigrations", "support", "events", "push", "billing", "frontend", verbosity=0)
        importlib.invalidate_caches()
        call_command("migrate", interactive=False, verbosity=0)
        fault_handlers.create_tables()
        Tenant.objects.get_or_create(slug="fault", defaults={"name": "Fault"})
        print("ok")
    elif args.cmd == "emit":
        tenant = Tenant.objects.get(slug="fault")
        started = time.monotonic()
        for _ in range(args.count):
            payload = {"hold_seconds": args.hold, "marker": args.marker, "work_seconds": args.work}
            # One transaction each, like requests: each commit kicks the dispatcher.
            with transaction.atomic():
                emit_event(tenant=tenant, type="test.fault", payload=payload)
        print(json.dumps({"emitted": args.count, "seconds": round(time.monotonic() - started, 3)}))
    else:
        with scopes_disabled():
            statuses = {s: OutboxDelivery.objects.filter(status=s).count() for s in OutboxDelivery.Status.values}
            # Events no dispatcher has taken yet have no delivery rows: their handlers wait too.
            statuses["pending"] += sum(
                len(names) for names in OutboxEvent.objects.filter(fanned_out=False).values_list("handlers", flat=True)
            )
        with connection.cursor() as cur:
            cur.execute("SELECT count(*), count(DISTINCT event_id) FROM outbox_fault_effects")
            effects, distinct_effects = cur.fetchone()
            cur.execute("SELECT count(*), count(DISTINCT event_id) FROM outbox_fault_runs")
            runs, distinct_runs = cur.fetchone()
        print(json.dumps({**statuses, "effects": effects, "distinct_effects": distinct_effects,
                          "runs": runs, "distinct_runs": distinct_runs}))


if __name__ == "__main__":
    main()
