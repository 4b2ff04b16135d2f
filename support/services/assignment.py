"""Auto-assignment: give a waiting conversation to the least-loaded online agent with free capacity.

Candidates are the *online* agents (connected and available: ``support.online_agents``) of the
conversation's team, or of the whole tenant when it has no team. Load is the number of the
agent's conversations that are open or pending; an agent at ``capacity`` takes no more. When
nobody is free the conversation stays queued (``queued_at`` set) and ``drain_queue`` hands the
queue out oldest-first when an agent comes online, becomes available or frees capacity. A
conversation unassigned from an agent (``released_by``) is never handed straight back to them: it
goes to someone else, or waits in the queue (and the "unassigned" inbox) until someone takes it.

Two assignments racing for one agent must not both see a free slot: each takes the row locks of
all candidate Memberships, in pk order, before counting load, so they run one after the other
(on SQLite the IMMEDIATE transactions are serialised anyway). Triggers come through outbox
handlers (support/outbox_handlers.py); both functions may also be called directly.
"""
from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Count, Q
from django_scopes import scope

from support import online_agents
from support.models import Conversation, Membership, Tenant
from support.services.conversations import assign_conversation

log = logging.getLogger(__name__)

# Conversations that occupy an agent; snoozed and resolved ones do not.
LOAD_STATUSES = (Conversation.Status.OPEN, Conversation.Status.PENDING)
DRAIN_BATCH = 200


def _waiting(conv: Conversation) -> bool:
    return conv.assignee_id is None and conv.queued_at is not None and conv.status in LOAD_STATUSES


def _pick_agent(conv: Conversation) -> Membership | None:
    """The least-loaded online candidate under capacity; locks the candidates' rows first."""
    online = online_agents.online_agent_ids(conv.tenant_id)
    if not online:
        return None
    candidates = Membership.objects.filter(pk__in=online, is_active=True)
    if conv.released_by_id is not None:
        # Just unassigned from this agent (by them or an admin): not straight back to them.
        candidates = candidates.exclude(pk=conv.released_by_id)
    if conv.team_id is not None:
        candidates = candidates.filter(teams=conv.team_id)
    # Lock in one order everywhere, so two assigners queue on the first row instead of deadlocking.
    locked = list(candidates.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
    if not locked:
        return None
    # Counted after the locks: a concurrent assignment to these agents has committed by now.
    ranked = (
        Membership.objects.filter(pk__in=locked)
        .annotate(
            load=Count(
                "assigned_conversations",
                filter=Q(assigned_conversations__status__in=LOAD_STATUSES),
            )
        )
        .order_by("load", "pk")
    )
    for member in ranked:
        if member.load < member.capacity:
            return member
    return None


def auto_assign(*, conversation: Conversation) -> Membership | None:
    """Assign ``conversation`` if it is waiting and someone is free; returns the new assignee.

    Returns None when it was not waiting (already assigned, resolved, snoozed) or stays queued.
    """
    return _assign(conversation)[1]


def _assign(conversation: Conversation) -> tuple[str, Membership | None]:
    """("assigned", agent) | ("not_waiting", None) | ("no_agent", None)."""
    with scope(tenant=conversation.tenant_id), transaction.atomic():
        conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if not _waiting(conv):
            return "not_waiting", None
        agent = _pick_agent(conv)
        if agent is None:
            return "no_agent", None
        assign_conversation(conversation=conv, assignee=agent)
    log.info("auto-assigned %s to %s", conv.public_id, agent.public_id)
    return "assigned", agent


def drain_queue(*, tenant: Tenant) -> int:
    """Hand out queued conversations oldest-first while agents have room; returns how many."""
    assigned = 0
    after: tuple | None = None
    with scope(tenant=tenant):
        while True:
            queue = Conversation.objects.filter(
                assignee__isnull=True, queued_at__isnull=False, status__in=LOAD_STATUSES
            ).order_by("queued_at", "pk")
            if after is not None:
                queue = queue.filter(Q(queued_at__gt=after[0]) | Q(queued_at=after[0], pk__gt=after[1]))
            batch = list(queue.only("pk", "tenant_id", "team_id", "released_by_id", "queued_at")[:DRAIN_BATCH])
            for conv in batch:
                outcome, _agent = _assign(conv)
                if outcome == "assigned":
                    assigned += 1
                elif outcome == "no_agent" and conv.team_id is None and conv.released_by_id is None:
                    # Every online agent of the tenant was a candidate and none had room, so no
                    # later conversation can be served either (a team's agents are a subset).
                    return assigned
            if len(batch) < DRAIN_BATCH:
                return assigned
            after = (batch[-1].queued_at, batch[-1].pk)
