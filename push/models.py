"""Tables of the delivery side: the transactional outbox."""
from __future__ import annotations

from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

from support.fields import PublicIdField
from support.models import Tenant


class OutboxEvent(models.Model):
    """A side effect to perform, written in the same transaction as the change it describes."""

    public_id = PublicIdField(prefix="evt")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, editable=False)
    type = models.CharField(max_length=60)
    version = models.PositiveSmallIntegerField(default=1)
    payload = models.JSONField(default=dict)
    # Events with the same key reach an ordered handler in creation order (e.g. "cv_…").
    ordering_key = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="outbox_created")]

    def __str__(self) -> str:
        return f"{self.type} {self.public_id}"


from push.models_notify import *  # noqa: E402,F401,F403
from push.models_presence import *  # noqa: E402,F401,F403
from push.models_webhooks import *  # noqa: E402,F401,F403
