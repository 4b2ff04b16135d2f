"""Celery tasks of the outbox. They carry no data: the database is the queue, a task is a wake-up.

Losing a task message (broker restart, worker killed before ack) therefore loses nothing: the
beat sweep runs the same dispatch every few seconds.
"""
from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from support.events import dispatcher, receipts
from support.events.outbox import KICK_PENDING_KEY

log = logging.getLogger(__name__)


@shared_task(name="events.dispatch_outbox", ignore_result=True)
def dispatch_outbox() -> dict[str, int]:
    """Dispatch due outbox work for a bounded time; queue a follow-up if work is left."""
    try:
        # From here on a new commit must send a new kick: this run may already be past its rows.
        cache.delete(KICK_PENDING_KEY)
    except Exception:  # noqa: BLE001 - the flag only saves tasks; dispatching matters more
        log.warning("Outbox: could not clear the kick flag", exc_info=True)
    stats = dispatcher.dispatch_once()
    if stats.claimed >= settings.OUTBOX_BATCH_SIZE:
        # A full batch means a backlog: queue a second run now so an idle worker takes a share.
        _requeue()
    if stats.claimed or stats.fanned_out:
        rest = dispatcher.dispatch()
        stats.add(rest)
        if rest.more:
            _requeue()
    return {"claimed": stats.claimed, "done": stats.done, "retried": stats.retried, "dead": stats.dead}


def _requeue() -> None:
    try:
        dispatch_outbox.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - the sweep takes over if the broker is gone
        log.warning("Outbox: could not queue a follow-up dispatch", exc_info=True)


@shared_task(name="events.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    """Beat's periodic run: catches events whose kick was lost and retries that came due."""
    return dispatch_outbox.run()


@shared_task(name="events.prune_outbox", ignore_result=True)
def prune_outbox() -> int:
    deleted = dispatcher.prune()
    log.info("Outbox: pruned %s old events", deleted)
    return deleted


@shared_task(name="events.prune_receipts", ignore_result=True)
def prune_receipts() -> int:
    return receipts.prune()
