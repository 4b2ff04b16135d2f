"""Auto-assignment: least-loaded online agent under capacity, team routing, the queue and its
drain order, and the outbox handlers that trigger it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope

from push import presence
from support.events.models import OutboxEvent
from support.models import Contact, Conversation, Message
from support.outbox_handlers import assign_new_conversation, drain_assignment_queue
from support.services.assignment import auto_assign, drain_queue
from support.services.conversations import assign_conversation, set_status, start_conversation


def new_conv(world, *, team=None, minutes_ago=0):
    with scope(tenant=world.tenant):
        contact = Contact.objects.create(tenant=world.tenant, name="V")
        conv = start_conversation(tenant=world.tenant, contact=contact, team=team)
        if minutes_ago:
            Conversation.objects.filter(pk=conv.pk).update(queued_at=timezone.now() - timedelta(minutes=minutes_ago))
            conv.refresh_from_db()
        return conv


def give(world, member, n):
    """n open conversations already assigned to member."""
    for _ in range(n):
        with scope(tenant=world.tenant):
            assign_conversation(conversation=new_conv(world), assignee=member)


def assignee_of(world, conv):
    with scope(tenant=world.tenant):
        return Conversation.objects.get(pk=conv.pk).assignee_id


def online_with_capacity(online, capacity: int, *members) -> None:
    """Give each of ``members`` room for ``capacity`` open conversations and bring them online."""
    for member in members:
        member.capacity = capacity
        member.save(update_fields=["capacity"])
    online(*members)


def test_the_online_agent_with_fewest_open_conversations_gets_it(world, online):
    online(world.agent, world.agent2)
    give(world, world.agent, 2)
    give(world, world.agent2, 1)
    conv = new_conv(world)
    assert auto_assign(conversation=conv) == world.agent2
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert conv.assignee == world.agent2 and conv.queued_at is None
        # The assignment is part of the conversation's history, through assign_conversation.
        event = Message.objects.filter(conversation=conv, kind=Message.Kind.EVENT).last()
        assert event.data["event"] == "assigned" and event.data["assignee"] == world.agent2.public_id
        assert OutboxEvent.objects.filter(type="conversation.assigned", ordering_key=conv.public_id).exists()


def test_ties_go_to_the_same_agent_every_time(world, online):
    online(world.agent, world.agent2)
    first = min(world.agent, world.agent2, key=lambda m: m.pk)
    assert auto_assign(conversation=new_conv(world)) == first


def test_offline_and_away_agents_get_nothing(world, online):
    online(world.agent2)
    presence.set_availability(membership=world.agent2, status="away")
    conv = new_conv(world)
    assert auto_assign(conversation=conv) is None
    with scope(tenant=world.tenant):
        conv.refresh_from_db()
        assert conv.assignee is None and conv.queued_at is not None


def test_capacity_is_respected_and_the_conversation_stays_queued(world, online):
    online_with_capacity(online, 1, world.owner, world.agent, world.agent2)
    give(world, world.owner, 1)
    give(world, world.agent, 1)
    assert auto_assign(conversation=new_conv(world)) == world.agent2
    waiting = new_conv(world)
    assert auto_assign(conversation=waiting) is None
    assert assignee_of(world, waiting) is None


def test_resolved_and_snoozed_conversations_do_not_count_as_load(world, online):
    online_with_capacity(online, 1, world.agent)
    give(world, world.agent, 2)
    with scope(tenant=world.tenant):
        first, second = Conversation.objects.filter(assignee=world.agent)
        set_status(conversation=first, status="resolved")
        set_status(conversation=second, status="snoozed", snoozed_until=timezone.now() + timedelta(hours=1))
    assert auto_assign(conversation=new_conv(world)) == world.agent


def test_a_team_conversation_goes_only_to_that_teams_agents(world, online):
    online(world.owner)  # the owner is not in the Support team
    team_conv = new_conv(world, team=world.team)
    assert auto_assign(conversation=team_conv) is None
    assert auto_assign(conversation=new_conv(world)) == world.owner
    online(world.agent)
    assert drain_queue(tenant=world.tenant) == 1
    assert assignee_of(world, team_conv) == world.agent.pk


def test_only_waiting_conversations_are_auto_assigned(world, online):
    online(world.agent)
    taken = new_conv(world)
    with scope(tenant=world.tenant):
        assign_conversation(conversation=taken, assignee=world.agent2)
        closed = new_conv(world)
        set_status(conversation=closed, status="resolved")
    assert auto_assign(conversation=taken) is None
    assert assignee_of(world, taken) == world.agent2.pk
    assert auto_assign(conversation=closed) is None
    assert assignee_of(world, closed) is None


def test_the_queue_drains_oldest_first_when_an_agent_comes_online(world, online):
    world.agent.capacity = 2
    world.agent.save(update_fields=["capacity"])
    newest = new_conv(world, minutes_ago=1)
    oldest = new_conv(world, minutes_ago=30)
    middle = new_conv(world, minutes_ago=10)
    for conv in (newest, oldest, middle):
        assert auto_assign(conversation=conv) is None
    online(world.agent)
    assert drain_queue(tenant=world.tenant) == 2
    assert [assignee_of(world, c) for c in (oldest, middle, newest)] == [world.agent.pk, world.agent.pk, None]


def test_freeing_capacity_lets_the_next_in_queue_through(world, online):
    online_with_capacity(online, 1, world.agent)
    first = new_conv(world, minutes_ago=5)
    second = new_conv(world, minutes_ago=3)
    third = new_conv(world, minutes_ago=1)
    assert drain_queue(tenant=world.tenant) == 1
    with scope(tenant=world.tenant):
        set_status(conversation=first, status="resolved")
    assert drain_queue(tenant=world.tenant) == 1
    assert [assignee_of(world, c) for c in (first, second, third)] == [world.agent.pk, world.agent.pk, None]


def test_draining_an_empty_queue_or_with_nobody_online_does_nothing(world, online):
    assert drain_queue(tenant=world.tenant) == 0
    new_conv(world)
    assert drain_queue(tenant=world.tenant) == 0


def test_another_tenants_online_agent_never_gets_our_conversations(world, outsider, online):
    online(outsider.agent)
    conv = new_conv(world)
    assert auto_assign(conversation=conv) is None
    assert drain_queue(tenant=outsider.tenant) == 0
    assert assignee_of(world, conv) is None


def _event(world, type_):
    with scope(tenant=world.tenant):
        return OutboxEvent.objects.filter(type=type_).order_by("-pk").first()


def test_conversation_created_event_triggers_assignment(world, online):
    online(world.agent)
    conv = new_conv(world)
    assign_new_conversation(_event(world, "conversation.created"))
    assert assignee_of(world, conv) == world.agent.pk
    # Handled twice (a redelivery): nothing changes.
    assign_new_conversation(_event(world, "conversation.created"))
    assert assignee_of(world, conv) == world.agent.pk


def test_an_agent_coming_online_drains_the_queue_through_its_presence_event(world, online):
    conv = new_conv(world)
    online(world.agent)
    event = _event(world, "agent.presence_changed")
    assert event.payload["agent"]["status"] == "online"
    drain_assignment_queue(event)
    assert assignee_of(world, conv) == world.agent.pk


def test_resolving_drains_the_queue_through_its_status_event(world, online):
    online_with_capacity(online, 1, world.agent)
    busy = new_conv(world, minutes_ago=2)
    waiting = new_conv(world, minutes_ago=1)
    drain_queue(tenant=world.tenant)
    with scope(tenant=world.tenant):
        set_status(conversation=busy, status="resolved")
    drain_assignment_queue(_event(world, "conversation.status_changed"))
    assert assignee_of(world, waiting) == world.agent.pk


@pytest.mark.parametrize("status", ["away", "offline"])
def test_agents_going_away_or_offline_do_not_drain(world, online, status):
    online(world.agent)
    conv = new_conv(world)
    if status == "away":
        presence.set_availability(membership=world.agent, status="away")
    else:
        presence.connection_closed(
            tenant_id=world.tenant.pk, kind="agent", subject_id=world.agent.pk, connection_id=f"test-{world.agent.pk}"
        )
    drain_assignment_queue(_event(world, "agent.presence_changed"))
    assert assignee_of(world, conv) is None


def test_an_unassigned_conversation_is_not_handed_straight_back_to_its_agent(world, online):
    """An agent who unassigns themselves (or is unassigned by an admin) doesn't get it back from the
    queue a moment later; a colleague does, or it waits in the queue."""
    online(world.agent)
    conv = new_conv(world)
    assert auto_assign(conversation=conv) == world.agent
    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=None, actor=world.agent)
    assert drain_queue(tenant=world.tenant) == 0
    assert assignee_of(world, conv) is None  # still waiting, visible as unassigned

    # Another waiting conversation behind it is still served (the drain doesn't stop at it).
    later = new_conv(world, minutes_ago=0)
    assert assignee_of(world, later) is None
    assert drain_queue(tenant=world.tenant) == 1
    assert assignee_of(world, later) == world.agent.pk

    online(world.agent, world.agent2)
    assert drain_queue(tenant=world.tenant) == 1
    assert assignee_of(world, conv) == world.agent2.pk


def test_an_admin_unassigning_an_agent_sends_it_to_someone_else_and_assignment_clears_the_mark(world, online):
    online(world.agent, world.agent2)
    give(world, world.agent2, 3)  # agent2 is busier: least-loaded would pick agent
    conv = new_conv(world)
    assert auto_assign(conversation=conv) == world.agent
    with scope(tenant=world.tenant):
        assign_conversation(conversation=conv, assignee=None, actor=world.owner)
        assert Conversation.objects.get(pk=conv.pk).released_by_id == world.agent.pk
    assert drain_queue(tenant=world.tenant) == 1
    assert assignee_of(world, conv) == world.agent2.pk
    with scope(tenant=world.tenant):
        assert Conversation.objects.get(pk=conv.pk).released_by_id is None
