"""End to end through the real outbox dispatcher: the committed events trigger assignment."""
from __future__ import annotations

from django_scopes import scope

from push import presence
from support.events import dispatcher
from support.models import Contact, Conversation
from support.services.conversations import set_status, start_conversation


def start(world, name="V"):
    with scope(tenant=world.tenant):
        return start_conversation(tenant=world.tenant, contact=Contact.objects.create(tenant=world.tenant, name=name))


def assignee_of(world, conv):
    with scope(tenant=world.tenant):
        return Conversation.objects.get(pk=conv.pk).assignee_id


def test_a_new_conversation_is_assigned_by_the_dispatcher(world, online):
    online(world.agent)
    conv = start(world)
    assert assignee_of(world, conv) is None  # nothing happens inside the creating transaction
    dispatcher.drain()
    assert assignee_of(world, conv) == world.agent.pk


def test_the_queue_is_drained_when_an_agent_connects_and_when_capacity_frees(world, online):
    world.agent.capacity = 1
    world.agent.save(update_fields=["capacity"])
    first, second = start(world, "first"), start(world, "second")
    dispatcher.drain()
    assert assignee_of(world, first) is None and assignee_of(world, second) is None  # nobody online

    online(world.agent)  # writes agent.presence_changed (offline -> online)
    dispatcher.drain()
    assert assignee_of(world, first) == world.agent.pk
    assert assignee_of(world, second) is None  # at capacity

    with scope(tenant=world.tenant):
        set_status(conversation=first, status="resolved")
    dispatcher.drain()
    assert assignee_of(world, second) == world.agent.pk


def test_setting_yourself_available_again_drains_the_queue(world, online):
    online(world.agent)
    presence.set_availability(membership=world.agent, status="away")
    conv = start(world)
    dispatcher.drain()
    assert assignee_of(world, conv) is None
    presence.set_availability(membership=world.agent, status="available")
    dispatcher.drain()
    assert assignee_of(world, conv) == world.agent.pk
