"""Seat limits where people are added: invitations beyond the paid seats are refused with a way out."""
from __future__ import annotations

import pytest
from django.db import transaction
from django_scopes import scope

from billing.models import UsageRecord
from billing.subscriptions import SeatLimitReached, change_plan
from support.events.dispatcher import drain
from support.events.handlers import handler_named
from support.events.outbox import emit_event
from support.models import Invitation
from support.services.accounts import invite_member


def test_invitation_beyond_paid_seats_is_refused(world, subscribed):
    invite_member(tenant=world.tenant, invited_by=world.owner, email="four@acme.example", role="agent")
    invite_member(tenant=world.tenant, invited_by=world.owner, email="five@acme.example", role="agent")
    with pytest.raises(SeatLimitReached) as exc:
        invite_member(tenant=world.tenant, invited_by=world.owner, email="six@acme.example", role="agent")
    assert "Add seats" in exc.value.detail
    # Re-inviting someone already pending replaces their invitation: no extra seat needed.
    invite_member(tenant=world.tenant, invited_by=world.owner, email="five@acme.example", role="admin")
    change_plan(tenant=world.tenant, plan_code="pro", seats=6)
    invite_member(tenant=world.tenant, invited_by=world.owner, email="six@acme.example", role="agent")
    with scope(tenant=world.tenant):
        assert Invitation.objects.filter(accepted_at__isnull=True).count() == 3


def test_team_page_shows_the_seat_message(client, world, subscribed):
    client.force_login(world.owner.user)
    for email in ("a@x.example", "b@x.example"):
        assert client.post("/accounts/team/", {"email": email, "role": "agent"}).status_code == 302
    response = client.post("/accounts/team/", {"email": "c@x.example", "role": "agent"})
    assert response.status_code == 400
    assert "seats of your Pro plan are in use" in response.content.decode()


def test_reactivated_members_are_metered(world, subscribed):
    with transaction.atomic():
        event = emit_event(tenant=world.tenant, type="membership.reactivated",
                           payload={"membership": world.agent.public_id})
    drain()
    metering = handler_named("billing.metering")
    assert metering is not None
    with scope(tenant=world.tenant):
        metering.func(event)  # the handler's second run for the same event
    with scope(tenant=world.tenant):
        assert list(UsageRecord.objects.values_list("metric", flat=True)) == ["agent_added"]
