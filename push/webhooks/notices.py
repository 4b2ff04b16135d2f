"""Telling a tenant's owners that one of their webhook endpoints was disabled."""
from __future__ import annotations

import logging

from django_scopes import scope

from push.models import WebhookEndpoint
from push.notifications.email import send_templated
from support.models import Membership, Tenant

log = logging.getLogger(__name__)


def email_endpoint_disabled(*, tenant: Tenant, endpoint_id: int) -> None:
    with scope(tenant=tenant):
        endpoint = WebhookEndpoint.objects.select_related("created_by__user").get(pk=endpoint_id)
        owners = Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER, is_active=True).select_related(
            "user"
        )
        to = [m.user.email for m in owners]
        if endpoint.created_by is not None and endpoint.created_by.is_active:
            to.append(endpoint.created_by.user.email)
    try:
        send_templated(
            tenant=tenant, to=to, subject=f"Webhook endpoint disabled: {endpoint.url[:80]}",
            template="webhook_disabled", context={"endpoint": endpoint},
        )
    except Exception:  # noqa: BLE001 - runs after commit; the admin shows the disabled state anyway
        log.exception("could not email the owners of disabled webhook endpoint %s", endpoint.public_id)
