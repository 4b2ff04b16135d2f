"""Claiming a notification once per (event, kind, agent or owner) before sending it: the once-only
record of the outbox handlers that notify people (push's agent alerts and offline-team emails,
billing's owner emails).

The claim commits before anything is sent, so a second run (a retried handler, a second worker)
finds it and sends nothing. If sending raises, the claim is released so the dispatcher's retry
sends again; only a worker killed mid-send leaves a claim without a send (at most once, never twice).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support.events.models import NotificationReceipt
from support.models import Membership


def claim(*, event_public_id: str, kind: str, membership: Membership) -> NotificationReceipt | None:
    with scope(tenant=membership.tenant):
        try:
            with transaction.atomic():
                return NotificationReceipt.objects.create(
                    tenant_id=membership.tenant_id, event_public_id=event_public_id, kind=kind, membership=membership,
                )
        except IntegrityError:
            return None


def release(receipt: NotificationReceipt) -> None:
    with scope(tenant=receipt.tenant):
        NotificationReceipt.objects.filter(pk=receipt.pk).delete()


def finish(receipt: NotificationReceipt, *, channels: list[str]) -> None:
    with scope(tenant=receipt.tenant):
        NotificationReceipt.objects.filter(pk=receipt.pk).update(channels=",".join(channels))


def prune(*, now: datetime | None = None) -> int:
    """Forget receipts of events the outbox can no longer run again (pruned, or past replay)."""
    keep_days = max(settings.OUTBOX_RETENTION_DAYS, settings.OUTBOX_DEAD_RETENTION_DAYS) + 1
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    # Platform housekeeping: the same rule for every tenant.
    with scopes_disabled():
        deleted, _ = NotificationReceipt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
