"""Which agents are online now: asked by the domain (auto-assignment) and the REST API (the agent
directory, the live summary), answered by push's presence.

Presence (connections, heartbeats, availability) is push's to track (``push/presence.py``); push
plugs its answers in at start-up (``push/apps.py``: ``use(...)``), so neither the domain's services
nor the API import a transport. Asking before anything is plugged in is a configuration error,
never a silent "nobody".
"""
from __future__ import annotations

from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured


class OnlineAgentIds(Protocol):
    def __call__(self, tenant_id: int, /) -> set[int]: ...


class AgentsPresence(Protocol):
    def __call__(self, tenant_id: int, /) -> list[dict[str, Any]]: ...


_answer: OnlineAgentIds | None = None
_presence: AgentsPresence | None = None


def use(answer: OnlineAgentIds, *, presence: AgentsPresence) -> None:
    """Plug in the answers (push does, from its ``AppConfig.ready``)."""
    global _answer, _presence
    _answer = answer
    _presence = presence


def _not_plugged() -> ImproperlyConfigured:
    return ImproperlyConfigured("Nobody answers who is online: push's app calls support.online_agents.use()")


def online_agent_ids(tenant_id: int) -> set[int]:
    """Membership pks of the tenant's agents that are connected and available."""
    if _answer is None:
        raise _not_plugged()
    return _answer(tenant_id)


def agents_presence(tenant_id: int) -> list[dict[str, Any]]:
    """Every active agent of the tenant as ``{"id": public id, "name", "status"}``, status
    ``online`` (connected and available), ``away`` (connected, set away) or ``offline``."""
    if _presence is None:
        raise _not_plugged()
    return _presence(tenant_id)
