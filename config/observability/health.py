"""``/healthz``: the process answers (nothing else is touched). ``/readyz``: this node can serve —
PostgreSQL and every Redis it needs answer within a short timeout, and it is not draining — else
503 naming what failed, so a load balancer sends it nothing until it is back.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse

from push import draining

log = logging.getLogger(__name__)

# Each dependency must answer within this (connect and query), or the node is not ready.
CHECK_TIMEOUT_SECONDS = 2


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def readyz(request: HttpRequest) -> JsonResponse:
    checks = dependency_checks()
    with ThreadPoolExecutor(max_workers=len(checks)) as pool:
        results = dict(zip(checks, pool.map(_run, checks.keys(), checks.values()), strict=True))
    if draining.draining:
        results["draining"] = "down"  # a rolling restart: stopping, new work belongs elsewhere
    failed = sorted(name for name, result in results.items() if result != "ok")
    return JsonResponse({"ok": not failed, "checks": results, "failed": failed}, status=503 if failed else 200)


def dependency_checks() -> dict[str, Callable[[], None]]:
    """What this node needs, by a name that shows no address or credential."""
    checks: dict[str, Callable[[], None]] = {"database": check_database}
    if settings.REDIS_URL:
        checks["redis"] = lambda: check_redis(settings.REDIS_URL)
    for n, url in enumerate(settings.REALTIME_BUS_URLS, start=1):
        if url != settings.REDIS_URL:
            checks[f"bus-{n}"] = lambda url=url: check_redis(url)  # type: ignore[misc]
    return checks


def _run(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception:  # noqa: BLE001 - any failure means not ready; the log says why
        log.warning("readiness check %s failed", name, exc_info=True)
        return "down"
    return "ok"


def check_database() -> None:
    """PostgreSQL: a connection of its own (not the pool, whose wait is ``DB_POOL_TIMEOUT``) and ``SELECT 1``."""
    database = settings.DATABASES["default"]
    if not settings.IS_POSTGRES:
        with connections["default"].cursor() as cursor:  # SQLite: the file opens and answers
            cursor.execute("SELECT 1")
        return
    import psycopg

    options: dict[str, Any] = {k: v for k, v in database.get("OPTIONS", {}).items() if k not in ("pool",)}
    params: dict[str, Any] = {
        "dbname": database.get("NAME"), "user": database.get("USER"), "password": database.get("PASSWORD"),
        "host": database.get("HOST"), "port": database.get("PORT"),
    }
    timeout = CHECK_TIMEOUT_SECONDS
    params = {**{k: v for k, v in params.items() if v}, **options, "connect_timeout": timeout,
              "options": f"-c statement_timeout={timeout * 1000}"}
    with psycopg.connect(**params) as conn:
        conn.execute("SELECT 1")


def check_redis(url: str) -> None:
    import redis

    timeout = CHECK_TIMEOUT_SECONDS
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
