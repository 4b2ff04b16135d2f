"""The database pool's usage for /metrics (config/observability/metrics.py), sampled by a thread in
each process: web workers (`manage.py serve`) and Celery prefork children (config/celery.py).

A module of its own, apart from the exposition: what starts the sampler needs none of what a
scrape reads (the domain's and push's tables, the broker).
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connections
from prometheus_client import Gauge

log = logging.getLogger(__name__)

POOL_SAMPLE_SECONDS = 5.0

DB_POOL_CONNECTIONS = Gauge(
    "switchboard_db_pool_connections",
    "PostgreSQL pool connections of the live processes: in_use, idle, max (the pools' size limit).",
    ["state"], multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "switchboard_db_pool_waiting_requests", "Requests waiting for a pooled connection.", multiprocess_mode="livesum"
)
POOL_STATES = ("in_use", "idle", "max")
_pool = {state: DB_POOL_CONNECTIONS.labels(state) for state in POOL_STATES}  # every series exists from the start

_lock = threading.Lock()


def sample_pool(pool: Any) -> None:
    """Record one psycopg pool's usage (``get_stats()``) as this process's."""
    stats = pool.get_stats()
    size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
    _pool["in_use"].set(max(0, size - idle))
    _pool["idle"].set(idle)
    _pool["max"].set(stats.get("pool_max", 0))
    DB_POOL_WAITING.set(stats.get("requests_waiting", 0))


_sampler: threading.Thread | None = None


def start_pool_sampler() -> None:
    """Sample this process's PostgreSQL pool every few seconds (web workers, Celery prefork children).

    A thread, not a scrape-time read: in multiprocess mode the scrape runs in one process and
    cannot see the others' pools. Nothing to do without a pool (SQLite, ``DB_POOL_MAX_SIZE=0``).
    """
    global _sampler
    if not settings.DATABASES["default"].get("OPTIONS", {}).get("pool"):
        return
    with _lock:
        if _sampler is not None and _sampler.is_alive():
            return
        _sampler = threading.Thread(target=_sample_forever, name="metrics-pool-sampler", daemon=True)
        _sampler.start()


def _sample_forever() -> None:
    stop = threading.Event()
    while not stop.wait(POOL_SAMPLE_SECONDS):
        try:
            sample_pool(connections["default"].pool)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - a metrics thread must never take the process down
            log.warning("sampling the database pool failed", exc_info=True)
