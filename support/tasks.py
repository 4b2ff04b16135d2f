"""Celery beat tasks of the support app."""
from __future__ import annotations

from celery import shared_task

from support.api.idempotency import purge_expired_keys
from support.services.attachments import purge_unsent_attachments


@shared_task(name="support.purge_idempotency_keys")
def purge_idempotency_keys_task() -> int:
    return purge_expired_keys()


@shared_task(name="support.purge_unsent_attachments", ignore_result=True)
def purge_unsent_attachments_task() -> int:
    return purge_unsent_attachments()
