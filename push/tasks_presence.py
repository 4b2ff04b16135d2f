"""Celery tasks of presence: the periodic sweep that expires connections of crashed nodes."""
from __future__ import annotations

from celery import shared_task

from push import presence


@shared_task(name="push.sweep_presence", ignore_result=True)
def sweep_presence() -> int:
    """Run by beat every PRESENCE_SWEEP_SECONDS; returns how many connections expired."""
    return presence.sweep()
