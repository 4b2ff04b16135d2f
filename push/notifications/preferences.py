"""Agents' notification preferences (``Membership.notification_prefs``): the keys, defaults and the service."""
from __future__ import annotations

from typing import Any

from django.db import transaction
from django_scopes import scope

from support.errors import ValidationFailed
from support.models import Membership

# Every key defaults to on: a new agent should not miss a visitor because they never opened settings.
PREFERENCES: dict[str, str] = {
    "push_assigned": "Web push when a conversation is assigned to me",
    "push_message": "Web push when a visitor writes in a conversation assigned to me",
    "email_assigned": "Email when a conversation is assigned to me and no browser took a push",
    "email_message": "Email when a visitor writes in my conversation and no browser took a push",
    "email_offline_conversation": "Email when a visitor writes while no agent is online",
}


def preferences_of(membership: Membership) -> dict[str, bool]:
    stored = membership.notification_prefs if isinstance(membership.notification_prefs, dict) else {}
    return {key: bool(stored.get(key, True)) for key in PREFERENCES}


def set_preferences(*, membership: Membership, changes: Any) -> dict[str, bool]:
    """Change some preferences (unknown keys and non-boolean values are refused); returns all of them."""
    if not isinstance(changes, dict):
        raise ValidationFailed("Send an object of preference: true/false", code="invalid_preferences")
    for key, value in changes.items():
        if key not in PREFERENCES:
            raise ValidationFailed(
                f"Unknown preference {key!r}; known: {', '.join(PREFERENCES)}", code="invalid_preferences"
            )
        if not isinstance(value, bool):
            raise ValidationFailed(f"{key} must be true or false", code="invalid_preferences")
    with scope(tenant=membership.tenant), transaction.atomic():
        current = Membership.objects.select_for_update().get(pk=membership.pk)
        stored = current.notification_prefs if isinstance(current.notification_prefs, dict) else {}
        current.notification_prefs = {**stored, **changes}
        current.save(update_fields=["notification_prefs"])
    membership.notification_prefs = current.notification_prefs
    return preferences_of(current)
