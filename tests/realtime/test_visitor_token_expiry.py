"""Visitor tokens expire (VISITOR_TOKEN_MAX_AGE_DAYS) and bootstraps renew them at most daily (sliding)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core import signing
from django.utils import timezone

from support.services.visitors import Unauthenticated, bootstrap_visitor, contact_from_token, visitor_token
from tests.realtime.conftest import SITE, in_tenant, open_visitor
from tests.realtime.test_longpoll import start, vpost
from tests.realtime.test_widget import boot

pytestmark = pytest.mark.django_db(transaction=True)

DAY = timedelta(days=1)


def token_issued(world, days_ago: float) -> str:
    """A token for the world's visitor as if issued ``days_ago`` days ago."""
    return visitor_token(world.contact, now=timezone.now() - days_ago * DAY)


def first_format_token(world) -> str:
    """A token of the first, untimestamped format (plain Signer, the old salt)."""
    return signing.Signer(salt="switchboard.visitor-token").sign_object(
        {"t": world.tenant.public_id, "c": world.contact.public_id}
    )


async def test_bootstrap_renews_a_valid_token_for_the_same_contact(world, http):
    old = await sync_to_async(token_issued)(world, 179)
    status, data = await boot(http, world.tenant, visitor_token=old)
    assert status == 200
    assert data["contact"]["id"] == world.contact.public_id
    fresh = data["visitor_token"]
    assert fresh != old
    later = timezone.now() + 100 * DAY
    # The renewed token lives on; the one it replaced runs out on its own schedule.
    assert (await sync_to_async(contact_from_token)(fresh, now=later)).public_id == world.contact.public_id
    with pytest.raises(Unauthenticated, match="expired"):
        await sync_to_async(contact_from_token)(old, now=later)


def test_an_active_visitor_keeps_their_contact_for_ever(world):
    """Bootstrapping every 100 days for years: always the same contact and conversations."""
    t0 = timezone.now()
    session = bootstrap_visitor(tenant=world.tenant, now=t0)
    contact_id = session.contact.pk
    token = session.token
    for step in range(1, 8):
        session = bootstrap_visitor(tenant=world.tenant, token=token, now=t0 + step * 100 * DAY)
        assert session.contact.pk == contact_id
        token = session.token
    # Away longer than the limit: a new anonymous visitor.
    away = bootstrap_visitor(tenant=world.tenant, token=token, now=t0 + (700 + 181) * DAY)
    assert away.contact.pk != contact_id


@pytest.mark.parametrize("make_token", [
    lambda world: token_issued(world, 181),
    lambda world: token_issued(world, 180.01),
    lambda world: first_format_token(world),
    lambda world: token_issued(world, 1)[:-2] + "xx",  # tampered signature
], ids=["expired", "just-expired", "first-format", "tampered"])
async def test_a_refused_token_at_bootstrap_starts_a_new_anonymous_visitor(world, http, make_token):
    token, conv_id = await start(http, world)  # some other visitor's conversation, to be sure it stays theirs
    bad = await sync_to_async(make_token)(world)
    status, data = await boot(http, world.tenant, visitor_token=bad)
    assert status == 200, data
    assert data["contact"]["id"] != world.contact.public_id
    assert data["contact"]["verified"] is False and data["conversations"] == []
    # The new token works.
    fresh_contact = await sync_to_async(contact_from_token)(data["visitor_token"])
    assert fresh_contact.public_id == data["contact"]["id"]


@pytest.mark.parametrize("make_token", [
    lambda world: token_issued(world, 181),
    lambda world: first_format_token(world),
    lambda world: token_issued(world, 1)[:-2] + "xx",
], ids=["expired", "first-format", "tampered"])
async def test_a_refused_token_cannot_open_a_socket_or_poll(world, http, make_token):
    bad = await sync_to_async(make_token)(world)
    sock = await open_visitor(bad)
    error = await sock.recv()
    assert (error["type"], error["code"]) == ("error", "unauthenticated")
    assert await sock.closed_code() == 4401
    status, data = await vpost(http, "poll", {"token": bad, "cursor": None, "hello": {"type": "hello"}})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")
    status, data = await vpost(http, "send", {"token": bad, "frames": [
        {"type": "send", "conversation": None, "client_id": "c-1", "body": "hi"}]})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")


async def test_a_valid_token_still_opens_a_socket(world):
    token = await sync_to_async(token_issued)(world, 179)
    sock = await open_visitor(token)
    assert (await sock.recv_type("welcome"))["type"] == "welcome"
    await sock.close()


async def test_the_lifetime_is_a_setting(world, http, settings):
    settings.VISITOR_TOKEN_MAX_AGE_DAYS = 2
    young, old = await sync_to_async(token_issued)(world, 1.9), await sync_to_async(token_issued)(world, 2.1)
    assert (await sync_to_async(contact_from_token)(young)).public_id == world.contact.public_id
    with pytest.raises(Unauthenticated, match="expired"):
        await sync_to_async(contact_from_token)(old)
    status, data = await boot(http, world.tenant, visitor_token=old)
    assert status == 200 and data["contact"]["id"] != world.contact.public_id


def test_a_token_never_names_a_contact_of_another_tenant(world, outsider):
    token = visitor_token(outsider.contact)
    session = bootstrap_visitor(tenant=world.tenant, token=token)
    assert session.contact.tenant_id == world.tenant.pk
    with in_tenant(world.tenant):
        assert session.contact.pk != outsider.contact.pk
    assert contact_from_token(token).tenant.pk == outsider.tenant.pk  # the token itself is fine, elsewhere


def test_malformed_tokens_are_refused_not_crashing(world):
    for bad in ["", "x" * 301, 7, None, ["a"], "a:b", "a:b:c", ":::", SITE]:
        with pytest.raises(Unauthenticated):
            contact_from_token(bad)


def test_a_token_younger_than_a_day_is_handed_back_unchanged(world):
    """Quick reloads and several tabs share one stable token; renewal happens at most daily."""
    t0 = timezone.now()
    session = bootstrap_visitor(tenant=world.tenant, now=t0)
    again = bootstrap_visitor(tenant=world.tenant, token=session.token, now=t0 + timedelta(hours=23))
    assert again.token == session.token and again.contact.pk == session.contact.pk
    renewed = bootstrap_visitor(tenant=world.tenant, token=session.token, now=t0 + timedelta(hours=25))
    assert renewed.token != session.token and renewed.contact.pk == session.contact.pk
