"""Celery tasks of webhook delivery: kicked after commits and retries, and swept periodically by beat."""
from __future__ import annotations

from celery import shared_task

from push.webhooks.delivery import deliver_due, prune_log


@shared_task(name="push.webhooks.deliver_due", acks_late=True, ignore_result=True)
def deliver_due_webhooks() -> int:
    return deliver_due()


@shared_task(name="push.webhooks.prune_log", ignore_result=True)
def prune_webhook_log() -> int:
    return prune_log()
