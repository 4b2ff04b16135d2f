"""The outbox dispatcher: claims due deliveries, runs their handlers, records each outcome.

Work units are ``OutboxDelivery`` rows, one per ``(event, handler)``. A service writes only the
event (naming its handlers); each claim first fans out the oldest events not yet taken — one
delivery per handler — in a short transaction of its own, strictly in id order (a worker waits
for another one fanning out the same events, then skips them). A claim moves due rows to
``running`` with a lease in one short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
workers side by side take disjoint rows; SQLite serialises writers with ``BEGIN IMMEDIATE``, so
the same transaction is enough there). Handlers then run outside any transaction. Success marks
the row ``done`` — only if the claim is still ours — so a handler that succeeded never runs again
for that event. A failure retries with capped exponential backoff and jitter, and after the
handler's ``max_attempts`` the row goes ``dead`` until an admin replays it. A worker killed
mid-handler leaves its rows ``running``; once the lease expires another worker claims them again
and the handler runs a second time (which is why handlers are idempotent by event id).

Ordered handlers: a delivery is not claimed while an earlier event (lower id) with the same
``ordering_key`` is pending or running for the same handler — retries included. A dead earlier
delivery no longer blocks: later events go on, and a replayed dead event arrives out of order.
"""
from __future__ import annotations

import logging
import random
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support import log_context
from support.events import metrics
from support.events.handlers import handler_named, ordered_handler_names
from support.events.models import OutboxDelivery, OutboxEvent
from support.row_insert import insert_rows

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
S = OutboxDelivery.Status
ERROR_MAX_CHARS = 8000


@dataclass
class DispatchStats:
    fanned_out: int = 0  # events whose deliveries this run wrote
    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    # True when the run stopped on its time budget with due work left.
    more: bool = False

    def add(self, other: DispatchStats) -> None:
        self.fanned_out += other.fanned_out
        self.claimed += other.claimed
        self.done += other.done
        self.retried += other.retried
        self.dead += other.dead


def retry_delay(attempts: int, *, rng: Callable[[], float] = random.random) -> timedelta:
    """Backoff after the ``attempts``-th failure: base·2^(n-1) capped, then jittered to 50–100 %.

    The jitter spreads retries of a batch that failed together (an endpoint that was down).
    """
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    capped = min(settings.OUTBOX_RETRY_MAX_SECONDS, base * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=capped * (0.5 + 0.5 * rng()))


def fan_out(*, now: datetime, limit: int) -> int:
    """Write the deliveries of up to ``limit`` events that have none yet, oldest first; how many
    events that was. Each is due when its event was written (``now`` for an event stamped later,
    by a node whose clock runs ahead).

    Strictly in id order: the rows are locked without skipping, so a second worker waits for the
    first one's commit and then passes over the events it took. Together with emitters that
    serialise per key (docs/operations.md, "Ordered handlers"), an event's deliveries never exist
    before those of an earlier event of its key, which is what the ordered claim relies on.
    """
    with scopes_disabled(), transaction.atomic():
        fresh = OutboxEvent.objects.filter(fanned_out=False).order_by("id")
        if connection.features.has_select_for_update:
            fresh = fresh.select_for_update()
        events = list(fresh.only("id", "tenant_id", "ordering_key", "created_at", "handlers")[:limit])
        if not events:
            return 0
        insert_rows([
            OutboxDelivery(
                event_id=event.pk, tenant_id=event.tenant_id, handler=name, ordering_key=event.ordering_key,
                next_attempt_at=min(event.created_at, now), created_at=event.created_at,
            )
            for event in events
            for name in event.handlers
        ], returning_pk=False)
        OutboxEvent.objects.filter(id__in=[event.pk for event in events]).update(fanned_out=True)
    return len(events)


def claim(*, now: datetime, limit: int, token: str) -> list[OutboxDelivery]:
    """Take up to ``limit`` due deliveries: mark them running under ``token`` with a fresh lease
    (after fanning out up to ``limit`` new events)."""
    return _claim(now=now, limit=limit, token=token)[1]


def _claim(*, now: datetime, limit: int, token: str) -> tuple[int, list[OutboxDelivery]]:
    fanned = fan_out(now=now, limit=limit)
    lease = timedelta(seconds=settings.OUTBOX_LEASE_SECONDS)
    # The dispatcher serves every tenant: it is platform code, each handler then runs in its
    # event's tenant scope.
    with scopes_disabled(), transaction.atomic():
        ids = _lock_due(_lost(now), limit)
        if len(ids) < limit:
            ids += _lock_due(_due(now), limit - len(ids))
        if not ids:
            return fanned, []
        OutboxDelivery.objects.filter(id__in=ids).update(
            status=S.RUNNING, lease_expires_at=now + lease, claim_token=token, attempts=F("attempts") + 1
        )
        claimed = list(
            OutboxDelivery.objects.filter(id__in=ids).select_related("event", "event__tenant").order_by("event_id")
        )
    return fanned, claimed


