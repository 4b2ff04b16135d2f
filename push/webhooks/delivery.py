"""Delivering webhooks: one delivery per (event, endpoint), retried with backoff until it succeeds.

Deliveries of one endpoint that share an ordering key (a conversation) go out in event order: a
delivery waits while an earlier one of the same key is still pending. An attempt is claimed
under a row lock with a short lease (so two workers never send it at once, and a crashed worker's
claim expires), the HTTP request runs outside any transaction, and its outcome is then recorded
with the endpoint's health. An endpoint that keeps failing is disabled and its owners emailed.
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from push import metrics
from push.due_rows import handle_due_rows
from push.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from push.webhooks import ssrf
from push.webhooks.events import PING, body_for_event
from push.webhooks.signing import SIGNATURE_HEADER, signature_header
from support import log_context
from support.events.models import OutboxEvent
from support.models import Tenant

log = logging.getLogger(__name__)

USER_AGENT = "Switchboard-Webhooks/1"
EXCERPT_CHARS = 1000
# How long a claimed attempt is protected from other workers; after that a crashed worker's
# attempt is simply tried again.
LEASE_EXTRA_SECONDS = 60
# Longer waits are left to the beat sweep: a task held for hours would outlive the broker's
# visibility timeout and come back as duplicates.
KICK_MAX_COUNTDOWN_SECONDS = 300


def enqueue_for_event(event: OutboxEvent) -> list[WebhookDelivery]:
    """Create a pending delivery of ``event`` for each active endpoint that wants it (idempotent)."""
    created: list[WebhookDelivery] = []
    now = timezone.now()
    with scope(tenant=event.tenant), transaction.atomic():
        endpoints = WebhookEndpoint.objects.filter(tenant_id=event.tenant_id, is_active=True).order_by("pk")
        wanted = [endpoint for endpoint in endpoints if endpoint.wants(event.type)]
        if not wanted:
            return created
        body = body_for_event(event)
        for endpoint in wanted:
            delivery, made = WebhookDelivery.objects.get_or_create(
                endpoint=endpoint, event_public_id=event.public_id, redelivery_of=None,
                defaults={
                    "tenant_id": event.tenant_id, "event": event, "event_type": event.type,
                    "ordering_key": event.ordering_key, "sequence": event.pk, "request_body": body,
                    "next_attempt_at": now,
                },
            )
            if made:
                created.append(delivery)
        if created:
            transaction.on_commit(kick)
    return created


def kick(countdown: float = 0) -> None:
    """Ask a worker to run due deliveries; best effort (the periodic sweep catches up)."""
    from push.webhooks.tasks import deliver_due_webhooks

    if countdown > KICK_MAX_COUNTDOWN_SECONDS:
        return
    try:
        deliver_due_webhooks.apply_async(countdown=max(0.0, countdown))
    except Exception:  # noqa: BLE001 - a lost kick only delays delivery until the next sweep
        log.warning("could not queue webhook delivery", exc_info=True)


def deliver_due(*, now: datetime | None = None, limit: int = 200) -> int:
    """Attempt every due delivery (oldest events first); returns how many attempts were made."""
    now = now or timezone.now()
    # The sweeper serves every tenant; each delivery is then handled inside its own tenant scope.
    with scopes_disabled():
        due = list(
            WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("sequence", "pk")
            .values_list("pk", "tenant_id")[:limit]
        )
    # A delivery gone meanwhile went with its endpoint (and its log).
    return handle_due_rows(due, lambda pk, tenant: attempt_delivery(delivery_id=pk, tenant=tenant, now=now),
                           what="webhook delivery", gone=(WebhookDelivery.DoesNotExist,))


def attempt_delivery(*, delivery_id: int, tenant: Tenant, now: datetime | None = None) -> WebhookDelivery | None:
    """Claim, send and record one attempt. None if it is not due, is claimed elsewhere or must wait."""
    now = now or timezone.now()
    log_context.bind(tenant=tenant.public_id)
    with scope(tenant=tenant):
        delivery = _claim(delivery_id, now)
        if delivery is None:
            return None
        outcome = _send(delivery)
        metrics.webhook_attempted(response_code=outcome.response_code)
        return _record(delivery, outcome, now)


def _claim(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=settings.IS_POSTGRES)
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return None
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        if not endpoint.is_active and delivery.event_type != PING:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            delivery.last_error = "Endpoint is disabled"
            delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
            return None
        if _waits_for_earlier(delivery):
            return None
        delivery.next_attempt_at = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_EXTRA_SECONDS)
        delivery.save(update_fields=["next_attempt_at"])
        delivery.endpoint = endpoint
        return delivery


def _waits_for_earlier(delivery: WebhookDelivery) -> bool:
    # Redeliveries are explicit requests by a person and go out at once, outside the order.
    if delivery.redelivery_of_id is not None or not delivery.ordering_key:
        return False
    return WebhookDelivery.objects.filter(
        endpoint_id=delivery.endpoint_id, ordering_key=delivery.ordering_key, redelivery_of__isnull=True,
        status=WebhookDelivery.Status.PENDING, sequence__lt=delivery.sequence,
    ).exists()


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    headers: dict[str, str]
    response_code: int | None
    response_excerpt: str
    error: str

    @property
    def ok(self) -> bool:
        return self.response_code is not None and 200 <= self.response_code < 300


def _send(delivery: WebhookDelivery) -> Outcome:
    import httpx  # on use, as in ssrf.request: web nodes do not carry it from their start

    endpoint = delivery.endpoint
    body = delivery.request_body.encode()
    # The signature carries the wall-clock time of this very attempt, so receivers can refuse replays.
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Switchboard-Event": delivery.event_type,
        "X-Switchboard-Event-Id": delivery.event_public_id,
        "X-Switchboard-Delivery": delivery.public_id,
        "X-Switchboard-Attempt": str(delivery.attempts + 1),
        "X-Switchboard-Timestamp": str(timestamp),
        SIGNATURE_HEADER: signature_header(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    started_at = timezone.now()
    clock = time.monotonic()
    code: int | None = None
    excerpt = ""
    error = ""
    try:
        answer = ssrf.request(
            "POST", endpoint.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS,
            headers=headers, content=body, timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        )
        code, excerpt = answer.status_code, answer.body[:EXCERPT_CHARS]
        if not 200 <= code < 300:
            error = f"HTTP {code} {answer.reason}".strip()
    except ssrf.UnsafeTarget as exc:
        error = exc.detail
    except httpx.TimeoutException:
        error = f"Timed out after {settings.WEBHOOK_TIMEOUT_SECONDS} s"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    duration_ms = int((time.monotonic() - clock) * 1000)
    # The secret never appears in logs: only the signature derived from it.
    return Outcome(started_at, duration_ms, headers, code, excerpt, error[:300])


def retry_delay(attempt: int) -> timedelta:
    """Capped exponential backoff with ±20 % jitter (so failing endpoints don't get herds)."""
    base = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
    seconds = min(settings.WEBHOOK_RETRY_CAP_SECONDS, base) * random.uniform(0.8, 1.2)
    return timedelta(seconds=seconds)


def _record(claimed: WebhookDelivery, outcome: Outcome, now: datetime) -> WebhookDelivery:
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().get(pk=claimed.pk)
        number = delivery.attempts + 1
        WebhookAttempt.objects.create(
            tenant_id=delivery.tenant_id, delivery=delivery, number=number, started_at=outcome.started_at,
            duration_ms=outcome.duration_ms, request_headers=outcome.headers,
            response_code=outcome.response_code, response_excerpt=outcome.response_excerpt, error=outcome.error,
        )
        delivery.attempts = number
        delivery.last_response_code = outcome.response_code
        delivery.last_duration_ms = outcome.duration_ms
        delivery.last_error = outcome.error
        delivery.request_headers = outcome.headers
        delivery.response_excerpt = outcome.response_excerpt
        is_ping = delivery.event_type == PING
        retry_in: timedelta | None = None
        if outcome.ok:
            delivery.status = WebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
        elif is_ping or number >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            retry_in = retry_delay(number)
            delivery.next_attempt_at = now + retry_in
        delivery.save()
        if not is_ping:
            _update_health(delivery.endpoint_id, ok=outcome.ok, now=now)
        if retry_in is not None:
            transaction.on_commit(lambda: kick(retry_in.total_seconds()))
        elif delivery.ordering_key:
            # Later deliveries of this conversation may have been waiting for this one.
            transaction.on_commit(kick)
    return delivery


def _update_health(endpoint_id: int, *, ok: bool, now: datetime) -> None:
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if ok:
        if endpoint.failing_since is not None or endpoint.consecutive_failures:
            endpoint.failing_since = None
            endpoint.consecutive_failures = 0
            endpoint.save(update_fields=["failing_since", "consecutive_failures"])
        return
    endpoint.failing_since = endpoint.failing_since or now
    endpoint.consecutive_failures += 1
    endpoint.save(update_fields=["failing_since", "consecutive_failures"])
    failing_for = now - endpoint.failing_since
    if (
        endpoint.is_active
        and failing_for >= timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
        and endpoint.consecutive_failures >= settings.WEBHOOK_DISABLE_MIN_FAILURES
    ):
        disable_endpoint(endpoint=endpoint, now=now)


def disable_endpoint(*, endpoint: WebhookEndpoint, now: datetime) -> None:
    """Turn a failing endpoint off, give up its pending deliveries, and tell its owners (once)."""
    hours = int((now - (endpoint.failing_since or now)).total_seconds() // 3600)
    endpoint.is_active = False
    endpoint.disabled_reason = (
        f"Disabled automatically on {now:%Y-%m-%d %H:%M} UTC after {endpoint.consecutive_failures} failed "
        f"attempts over {hours} hours"
    )
    endpoint.updated_at = now
    endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    WebhookDelivery.objects.filter(endpoint=endpoint, status=WebhookDelivery.Status.PENDING).exclude(
        event_type=PING
    ).update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None, last_error="Endpoint was disabled")
    endpoint_pk, tenant = endpoint.pk, endpoint.tenant

    def notify() -> None:
        from push.webhooks.notices import email_endpoint_disabled

        email_endpoint_disabled(tenant=tenant, endpoint_id=endpoint_pk)

    transaction.on_commit(notify)


def prune_log(*, now: datetime | None = None) -> int:
    """Delete finished deliveries (and their attempts) older than ``WEBHOOK_LOG_RETENTION_DAYS``."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    # Platform housekeeping: the same rule for every tenant.
    with scopes_disabled():
        deleted, _ = (
            WebhookDelivery.objects.filter(created_at__lt=cutoff)
            .exclude(status=WebhookDelivery.Status.PENDING).delete()
        )
    return deleted
