"""Writes that transports used to make themselves, now services: a visitor's first message starts
its conversation once per client_id; an agent's availability is a membership change."""
from __future__ import annotations

import pytest
from django_scopes import scope

from support.models import Conversation, Membership, Message
from support.services.accounts import set_availability
from support.services.conversations import start_visitor_conversation

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_first_message_starts_one_conversation_per_client_id(world):
    with scope(tenant=world.tenant):
        first, conv = start_visitor_conversation(tenant=world.tenant, contact=world.contact, client_id="c-1",
                                                 body="Hello", attachment=None, offline=True)
        retried, same = start_visitor_conversation(tenant=world.tenant, contact=world.contact, client_id="c-1",
                                                   body="Hello", attachment=None, offline=True)
        assert (retried.pk, same.pk) == (first.pk, conv.pk)
        assert conv.offline and conv.contact_id == world.contact.pk
        assert (first.body, first.author_type, first.kind) == ("Hello", Message.Author.CONTACT, Message.Kind.TEXT)
        other, second = start_visitor_conversation(tenant=world.tenant, contact=world.contact, client_id="c-2",
                                                   body="Again", attachment=None, offline=False)
        assert second.pk != conv.pk and not second.offline
        assert Conversation.objects.filter(contact=world.contact).count() == 2


def test_availability_is_saved_on_the_membership(world):
    set_availability(membership=world.agent, status=Membership.Availability.AWAY)
    with scope(tenant=world.tenant):
        assert Membership.objects.get(pk=world.agent.pk).availability == Membership.Availability.AWAY
    assert world.agent.availability == Membership.Availability.AWAY
    with pytest.raises(ValueError, match="status must be one of"):
        set_availability(membership=world.agent, status="asleep")