def _lost(now: datetime):  # type: ignore[no-untyped-def]
    """Running rows whose worker died or hung past its lease."""
    return OutboxDelivery.objects.filter(status=S.RUNNING, lease_expires_at__lte=now).order_by("lease_expires_at")


def _due(now: datetime):  # type: ignore[no-untyped-def]
    qs = OutboxDelivery.objects.filter(status=S.PENDING, next_attempt_at__lte=now)
    ordered = ordered_handler_names()
    if ordered:
        earlier_in_flight = OutboxDelivery.objects.filter(
            handler=OuterRef("handler"),
            ordering_key=OuterRef("ordering_key"),
            event_id__lt=OuterRef("event_id"),
            status__in=[S.PENDING, S.RUNNING],
        )
        qs = qs.exclude(Q(handler__in=ordered) & ~Q(ordering_key="") & Exists(earlier_in_flight))
    return qs.order_by("next_attempt_at", "id")


def _lock_due(qs, limit: int) -> list[int]:  # type: ignore[no-untyped-def]
    if limit <= 0:
        return []
    if connection.features.has_select_for_update_skip_locked:
        qs = qs.select_for_update(skip_locked=True)
    return list(qs.values_list("id", flat=True)[:limit])


def run_claimed(deliveries: list[OutboxDelivery], *, token: str, clock: Clock) -> DispatchStats:
    """Run the handler of each claimed delivery and record the outcomes."""
    stats = DispatchStats(claimed=len(deliveries))
    lease = settings.OUTBOX_LEASE_SECONDS
    renew_at = clock() + timedelta(seconds=lease / 2)
    done: list[int] = []
    for delivery in deliveries:
        now = clock()
        if now >= renew_at:
            # A slow batch keeps its claim instead of being taken over while it works.
            _renew(token, now + timedelta(seconds=lease))
            renew_at = now + timedelta(seconds=lease / 2)
        log_context.bind(tenant=delivery.event.tenant.public_id)
        handler = handler_named(delivery.handler)
        max_attempts = handler.max_attempts if handler else settings.OUTBOX_DEFAULT_MAX_ATTEMPTS
        if delivery.attempts > max_attempts:
            # Claimed again after lease expiries only: the handler keeps killing or hanging its worker.
            _record_failure(delivery, token=token, now=now, max_attempts=max_attempts, stats=stats,
                            error="Worker lost or lease expired during every attempt (killed, hung or too slow)")
            continue
        if handler is None:
            _record_failure(delivery, token=token, now=now, max_attempts=max_attempts, stats=stats,
                            error=f"No outbox handler named {delivery.handler!r} is registered in this worker")
            continue
        try:
            with scope(tenant=delivery.event.tenant):
                handler.func(delivery.event)
        except Exception as exc:  # noqa: BLE001 - any handler failure is recorded and retried
            error = "".join(traceback.format_exception(exc))[-ERROR_MAX_CHARS:]
            log.warning("Outbox handler %s failed for %s (attempt %s)", delivery.handler,
                        delivery.event.public_id, delivery.attempts, exc_info=True)
            _record_failure(delivery, token=token, now=clock(), max_attempts=max_attempts, stats=stats, error=error)
        else:
            done.append(delivery.id)
    if done:
        _record_done(done, token=token, now=clock())
        stats.done += len(done)
    return stats


def _renew(token: str, until: datetime) -> None:
    with scopes_disabled():
        OutboxDelivery.objects.filter(claim_token=token, status=S.RUNNING).update(lease_expires_at=until)


def _record_done(ids: list[int], *, token: str, now: datetime) -> None:
    with scopes_disabled():
        updated = OutboxDelivery.objects.filter(id__in=ids, claim_token=token, status=S.RUNNING).update(
            status=S.DONE, handled_at=now, lease_expires_at=None, last_error=""
        )
    if updated != len(ids):
        log.warning("Outbox: %s deliveries lost their lease while running; another worker re-ran them",
                    len(ids) - updated)


