"""Parked long-poll connections (push/longpoll.py): between two polls a connection stays in the
process that answered, listening; its next poll is answered from memory — and only when it carries
that answer's cursor and the same credentials, else it is served in full as before.
"""
from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from push import longpoll
from support.models import Tenant
from tests.realtime.conftest import poll_waiting, visitor_token
from tests.realtime.test_longpoll import apost, first_poll, start, vpost
from tests.realtime.test_longpoll_app import database_trips  # noqa: F401 - a fixture
from tests.realtime.test_longpoll_wakeup import agent_following, visitor_sends
from tests.realtime.test_visitor_socket import agent_posts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def inbox_rows_with_their_wake_ups(settings):
    """These tests follow what each poll of a parked agent answers, message by message: its inbox
    rows come with the wake-ups that carry them (unpaced), not up to an interval later from the
    tenant's inbox feed, which would answer a poll of its own (that path:
    tests/realtime/test_longpoll_inbox_feed.py)."""
    settings.RT_INBOX_COALESCE_MS = 0


def bodies(data):
    return [f["message"]["body"] for f in data["frames"] if f["type"] == "message"]


def trips_of(database_trips, task):  # noqa: F811 - the fixture's value
    return [name for t, name in database_trips if t is task]


async def parked_visitor(http, world):
    """A visitor whose last poll was answered by a wake-up, so its connection is parked: token, conversation, cursor."""
    token, conv_id = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    poll = asyncio.create_task(vpost(http, "poll", {"token": token, "cursor": cursor}))
    await poll_waiting()
    await sync_to_async(agent_posts)(world, conv_id, "first")
    status, data = await poll
    assert (status, bodies(data)) == (200, ["first"])
    return token, conv_id, data["cursor"]


async def parked_agent(http, world):
    """An agent following a conversation whose last poll was answered by a visitor's message:
    the visitor's token, the conversation, the agent's answer."""
    token, conv_id = await start(http, world)
    cursor = await agent_following(http, world, conv_id)
    poll = asyncio.create_task(apost(http, "poll", {"cursor": cursor}))
    await poll_waiting()
    await visitor_sends(http, token, conv_id, "c-2", "one")
    status, data = await poll
    assert status == 200 and data["frames"]
    return token, conv_id, data


async def test_a_poll_whose_groups_are_still_subscribed_and_quiet_does_not_read_again(world, http, database_trips):  # noqa: F811
    token, conv_id, cursor = await parked_visitor(http, world)
    # The next poll: its connection stayed parked here, listening, since the last answer, and nothing
    # came since: no trip at all (not even to check who it is: verified less than REVERIFY_SECONDS ago).
    poll = asyncio.create_task(vpost(http, "poll", {"token": token, "cursor": cursor}))
    await poll_waiting()
    assert trips_of(database_trips, poll) == []
    await sync_to_async(agent_posts)(world, conv_id, "next")
    status, data = await poll
    assert bodies(data) == ["next"]


async def test_wake_ups_between_two_polls_are_answered_from_memory(world, http, database_trips):  # noqa: F811
    token, conv_id, cursor = await parked_visitor(http, world)
    await sync_to_async(agent_posts)(world, conv_id, "a", "b")  # while no poll of this client waits
    poll = asyncio.create_task(vpost(http, "poll", {"token": token, "cursor": cursor}))
    status, data = await poll
    assert bodies(data) == ["a", "b"]
    assert [f["prev_seq"] for f in data["frames"] if f["type"] == "message"] == [2, 3]
    assert trips_of(database_trips, poll) == []


async def test_a_retried_poll_whose_answer_was_lost_gets_the_same_frames_again(world, http):
    token, conv_id, cursor = await parked_visitor(http, world)
    await sync_to_async(agent_posts)(world, conv_id, "a")
    status, lost = await vpost(http, "poll", {"token": token, "cursor": cursor})  # answered from memory
    assert bodies(lost) == ["a"]
    # The client never saw that answer and retries with the cursor it had: the process no longer
    # holds the connection as that cursor left it, so the poll reads the database after it.
    status, retry = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert (status, bodies(retry)) == (200, ["a"])
    assert [f["prev_seq"] for f in retry["frames"] if f["type"] == "message"] == [2]
    await sync_to_async(agent_posts)(world, conv_id, "b")
    status, after = await vpost(http, "poll", {"token": token, "cursor": retry["cursor"]})
    assert bodies(after) == ["b"]


async def test_a_parked_cursor_with_other_credentials_is_served_in_full_and_refused(world, http):
    token, conv_id, cursor = await parked_visitor(http, world)
    other = await visitor_token(world.tenant)  # another visitor of the same tenant
    status, data = await vpost(http, "poll", {"token": other, "cursor": cursor})
    assert (status, data["error"]["code"]) == (400, "bad_cursor")
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor}, origin="https://evil.example")
    assert status == 403
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor + "x"})
    assert (status, data["error"]["code"]) == (400, "bad_cursor")


async def test_a_signed_out_agent_is_refused_once_its_identity_is_due_for_a_check(world, http, monkeypatch):
    token, conv_id, data = await parked_agent(http, world)

    def change_password():
        user = world.agent.user
        user.set_password("another-Secret-9")
        user.save()

    await sync_to_async(change_password)()  # every session of that user ends
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")


async def test_an_agent_parked_between_polls_gets_what_came_meanwhile_without_a_trip(world, http, database_trips):  # noqa: F811
    token, conv_id, data = await parked_agent(http, world)
    seen = bodies(data)
    await visitor_sends(http, token, conv_id, "c-3", "two")
    while "two" not in seen:
        poll = asyncio.create_task(apost(http, "poll", {"cursor": data["cursor"]}))
        status, data = await poll
        assert trips_of(database_trips, poll) == []
        seen += bodies(data)
    assert seen == ["one", "two"]


async def test_a_parked_connection_that_missed_too_much_reads_the_database(world, http, monkeypatch, database_trips):  # noqa: F811
    monkeypatch.setattr(longpoll, "PARKED_EVENTS_MAX", 1)
    token, conv_id, cursor = await parked_visitor(http, world)
    await sync_to_async(agent_posts)(world, conv_id, "a", "b", "c")
    poll = asyncio.create_task(vpost(http, "poll", {"token": token, "cursor": cursor}))
    status, data = await poll
    assert bodies(data) == ["a", "b", "c"]
    assert trips_of(database_trips, poll) != []  # no longer parked: served in full


async def test_a_visitor_refused_since_their_last_request_is_refused_once_due_for_a_check(world, http, monkeypatch):
    token, conv_id = await start(http, world)  # verified: their next requests skip the look-ups for a while

    def require_verification():
        world.tenant.identity_verification = Tenant.Verification.REQUIRED
        world.tenant.save()

    await sync_to_async(require_verification)()
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)
    status, data = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "again"}]})
    assert (status, data["error"]["code"]) == (403, "verification_required")
