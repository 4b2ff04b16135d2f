"""What a tenant's plan allows, asked by the domain and the outer apps, answered by billing.

Transports, the API and services ask here (``has_feature``, ``require_feature``,
``check_can_add_seat``, ``live_chat_allowed``), so none of them imports billing; billing plugs its
answers in at start-up (``billing/apps.py``: ``use(billing.subscriptions)``). The feature names are
the domain's vocabulary; billing's plans say which ones each plan includes. Asking before anything
is plugged in is a configuration error, never a silent yes or no.
"""
from __future__ import annotations

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from support.models import Tenant

# The features a plan may include.
API = "api"
WEBHOOKS = "webhooks"
REMOVE_BRANDING = "remove_branding"
LONG_HISTORY = "long_history"


class PlanLimits(Protocol):
    def has_feature(self, *, tenant: Tenant, feature: str) -> bool: ...

    def require_feature(self, *, tenant: Tenant, feature: str) -> None:
        """Raise a ``DomainError`` (code ``plan_feature``) when the plan lacks ``feature``."""

    def check_can_add_seat(self, *, tenant: Tenant) -> None:
        """Raise a ``DomainError`` (code ``seat_limit``) when one more agent exceeds the seats."""

    def live_chat_allowed(self, tenant: Tenant) -> bool: ...


_limits: PlanLimits | None = None


def use(limits: PlanLimits) -> None:
    """Plug in the answers (billing does, from its ``AppConfig.ready``)."""
    global _limits
    _limits = limits


def _plugged() -> PlanLimits:
    if _limits is None:
        raise ImproperlyConfigured("No plan limits are plugged in: billing's app calls support.plan_limits.use()")
    return _limits


def has_feature(*, tenant: Tenant, feature: str) -> bool:
    return _plugged().has_feature(tenant=tenant, feature=feature)


def require_feature(*, tenant: Tenant, feature: str) -> None:
    _plugged().require_feature(tenant=tenant, feature=feature)


def check_can_add_seat(*, tenant: Tenant) -> None:
    _plugged().check_can_add_seat(tenant=tenant)


def live_chat_allowed(tenant: Tenant) -> bool:
    """False when the plan's conversation quota is spent and new chats degrade to the offline form."""
    return _plugged().live_chat_allowed(tenant)
