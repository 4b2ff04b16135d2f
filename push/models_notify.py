"""Offline notifications: web push subscriptions and the bookkeeping that makes sends happen once."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from support.fields import PublicIdField
from support.models import Conversation, Membership, TenantOwned

__all__ = ["ContactDigest", "PendingDigest", "PushSubscription"]


class PushSubscription(TenantOwned):
    """One browser's Web Push subscription for one agent (from ``PushManager.subscribe``)."""

    public_id = PublicIdField(prefix="ps")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000)
    # The browser's ECDH public key (uncompressed P-256 point) and auth secret, base64url.
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["membership", "endpoint"], name="pushsub_unique_endpoint"),
        ]

    def __str__(self) -> str:
        return f"{self.membership} · {self.endpoint[:40]}…"


class PendingDigest(TenantOwned):
    """A visitor digest that is due at ``due_at`` unless the visitor reads the replies first.

    One row per conversation: further replies before it is due join the same digest.
    """

    conversation = models.OneToOneField(Conversation, on_delete=models.CASCADE, related_name="pending_digest")
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="pendingdigest_due")]

    def __str__(self) -> str:
        return f"digest for {self.conversation_id} due {self.due_at:%Y-%m-%d %H:%M}"


class ContactDigest(TenantOwned):
    """A digest email sent to a visitor, covering agent replies up to ``up_to_seq``.

    Unique per (conversation, up_to_seq): re-running the sender can never email the same replies twice.
    """

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="digests")
    from_seq = models.BigIntegerField()
    up_to_seq = models.BigIntegerField()
    message_count = models.PositiveIntegerField()
    email = models.EmailField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "up_to_seq"], name="contactdigest_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"digest {self.conversation_id} ≤{self.up_to_seq}"
