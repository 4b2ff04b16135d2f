"""``GET /metrics``: the Prometheus text exposition of this host's processes.

Counters and per-process gauges are bumped where things happen (push/metrics.py, support/metrics.py)
and the database pool is sampled by a thread in each process (config/observability/db_pool.py). With
``PROMETHEUS_MULTIPROC_DIR`` set, every process writes its samples there (prometheus_client's
multiprocess mode) and a scrape of any web worker sums the host's web workers and Celery processes;
unset, a process exposes its own (the embedded default is one process). State kept in the database
or the broker — the outbox backlog and its oldest undispatched delivery, dead letters, failing
webhook endpoints, the Celery queue — is read at scrape time by ``StateCollector``, with short
timeouts. Only a bearer ``METRICS_TOKEN`` or an address in ``METRICS_ALLOWED_IPS`` may read it.
"""
from __future__ import annotations

import glob
import hmac
import logging
import os
import re
import threading
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, Func, IntegerField, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_scopes import scopes_disabled
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from config.observability import db_pool  # noqa: F401 - the pool's series exist from the start
from support.client_address import client_address

log = logging.getLogger(__name__)

# Only the series themselves: no "_created" timestamp beside every counter and histogram.
disable_created_metrics()

# A scrape must not hang on a slow database or broker: each source answers within this or is reported down.
SOURCE_TIMEOUT_SECONDS = 2


# --- the view -------------------------------------------------------------------------------------
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not scraper_allowed(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def scraper_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return True
    address = client_address(request.META.get("REMOTE_ADDR"))
    if address is None:
        return False
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


_lock = threading.Lock()
_registries: dict[str, CollectorRegistry] = {}


def registry() -> CollectorRegistry:
    """What a scrape reads: this host's multiprocess files, or this process's own registry."""
    path = settings.PROMETHEUS_MULTIPROC_DIR
    with _lock:
        built = _registries.get(path)
        if built is None:
            if path:
                built = CollectorRegistry()
                multiprocess.MultiProcessCollector(built, path=path)
            else:
                built = REGISTRY
            built.register(StateCollector())
            _registries[path] = built
    if path:
        forget_dead_processes(path)
    return built


_LIVE_FILE = re.compile(r"gauge_live\w*?_(\d+)\.db$")


def forget_dead_processes(path: str) -> None:
    """Drop the live-summed gauges of processes that are gone (killed, restarted, a prefork child
    replaced): otherwise a dead worker's open sockets would be counted for ever. Counters stay."""
    for name in glob.glob(os.path.join(path, "gauge_live*.db")):
        match = _LIVE_FILE.search(name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, path)
        except PermissionError:
            pass  # alive, someone else's


# --- state read at scrape time ---------------------------------------------------------------------
class StateCollector(Collector):
    """Gauges of what the database and the broker hold now; ``switchboard_metrics_source_up`` says
    whether each source answered (a source that did not leaves its gauges out of this scrape)."""

    def describe(self) -> list[Metric]:
        return []  # registering must not query the database (the default registry would collect once)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("switchboard_metrics_source_up", "Whether a scrape-time source answered.",
                               labels=["source"])
        for source, read in (("database", database_state), ("broker", broker_state)):
            try:
                metrics = list(read())
            except Exception:  # noqa: BLE001 - a scrape reports the source down instead of failing
                log.warning("metrics: reading the %s failed", source, exc_info=True)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from metrics
        yield up


def database_state() -> Iterator[Metric]:
    from push.models_webhooks import WebhookEndpoint
    from support.events.models import OutboxDelivery, OutboxEvent

    pending = Q(status__in=[OutboxDelivery.Status.PENDING, OutboxDelivery.Status.RUNNING])
    dead = Q(status=OutboxDelivery.Status.DEAD)
    with scopes_disabled(), transaction.atomic():
        if settings.IS_POSTGRES:
            with connections["default"].cursor() as cursor:
                cursor.execute("SET LOCAL statement_timeout = %s", [f"{SOURCE_TIMEOUT_SECONDS}s"])
        outbox = OutboxDelivery.objects.aggregate(
            backlog=Count("pk", filter=pending), oldest=Min("created_at", filter=pending),
            dead=Count("pk", filter=dead),
        )
        # Events no dispatcher has taken yet have no delivery rows: their handlers wait too.
        length = "jsonb_array_length" if settings.IS_POSTGRES else "json_array_length"
        fresh = OutboxEvent.objects.filter(fanned_out=False).aggregate(
            backlog=Sum(Func("handlers", function=length, output_field=IntegerField())), oldest=Min("created_at"),
        )
        failing = WebhookEndpoint.objects.filter(failing_since__isnull=False).aggregate(
            endpoints=Count("pk"), tenants=Count("tenant", distinct=True),
        )
    oldest = min((t for t in (outbox["oldest"], fresh["oldest"]) if t is not None), default=None)
    age = (timezone.now() - oldest) if oldest else timedelta(0)
    yield GaugeMetricFamily("switchboard_outbox_backlog",
                            "Outbox deliveries not yet handled (pending, running, or not yet written by a dispatcher).",
                            value=outbox["backlog"] + (fresh["backlog"] or 0))
    yield GaugeMetricFamily("switchboard_outbox_oldest_undispatched_seconds",
                            "Age of the oldest outbox delivery not yet handled (0 when none).",
                            value=max(0.0, age.total_seconds()))
    yield GaugeMetricFamily("switchboard_outbox_dead_letters", "Dead outbox deliveries waiting for a replay.",
                            value=outbox["dead"])
    yield GaugeMetricFamily("switchboard_webhook_failing_endpoints",
                            "Webhook endpoints whose latest attempts failed (failing since some time).",
                            value=failing["endpoints"])
    yield GaugeMetricFamily("switchboard_webhook_failing_tenants",
                            "Tenants with at least one failing webhook endpoint (which ones: the admin's webhook log).",
                            value=failing["tenants"])


def broker_state() -> Iterator[Metric]:
    from kombu.exceptions import ChannelError

    from config.celery import app

    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    depth = GaugeMetricFamily("switchboard_celery_queue_depth", "Task messages waiting in the broker's queue.",
                              labels=["queue"])
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=SOURCE_TIMEOUT_SECONDS)
        try:
            _name, count, _consumers = conn.default_channel.queue_declare(queue=queue, passive=True)
        except ChannelError:
            count = 0  # never declared, or (Redis) empty: its list does not exist
    depth.add_metric([queue], count)
    yield depth
