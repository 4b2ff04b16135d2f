"""Webhook services: the only code that creates, changes, pings and redelivers endpoints.

The REST API and the admin call these. Each validates its input and raises ``ValidationFailed``
(code ``unsafe_url``, ``invalid_event_types``, ``endpoint_disabled``…) with a clear message.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from push.models import WebhookDelivery, WebhookEndpoint
from push.models_webhooks import new_webhook_secret
from push.webhooks import delivery as engine
from push.webhooks import ssrf
from push.webhooks.events import PING, clean_event_types, render_body
from support.errors import ValidationFailed
from support.ids import opaque_id
from support.models import Membership, Tenant
from support.plan_limits import WEBHOOKS, require_feature

_UNSET: Any = object()
DESCRIPTION_MAX = 200


def clean_url(url: object) -> str:
    """The URL if it may be a webhook target (form and resolved addresses); UnsafeTarget otherwise."""
    # Resolving here gives the tenant an immediate error; the check is repeated at send time.
    target = ssrf.check_url(url)
    ssrf.resolve(target, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)
    return target


def _clean_description(description: object) -> str:
    if not isinstance(description, str):
        raise ValidationFailed("description must be a string", code="invalid_description")
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(f"description is longer than {DESCRIPTION_MAX} characters", code="invalid_description")
    return description.strip()


def create_endpoint(
    *, tenant: Tenant, url: str, event_types: list[str], description: str = "", created_by: Membership | None = None,
) -> WebhookEndpoint:
    """Register an endpoint; its ``secret`` (shown to the tenant) signs every delivery.

    Only plans with the webhooks feature may (``FeatureNotInPlan``, code ``plan_feature``).
    """
    require_feature(tenant=tenant, feature=WEBHOOKS)
    target = clean_url(url)
    types = clean_event_types(event_types)
    text = _clean_description(description)
    if created_by is not None and created_by.tenant_id != tenant.pk:
        raise ValidationFailed("Unknown member", code="invalid_member")
    with scope(tenant=tenant):
        return WebhookEndpoint.objects.create(
            tenant=tenant, url=target, event_types=types, description=text, created_by=created_by,
        )


def update_endpoint(
    *,
    endpoint: WebhookEndpoint,
    url: str = _UNSET,
    event_types: list[str] = _UNSET,
    description: str = _UNSET,
    is_active: bool = _UNSET,
    rotate_secret: bool = False,
) -> WebhookEndpoint:
    """Change an endpoint. Re-enabling clears its failure record; rotating makes a new secret."""
    changes: dict[str, Any] = {}
    if url is not _UNSET:
        changes["url"] = clean_url(url)
    if event_types is not _UNSET:
        changes["event_types"] = clean_event_types(event_types)
    if description is not _UNSET:
        changes["description"] = _clean_description(description)
    if is_active is not _UNSET:
        if not isinstance(is_active, bool):
            raise ValidationFailed("is_active must be true or false", code="invalid_is_active")
        changes["is_active"] = is_active
    if rotate_secret:
        changes["secret"] = new_webhook_secret()
    with scope(tenant=endpoint.tenant), transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if changes.get("is_active") and not current.is_active:
            changes.update(disabled_reason="", failing_since=None, consecutive_failures=0)
        elif changes.get("is_active") is False and current.is_active:
            changes["disabled_reason"] = "Disabled by a person"
        for field, value in changes.items():
            setattr(current, field, value)
        current.updated_at = timezone.now()
        current.save()
    return current


def delete_endpoint(*, endpoint: WebhookEndpoint) -> None:
    """Remove an endpoint with its delivery log.

    Redeliveries go first: the cascade would otherwise null their ``redelivery_of`` link and make
    them collide with the original under the one-delivery-per-event constraint.
    """
    with scope(tenant=endpoint.tenant), transaction.atomic():
        WebhookDelivery.objects.filter(endpoint_id=endpoint.pk, redelivery_of__isnull=False).delete()
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def send_test_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a signed ``ping`` event now (one attempt, no retries) and return the logged delivery.

    Works on a disabled endpoint too, so a tenant can check a fix before re-enabling it.
    """
    tenant = endpoint.tenant
    now = timezone.now()
    event_id = opaque_id("evt")
    body = render_body(
        event_id=event_id, event_type=PING, version=1, created=now.isoformat(), tenant=tenant,
        data={"endpoint": endpoint.public_id, "url": endpoint.url},
    )
    with scope(tenant=tenant):
        delivery = WebhookDelivery.objects.create(
            tenant=tenant, endpoint=endpoint, event_public_id=event_id, event_type=PING,
            request_body=body, next_attempt_at=now,
        )
    done = engine.attempt_delivery(delivery_id=delivery.pk, tenant=tenant, now=now)
    if done is None:  # only if another worker claimed it first: read what it recorded
        with scope(tenant=tenant):
            done = WebhookDelivery.objects.get(pk=delivery.pk)
    return done


def redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a new delivery (new delivery id, same event id and body) of an earlier one, at once."""
    tenant = delivery.tenant
    with scope(tenant=tenant), transaction.atomic():
        endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
        if not endpoint.is_active:
            raise ValidationFailed("Re-enable the endpoint before redelivering", code="endpoint_disabled")
        if delivery.event_type == PING:
            raise ValidationFailed("Send a new ping instead of redelivering one", code="invalid_delivery")
        original = delivery.redelivery_of or delivery
        copy = WebhookDelivery.objects.create(
            tenant=tenant, endpoint=endpoint, event_id=delivery.event_id, event_public_id=delivery.event_public_id,
            event_type=delivery.event_type, ordering_key=delivery.ordering_key, sequence=delivery.sequence,
            redelivery_of=original, request_body=delivery.request_body, next_attempt_at=timezone.now(),
        )
        transaction.on_commit(engine.kick)
    return copy
