"""The install check: which sites the widget snippet ran on, whether it was allowed to load there,
and the one-click "allow this site" of the dashboard's first-run checklist.

The widget frame (``/widget/frame/?origin=…``) is requested by the browser even when the page's
origin is not allowed (``frame-ancestors`` is enforced after the answer arrives), so the frame view
records every sighting here; the loader asks ``/widget/check`` to explain a refusal in the console.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scope

from support.errors import PermissionDenied, ValidationFailed
from support.models import Conversation, Invitation, Membership, Tenant, WidgetSighting
from support.rate_limits import once_per, within_limit
from support.services.visitors import normalise_origin

logger = logging.getLogger(__name__)

# Bounded per tenant: anyone can paste a public widget key on any site.
MAX_SIGHTINGS = 20
NEW_SIGHTINGS_PER_HOUR = 10
# One database write per origin and outcome per hour, whatever the site's traffic.
DEDUPE_SECONDS = 3600
MAX_ALLOWED_ORIGINS = 50


def is_allowed(*, tenant: Tenant, origin: str) -> bool:
    return origin in {normalise_origin(o) for o in tenant.allowed_origins or []}


def record_sighting(*, tenant: Tenant, origin: str | None) -> WidgetSighting.Status | None:
    """Note that the snippet ran on ``origin``; returns the outcome (None for an unusable origin)."""
    origin = normalise_origin(origin)
    if origin is None:
        return None
    status = WidgetSighting.Status.INSTALLED if is_allowed(tenant=tenant, origin=origin) \
        else WidgetSighting.Status.REFUSED
    if not once_per(tenant_key=tenant.public_id, name="sighting.seen", subject=f"{status}:{origin}",
                    seconds=DEDUPE_SECONDS):
        return status
    now = timezone.now()
    with scope(tenant=tenant):
        sightings = WidgetSighting.objects.filter(tenant=tenant)
        if sightings.filter(origin=origin).update(status=status, last_seen=now):
            return status
        if sightings.count() >= MAX_SIGHTINGS or not within_limit(
                tenant_key=tenant.public_id, name="sighting", subject="new", limit=NEW_SIGHTINGS_PER_HOUR,
                window_seconds=3600):
            logger.info("Widget sighting on %s not recorded for %s: limit reached", origin, tenant.public_id)
            return status
        try:
            with transaction.atomic():
                WidgetSighting.objects.create(tenant=tenant, origin=origin, status=status, first_seen=now,
                                              last_seen=now)
        except IntegrityError:  # a concurrent first sighting of the same origin won
            sightings.filter(origin=origin).update(status=status, last_seen=now)
    return status


def sightings(*, tenant: Tenant) -> list[WidgetSighting]:
    with scope(tenant=tenant):
        return list(WidgetSighting.objects.filter(tenant=tenant).order_by("-last_seen", "origin"))


def allow_origin(*, actor: Membership | None, tenant: Tenant, origin: str) -> list[str]:
    """Add ``origin`` to the tenant's allowed widget origins (owners and admins; None = a token)."""
    if actor is not None and (actor.tenant_id != tenant.pk or not actor.is_admin):
        raise PermissionDenied(_("Only owners and admins change the allowed origins"), code="forbidden")
    clean = normalise_origin(origin) if isinstance(origin, str) and len(origin) <= 200 else None
    if clean is None:
        raise ValidationFailed(_("Give an origin like https://example.com"), code="invalid")
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        origins = list(locked.allowed_origins or [])
        if clean not in {normalise_origin(o) for o in origins}:
            if len(origins) >= MAX_ALLOWED_ORIGINS:
                raise ValidationFailed(_("At most %(n)d origins") % {"n": MAX_ALLOWED_ORIGINS}, code="too_many")
            origins.append(clean)
            locked.allowed_origins = origins
            locked.save(update_fields=["allowed_origins"])
    tenant.allowed_origins = origins
    return origins


def website_origin(value: str) -> str:
    """The origin of a website address as people type it ("shop.example", "https://shop.example/en")."""
    text = (value or "").strip()
    if text and "://" not in text:
        text = "https://" + text
    parts = text.split("/", 3)
    origin = normalise_origin("/".join(parts[:3])) if len(text) <= 200 else None
    if origin is None or "." not in origin.split("://", 1)[1] and "localhost" not in origin:
        raise ValidationFailed(_("Enter your website's address, like https://example.com"), code="invalid")
    return origin


def snippet(*, tenant: Tenant) -> str:
    """The tag a tenant pastes on its site (also shown in the admin)."""
    return f'<script async src="{settings.SITE_URL}/widget.js" data-key="{tenant.widget_key}"></script>'


def checklist(*, tenant: Tenant) -> dict[str, bool]:
    """The first-run checklist's steps, each done or not, from what the database holds."""
    defaults = {f.name: f.get_default() for f in Tenant._meta.concrete_fields
                if f.name in ("color", "greeting", "team_name", "position")}
    with scope(tenant=tenant):
        return {
            "install": WidgetSighting.objects.filter(tenant=tenant, status=WidgetSighting.Status.INSTALLED).exists(),
            # The look, the words (a greeting in another language counts) or the opening hours changed.
            "customise": any(getattr(tenant, f) != v for f, v in defaults.items())
            or bool(tenant.greetings) or bool(tenant.business_hours),
            "invite": Membership.objects.filter(tenant=tenant).count() > 1
            or Invitation.objects.filter(tenant=tenant).exists(),
            "test_message": Conversation.objects.filter(tenant=tenant).exists(),
        }
