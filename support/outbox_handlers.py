"""Outbox handlers of the support domain: the triggers of auto-assignment.

Assignment runs from outbox events rather than inline ``on_commit`` calls: the event is
committed with the change, so a crash between commit and assignment delays it (the dispatcher's
sweep retries) but never leaves a conversation forgotten in the queue. Both handlers are
idempotent: assigning a conversation that is no longer waiting, or draining an empty queue,
does nothing.
"""
from __future__ import annotations

from django_scopes import scope

from support.access import find_by_public_id
from support.events.handlers import outbox_handler
from support.events.models import OutboxEvent
from support.models import Conversation
from support.services.assignment import auto_assign, drain_queue


def _conversation(event: OutboxEvent) -> Conversation | None:
    public_id = (event.payload.get("conversation") or {}).get("id")
    with scope(tenant=event.tenant):
        return find_by_public_id(Conversation.objects.all(), public_id, tenant=event.tenant)


@outbox_handler("auto_assign", events=["conversation.created", "conversation.team_changed"])
def assign_new_conversation(event: OutboxEvent) -> None:
    """A new (or re-routed) conversation goes to a free agent, or stays queued."""
    conv = _conversation(event)
    if conv is not None:
        auto_assign(conversation=conv)


def _frees_or_adds_capacity(event: OutboxEvent) -> bool:
    if event.type == "agent.presence_changed":
        # Someone came online (connected, or back from away): they may take queued work.
        return (event.payload.get("agent") or {}).get("status") == "online"
    if event.type == "conversation.status_changed":
        status = (event.payload.get("conversation") or {}).get("status")
        previous = event.payload.get("previous")
        busy = (Conversation.Status.OPEN, Conversation.Status.PENDING)
        # Closing frees a slot; reopening puts an unassigned conversation back in the queue.
        return status not in busy or previous not in busy
    # conversation.assigned: the previous assignee has one conversation less, or it was unassigned
    # and is waiting again.
    return event.type == "conversation.assigned"


@outbox_handler(
    "drain_assignment_queue",
    events=["agent.presence_changed", "conversation.status_changed", "conversation.assigned"],
)
def drain_assignment_queue(event: OutboxEvent) -> None:
    """Capacity appeared (agent online, conversation closed or moved): hand out the queue in order."""
    if _frees_or_adds_capacity(event):
        drain_queue(tenant=event.tenant)
