"""The realtime and delivery Prometheus instruments, and the one-line hooks the hot paths call.

Each hook is a counter or gauge step on a child bound at import (no label look-up per call).
Gauges of per-process state sum over the live processes (``livesum``) in multiprocess mode.
State that lives in the database or the broker (outbox backlog, dead letters, queue depth) is read
at scrape time instead (config/observability/metrics.py). Exposed on ``/metrics``;
docs/operations.md, "Metrics", lists every series.
"""
from __future__ import annotations

import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

KINDS = ("visitor", "agent")
TRANSPORTS = ("ws", "longpoll")

OPEN_SOCKETS = Gauge(
    "switchboard_open_sockets", "WebSockets past their hello, by kind.", ["kind"], multiprocess_mode="livesum"
)
WAITING_POLLS = Gauge(
    "switchboard_waiting_longpolls", "Long-polls waiting for a wake-up, by kind.", ["kind"],
    multiprocess_mode="livesum",
)
FRAMES_RECEIVED = Counter("switchboard_frames_received_total", "Client frames received, by transport.", ["transport"])
FRAMES_SENT = Counter("switchboard_frames_sent_total", "Frames sent to clients, by transport.", ["transport"])
COMMIT_TO_DELIVERY = Histogram(
    "switchboard_commit_to_delivery_seconds",
    "From a message's commit to its wake-up reaching a serving process that has listeners for it.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
PUBLISH_FAILURES = Counter(
    "switchboard_bus_publish_failures_total", "Wake-ups the bus (the channel layer: Redis pub/sub) failed to publish."
)
WEBHOOK_ATTEMPTS = Counter(
    "switchboard_webhook_attempts_total",
    "Webhook delivery attempts by result: ok, http_error (a non-2xx answer), error (timeout, refused, unsafe target).",
    ["result"],
)

_sockets = {kind: OPEN_SOCKETS.labels(kind) for kind in KINDS}
_polls = {kind: WAITING_POLLS.labels(kind) for kind in KINDS}
_received = {transport: FRAMES_RECEIVED.labels(transport) for transport in TRANSPORTS}
_sent = {transport: FRAMES_SENT.labels(transport) for transport in TRANSPORTS}
_webhooks = {result: WEBHOOK_ATTEMPTS.labels(result) for result in ("ok", "http_error", "error")}


def socket_opened(kind: str) -> None:
    _sockets[kind].inc()


def poll_waiting(kind: str, delta: int) -> None:
    """+1 when a long-poll starts waiting on the hub, -1 when it stops."""
    _polls[kind].inc(delta)


def frames_received(transport: str, count: int = 1) -> None:
    if count:
        _received[transport].inc(count)


def frames_sent(transport: str, count: int) -> None:
    if count:
        _sent[transport].inc(count)


def wakeup_arrived(event: dict[str, Any]) -> None:
    """A wake-up reached this process's hub: a message's carries its commit time (support.metrics)."""
    committed_at = event.get("at")
    if type(committed_at) is float:
        COMMIT_TO_DELIVERY.observe(max(0.0, time.time() - committed_at))


def publish_failed(count: int = 1) -> None:
    PUBLISH_FAILURES.inc(count)


def webhook_attempted(*, response_code: int | None) -> None:
    if response_code is None:
        result = "error"
    elif 200 <= response_code < 300:
        result = "ok"
    else:
        result = "http_error"
    _webhooks[result].inc()


def socket_ended(session: Any) -> None:
    """A socket's handler returned (closed, refused or cancelled): it counted if it had a session."""
    if session is not None:
        _sockets[session.kind].dec()
