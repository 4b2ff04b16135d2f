"""support/access.py, the one way to fetch a tenant's objects by their public id: another
tenant's id is refused exactly like a missing one, and so is anything that is not an id."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from support import access
from support.errors import NotFound
from support.models import ApiToken, Attachment, CannedResponse, Contact, Conversation, Invitation, Label, Team

pytestmark = pytest.mark.django_db


def _invitation(world, name):
    return Invitation.objects.create(
        tenant=world.tenant, email=f"{name}@{world.tenant.slug}.example", role="agent", invited_by=world.owner.user,
        token_hash=f"{name}-{world.tenant.slug}".ljust(64, "0"), expires_at=timezone.now() + timedelta(days=1))


def _objects(world):
    """One row of every kind the access functions fetch, in ``world``'s tenant."""
    tenant = world.tenant
    with scope(tenant=tenant):
        conv = Conversation.objects.create(tenant=tenant, contact=world.contact)
        return {
            "conversation": (access.access_conversation, conv),
            "contact": (access.access_contact, world.contact),
            "agent": (access.access_member, world.agent),
            "member": (access.access_membership_any_state, world.agent2),
            "team": (access.access_team, world.team),
            "label": (access.access_label, Label.objects.create(tenant=tenant, name="refund")),
            "canned response": (access.access_canned, CannedResponse.objects.create(
                tenant=tenant, shortcut="hi", body="Hello")),
            "attachment": (access.access_attachment, Attachment.objects.create(
                tenant=tenant, name="a.txt", content_type="text/plain", size=1, file="a.txt")),
            "token": (access.access_token, ApiToken.objects.create(
                tenant=tenant, name="ci", created_by=world.owner.user, prefix=f"sb_{tenant.slug}",
                secret_hash="0" * 64)),
            "invitation": (lambda t, i: access.access_invitation(t, i, pending=True), _invitation(world, "new")),
        }


def test_each_access_function_finds_its_own_tenants_row_and_refuses_anothers(world, outsider):
    ours, theirs = _objects(world), _objects(outsider)
    assert ours.keys() == theirs.keys()
    for what, (fetch, row) in ours.items():
        assert fetch(world.tenant, row.public_id).pk == row.pk, what
        with pytest.raises(NotFound) as foreign:
            fetch(world.tenant, theirs[what][1].public_id)  # a real id, of the other tenant
        with pytest.raises(NotFound) as missing:
            fetch(world.tenant, row.public_id[:-2] + "zz")
        assert foreign.value.detail == missing.value.detail == f"No such {what}", what


@pytest.mark.parametrize("not_an_id", [None, "", 42, ["co_x"], {"id": "co_x"}, "co_" + "x" * 40])
def test_anything_but_an_id_is_not_found_before_any_query(world, not_an_id, django_assert_num_queries):
    with django_assert_num_queries(0), pytest.raises(NotFound):
        access.access_conversation(world.tenant, not_an_id)
    with django_assert_num_queries(0), pytest.raises(NotFound):
        access.access_tenant(not_an_id)


def test_by_public_id_names_the_tenant_even_on_an_unscoped_queryset(world, outsider):
    """A queryset that forgot its tenant still finds nothing of another one."""
    with scopes_disabled():
        everyone = Contact.objects.all()
        assert access.by_public_id(everyone, world.contact.public_id, tenant=world.tenant, what="contact") \
            == world.contact
        with pytest.raises(NotFound):
            access.by_public_id(everyone, outsider.contact.public_id, tenant=world.tenant, what="contact")


def test_a_deactivated_member_is_no_agent_but_still_a_member_to_manage(world):
    with scopes_disabled():
        type(world.agent).objects.filter(pk=world.agent.pk).update(is_active=False)
    with pytest.raises(NotFound):
        access.access_member(world.tenant, world.agent.public_id)
    assert access.access_membership_any_state(world.tenant, world.agent.public_id).pk == world.agent.pk


def test_access_tenant(world, outsider):
    assert access.access_tenant(world.tenant.public_id) == world.tenant
    with pytest.raises(NotFound):
        access.access_tenant(world.tenant.public_id[:-2] + "zz")


def test_no_team_or_invitation_of_a_pending_filter_leaks(world):
    with scope(tenant=world.tenant):
        accepted = _invitation(world, "old")
        Invitation.objects.filter(pk=accepted.pk).update(accepted_at=timezone.now())
    with pytest.raises(NotFound):
        access.access_invitation(world.tenant, accepted.public_id, pending=True)
    assert access.access_invitation(world.tenant, accepted.public_id, pending=False).pk == accepted.pk
    assert isinstance(access.access_team(world.tenant, world.team.public_id), Team)


def test_an_event_handlers_row_is_found_in_the_events_tenant_or_is_gone(world, outsider):
    """``find_by_public_id``: what outbox handlers use for the ids in an event's payload."""
    with scopes_disabled():
        contacts = Contact.objects.all()
        assert access.find_by_public_id(contacts, world.contact.public_id, tenant=world.tenant.pk) == world.contact
        assert access.find_by_public_id(contacts, outsider.contact.public_id, tenant=world.tenant.pk) is None
        assert access.find_by_public_id(contacts, None, tenant=world.tenant) is None
