"""Outbox benchmark: events/s dispatched and lag from commit to handled, with real Celery workers.

  .venv/bin/python bench/outbox/run.py                       # 1 then 2 workers, 1,000 events/s for 10 s
  .venv/bin/python bench/outbox/run.py --rate 2000 --duration 5 --workers 2
  .venv/bin/python bench/outbox/run.py --rate 0 --events 20000  # backlog: as fast as the workers drain

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL); it creates and drops its own database
(``sb_outbox_bench``) and uses its own Redis key prefix. A producer thread here commits events
(``--per-tx`` per transaction, like requests) at ``--rate``; ``celery -A config worker --pool
solo`` processes (the first with ``-B`` for beat) dispatch them to a handler that writes one row
per run. Lag is handled_at (worker) − commit time (here), same machine clock. The last line
printed is ``key=value`` pairs for scripts. Options and figures: docs/performance.md, "Outbox".
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.percentiles import percentile  # noqa: E402
from bench.scratch_schema import NoMigrations, create_scratch_database, drop_scratch_database  # noqa: E402

DB_NAME = "sb_outbox_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run, in turn")
    parser.add_argument("--rate", type=float, default=1000, help="events/s to commit; 0 = emit a backlog first")
    parser.add_argument("--duration", type=float, default=10, help="seconds of producing at --rate")
    parser.add_argument("--events", type=int, default=10_000, help="backlog size when --rate 0")
    parser.add_argument("--per-tx", type=int, default=10, help="events committed per transaction")
    parser.add_argument("--producers", type=int, default=2, help="producer threads (own DB connection each)")
    parser.add_argument("--handler", choices=["record", "noop"], default="record",
                        help="record: one INSERT per run (dup check by row); noop: the dispatcher's own cost")
    parser.add_argument("--batch", type=int, default=100, help="OUTBOX_BATCH_SIZE of the workers")
    args = parser.parse_args()

    db_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not db_url.startswith(("postgres://", "postgresql://")) or not redis_url:
        sys.exit("bench/outbox needs DATABASE_URL=postgres://… and REDIS_URL=redis://…")
    scratch_url = create_scratch_database(db_url, DB_NAME)
    os.environ.update(
        DATABASE_URL=scratch_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        REDIS_PREFIX=f"sb_outbox_bench{os.getpid()}",
        OUTBOX_EXTRA_HANDLER_MODULES="bench.outbox.handlers",
        OUTBOX_BATCH_SIZE=str(args.batch),
        PYTHONPATH=str(ROOT),
    )
    os.environ.pop("TEST_DATABASE_NAME", None)
    import django
    from django.conf import settings

    settings.MIGRATION_MODULES = NoMigrations()
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from bench.outbox.handlers import TABLE

    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)
    with connection.cursor() as cur:
        cur.execute(TABLE)
    results = []
    try:
        for workers in args.workers:
            results.append(run_once(args, workers))
    finally:
        connection.close()
        drop_scratch_database(db_url, DB_NAME)
    pairs = {}
    for r in results:
        w = r["workers"]
        print(f"workers={w}: {r['events']} events committed at {r['produced_per_s']:.0f}/s, "
              f"{r['events_per_s']:.0f} events/s dispatched, "
              f"lag p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms, "
              f"duplicates {r['dup']}, re-claimed {r['reclaimed']}, lost {r['lost']}")
        pairs |= {f"w{w}_events_per_s": f"{r['events_per_s']:.0f}", f"w{w}_p50_ms": f"{r['p50_ms']:.1f}",
                  f"w{w}_p99_ms": f"{r['p99_ms']:.1f}"}
    pairs |= {"dup": sum(r["dup"] + r["reclaimed"] for r in results), "lost": sum(r["lost"] for r in results),
              "rate": args.rate, "per_tx": args.per_tx}
    print(" ".join(f"{k}={v}" for k, v in pairs.items()))


def run_once(args: argparse.Namespace, workers: int) -> dict:
    from django.db import connection
    from django_scopes import scopes_disabled

    from support.models import Tenant

    with connection.cursor() as cur:
        cur.execute("TRUNCATE push_outboxdelivery, push_outboxevent, outbox_bench_runs CASCADE")
    with scopes_disabled():
        tenant, _ = Tenant.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    commits: dict[int, float] = {}
    total = int(args.rate * args.duration) if args.rate > 0 else args.events
    procs: list[subprocess.Popen] = []
    try:
        if args.rate > 0:
            procs = start_workers(workers)
        produce_started = time.time()
        threads = [
            threading.Thread(target=produce, args=(args, tenant, total, i, commits)) for i in range(args.producers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        produced = time.time() - produce_started
        if args.rate <= 0:
            procs = start_workers(workers)
        deadline = time.time() + 120 + total / 200
        while time.time() < deadline:
            with connection.cursor() as cur:
                # Work left: deliveries not done, and events no dispatcher has fanned out yet.
                cur.execute("SELECT (SELECT count(*) FROM push_outboxdelivery WHERE status <> 'done')"
                            " + (SELECT count(*) FROM push_outboxevent WHERE NOT fanned_out)")
                if cur.fetchone()[0] == 0:
                    break
            time.sleep(0.2)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
    with connection.cursor() as cur:
        cur.execute("SELECT event_id, extract(epoch FROM handled_at) FROM push_outboxdelivery WHERE status = 'done'")
        handled = dict(cur.fetchall())
        cur.execute("SELECT count(*) - count(DISTINCT event_id) FROM outbox_bench_runs")
        dup = cur.fetchone()[0]
        # A delivery claimed twice (lease lost) would show here even with the no-op handler.
        cur.execute("SELECT count(*) FROM push_outboxdelivery WHERE attempts > 1")
        reclaimed = cur.fetchone()[0]
    lags = [(float(handled[pk]) - at) * 1000 for pk, at in commits.items() if pk in handled]
    times = sorted(float(v) for v in handled.values()) or [time.time()]
    # Steady mode: from the first commit. Backlog mode: from the first event handled (worker boot
    # time is not dispatch time).
    start = min(commits.values()) if args.rate > 0 else times[0]
    return {
        "workers": workers,
        "events": len(commits),
        "events_per_s": len(handled) / max(times[-1] - start, 1e-9),
        "produced_per_s": len(commits) / max(produced, 1e-9),
        "p50_ms": statistics.median(lags) if lags else float("nan"),
        "p99_ms": percentile(lags, 99),
        "max_ms": max(lags) if lags else float("nan"),
        "dup": dup,
        "reclaimed": reclaimed,
        "lost": len(commits) - len(handled),
    }


def produce(args: argparse.Namespace, tenant, total: int, index: int, commits: dict[int, float]) -> None:
    """One producer thread: commits its share of the events, ``--per-tx`` per transaction, on schedule."""
    from django.db import connection, transaction

    from support.events import outbox

    share = range(index, total, args.producers)
    rate = args.rate / args.producers if args.rate > 0 else 0
    started = time.time()
    done = 0
    try:
        while done < len(share):
            if rate:
                # Open loop: keep to the schedule, never wait for the workers.
                delay = started + done / rate - time.time()
                if delay > 0:
                    time.sleep(delay)
            n = min(args.per_tx, len(share) - done)
            with transaction.atomic():
                pks = [
                    outbox.emit_event(tenant=tenant, type=f"bench.{args.handler}", payload={"n": share[done + i]},
                                      ordering_key=f"cv_{share[done + i] % 500}").pk
                    for i in range(n)
                ]
            now = time.time()
            for pk in pks:
                commits[pk] = now
            done += n
    finally:
        connection.close()


def start_workers(count: int) -> list[subprocess.Popen]:
    logdir = Path(tempfile.mkdtemp(prefix="outbox_bench_"))
    procs = []
    for i in range(count):
        cmd = [str(Path(sys.executable).with_name("celery")), "-A", "config", "worker", "--pool", "solo",
               "-n", f"bench{i}@%h", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"]
        if i == 0:
            cmd += ["-B", "-s", str(logdir / "beat-schedule")]
        log = (logdir / f"worker{i}.log").open("w")
        procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    # Wait until every worker consumes: a kick must not sit in the queue while they boot.
    deadline = time.time() + 90
    from config.celery import app

    while time.time() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if len(replies) >= count:
            break
    else:
        sys.exit(f"workers did not start; logs in {logdir}")
    return procs


if __name__ == "__main__":
    main()
