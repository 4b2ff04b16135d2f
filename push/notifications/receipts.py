"""Claiming a notification once per (event, kind, agent) before sending it.

The claim commits before anything is sent, so a second run (a retried handler, a second worker)
finds it and sends nothing. If sending raises, the claim is released so the dispatcher's retry
sends again; only a worker killed mid-send leaves a claim without a send (at most once, never twice).
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django_scopes import scope

from push.models import NotificationReceipt
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
