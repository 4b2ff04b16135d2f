"""Celery tasks of offline notifications: sending due visitor digests (kicked with a countdown, swept by beat)."""
from __future__ import annotations

from celery import shared_task

from push.notifications.visitor_digest import send_due


@shared_task(name="push.notifications.send_due_digests", acks_late=True, ignore_result=True)
def send_due_digests() -> int:
    return send_due()
