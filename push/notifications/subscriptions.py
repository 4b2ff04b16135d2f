"""Saving and removing agents' browser push subscriptions."""
from __future__ import annotations

import base64
import binascii

from django.db import transaction
from django_scopes import scope

from push import webpush
from push.models import PushSubscription
from support.errors import NotFound, ValidationFailed
from support.models import Membership

# A person rarely has more browsers than this; the oldest subscriptions make room for new ones.
MAX_SUBSCRIPTIONS_PER_AGENT = 10


def _b64url_bytes(value: object, *, name: str, length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationFailed(f"keys.{name} is required", code="invalid_subscription")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValidationFailed(f"keys.{name} is not base64url", code="invalid_subscription") from None
    if len(raw) != length or (name == "p256dh" and raw[0] != 4):
        raise ValidationFailed(f"keys.{name} has the wrong length or form", code="invalid_subscription")
    return value


def save_subscription(
    *, membership: Membership, endpoint: object, p256dh: object, auth: object, user_agent: str = ""
) -> PushSubscription:
    """Store (or refresh the keys of) a browser's subscription for this agent."""
    url = webpush.check_endpoint(endpoint)
    key = _b64url_bytes(p256dh, name="p256dh", length=65)
    secret = _b64url_bytes(auth, name="auth", length=16)
    with scope(tenant=membership.tenant), transaction.atomic():
        subscription, _ = PushSubscription.objects.update_or_create(
            membership=membership, endpoint=url,
            defaults={"tenant_id": membership.tenant_id, "p256dh": key, "auth": secret,
                      "user_agent": (user_agent or "")[:300]},
        )
        stale = PushSubscription.objects.filter(membership=membership).order_by("-created_at", "-pk")[
            MAX_SUBSCRIPTIONS_PER_AGENT:
        ]
        PushSubscription.objects.filter(pk__in=[s.pk for s in stale]).delete()
    return subscription


def delete_subscription(*, membership: Membership, endpoint: object) -> None:
    """Forget a browser's subscription (the agent turned notifications off there). NotFound if unknown."""
    if not isinstance(endpoint, str) or not endpoint:
        raise ValidationFailed("endpoint is required", code="invalid_subscription")
    with scope(tenant=membership.tenant):
        deleted, _ = PushSubscription.objects.filter(membership=membership, endpoint=endpoint.strip()).delete()
    if not deleted:
        raise NotFound("No such subscription")
