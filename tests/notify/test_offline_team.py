"""A conversation started while nobody was online: the team is emailed once, through real SMTP."""
from __future__ import annotations

import pytest
from django.db import transaction
from django_scopes import scope

from push.notifications import offline_team
from push.notifications.preferences import set_preferences
from support.events.dispatcher import drain
from support.events.models import OutboxEvent
from support.models import Membership, Message, User
from support.services.conversations import start_conversation
from support.services.messages import post_message
from tests.notify.conftest import text_of


def start_offline(world, body: str = "Do you ship to Canada?", **kwargs):
    with scope(tenant=world.tenant), transaction.atomic():
        conv = start_conversation(tenant=world.tenant, contact=world.contact, offline=True, **kwargs)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body=body)
    return conv


def test_the_team_is_emailed_once_with_the_visitors_message(world, outsider, smtp):
    conv = start_offline(world)
    drain()

    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == sorted([world.owner.user.email, world.agent.user.email, world.agent2.user.email])
    mail = smtp.to(world.agent.user.email)[0]
    assert mail["Subject"] == "New conversation while you were offline: Visitor"
    assert mail["Reply-To"] == world.contact.email
    text = text_of(mail)
    assert "Do you ship to Canada?" in text and f"/app/?conversation={conv.public_id}" in text
    assert not any(outsider.tenant.slug in m["To"] for m in smtp.messages)

    with scope(tenant=world.tenant):
        event = OutboxEvent.objects.get(type="conversation.created")
    assert offline_team.handle_event(event) == 0, "a second run emails nobody again"
    assert len(smtp.messages) == 3


def test_a_team_conversation_goes_to_admins_and_that_team_only(world, smtp):
    with scope(tenant=world.tenant):
        user = User.objects.create_user("carol@acme.example", "pw", display_name="Carol")
        carol = Membership.objects.create(tenant=world.tenant, user=user, role=Membership.Role.AGENT)
        world.team.members.remove(world.agent2)
    start_offline(world, team=world.team)
    drain()
    recipients = {m["To"] for m in smtp.messages}
    assert recipients == {world.owner.user.email, world.agent.user.email}
    assert carol.user.email not in recipients


def test_an_online_start_emails_nobody_and_preferences_are_followed(world, smtp):
    with scope(tenant=world.tenant):
        start_conversation(tenant=world.tenant, contact=world.contact)
    drain()
    assert smtp.messages == []

    set_preferences(membership=world.agent2, changes={"email_offline_conversation": False})
    start_offline(world)
    drain()
    assert world.agent2.user.email not in {m["To"] for m in smtp.messages}
    assert len(smtp.messages) == 2


def test_a_rolled_back_start_emails_nobody(world, smtp):
    with pytest.raises(RuntimeError), scope(tenant=world.tenant), transaction.atomic():
        start_conversation(tenant=world.tenant, contact=world.contact, offline=True)
        raise RuntimeError("rolled back")
    drain()
    assert smtp.messages == []