def _record_failure(
    delivery: OutboxDelivery, *, token: str, now: datetime, max_attempts: int, stats: DispatchStats, error: str
) -> None:
    if delivery.attempts >= max_attempts:
        changes = {"status": S.DEAD, "lease_expires_at": None, "last_error": error, "handled_at": now}
        stats.dead += 1
        metrics.dead_lettered(delivery.handler)
        log.error("Outbox handler %s dead-lettered %s after %s attempts", delivery.handler,
                  delivery.event.public_id, delivery.attempts)
    else:
        changes = {
            "status": S.PENDING,
            "lease_expires_at": None,
            "last_error": error,
            "next_attempt_at": now + retry_delay(delivery.attempts),
        }
        stats.retried += 1
    with scopes_disabled():
        OutboxDelivery.objects.filter(id=delivery.id, claim_token=token, status=S.RUNNING).update(**changes)


def dispatch_once(*, clock: Clock = timezone.now, limit: int | None = None) -> DispatchStats:
    """Claim one batch of due work and run it."""
    token = uuid.uuid4().hex
    fanned, batch = _claim(now=clock(), limit=limit or settings.OUTBOX_BATCH_SIZE, token=token)
    stats = run_claimed(batch, token=token, clock=clock) if batch else DispatchStats()
    stats.fanned_out = fanned
    return stats


def dispatch(*, budget_seconds: float | None = None, clock: Clock = timezone.now) -> DispatchStats:
    """Run batches until no work is due or the time budget is spent (then ``more`` is True)."""
    budget = settings.OUTBOX_TASK_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    deadline = time.monotonic() + budget
    total = DispatchStats()
    while True:
        stats = dispatch_once(clock=clock)
        total.add(stats)
        if stats.claimed == 0 and stats.fanned_out == 0:
            return total
        if time.monotonic() >= deadline:
            total.more = True
            return total


def drain(*, now: datetime | None = None, max_batches: int = 10_000) -> DispatchStats:
    """Run all work due at ``now`` (default: the real clock) until none is left. For tests and tools.

    With a frozen ``now`` a failed delivery is not due again until a later ``now``: call
    ``drain(now=later)`` to step through the backoff.
    """
    clock: Clock = (lambda: now) if now is not None else timezone.now  # noqa: E731
    total = DispatchStats()
    for _ in range(max_batches):
        stats = dispatch_once(clock=clock)
        total.add(stats)
        if stats.claimed == 0 and stats.fanned_out == 0:
            return total
    raise RuntimeError(f"Outbox still had due work after {max_batches} batches")


def replay(deliveries: Iterable[OutboxDelivery], *, now: datetime | None = None) -> int:
    """Queue dead (or waiting) deliveries again with a fresh set of attempts. Returns how many."""
    ids = [d.id for d in deliveries]
    with scopes_disabled(), transaction.atomic():
        count = OutboxDelivery.objects.filter(id__in=ids, status__in=[S.DEAD, S.PENDING]).update(
            status=S.PENDING, attempts=0, next_attempt_at=now or timezone.now(), handled_at=None,
            lease_expires_at=None,
        )
        if count:
            from support.events.outbox import kick_dispatcher

            transaction.on_commit(kick_dispatcher, robust=True)
    return count


def prune(*, now: datetime | None = None, chunk: int = 1000) -> int:
    """Delete old events whose deliveries are all settled. Returns how many events went.

    Handled events go after ``OUTBOX_RETENTION_DAYS``; events with a dead delivery stay for
    ``OUTBOX_DEAD_RETENTION_DAYS`` so an admin can still replay them; pending work never goes (nor
    an event no dispatcher has fanned out yet).
    """
    now = now or timezone.now()
    rules = [
        (now - timedelta(days=settings.OUTBOX_RETENTION_DAYS), [S.PENDING, S.RUNNING, S.DEAD]),
        (now - timedelta(days=settings.OUTBOX_DEAD_RETENTION_DAYS), [S.PENDING, S.RUNNING]),
    ]
    deleted = 0
    # Pruning is platform housekeeping across all tenants.
    with scopes_disabled():
        for cutoff, blocking in rules:
            unsettled = OutboxDelivery.objects.filter(event_id=OuterRef("pk"), status__in=blocking)
            while True:
                ids = list(
                    OutboxEvent.objects.filter(created_at__lt=cutoff, fanned_out=True)
                    .exclude(Exists(unsettled))
                    .values_list("id", flat=True)[:chunk]
                )
                if not ids:
                    break
                with transaction.atomic():
                    OutboxDelivery.objects.filter(event_id__in=ids).delete()
                    deleted += OutboxEvent.objects.filter(id__in=ids).delete()[1].get("events.OutboxEvent", 0)
    return deleted
