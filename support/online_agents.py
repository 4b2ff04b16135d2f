"""Which agents are online now: asked by the domain (auto-assignment), answered by push's presence.

Presence (connections, heartbeats, availability) is push's to track (``push/presence.py``); push
plugs its answer in at start-up (``push/apps.py``: ``use(presence.online_agent_ids)``), so the
domain's services never import a transport. Asking before anything is plugged in is a
configuration error, never a silent "nobody".
"""
from __future__ import annotations

from typing import Protocol

from django.core.exceptions import ImproperlyConfigured


class OnlineAgentIds(Protocol):
    def __call__(self, tenant_id: int, /) -> set[int]: ...


_answer: OnlineAgentIds | None = None


def use(answer: OnlineAgentIds) -> None:
    """Plug in the answer (push does, from its ``AppConfig.ready``)."""
    global _answer
    _answer = answer


def online_agent_ids(tenant_id: int) -> set[int]:
    """Membership pks of the tenant's agents that are connected and available."""
    if _answer is None:
        raise ImproperlyConfigured("Nobody answers who is online: push's app calls support.online_agents.use()")
    return _answer(tenant_id)
