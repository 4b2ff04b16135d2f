"""The lean long-poll path's shortcuts refuse what the full path refuses (issue 16, item 3).

A visitor verified by this process less than ``REVERIFY_SECONDS`` ago sends without a trip to a
request thread (only the group commit's write), and a parked poll due for its identity check makes
one trip for just that (``push.longpoll._recheck``) instead of being served in full. Each still
refuses foreign ids, other origins, over-limit requests, oversized or malformed bodies, and a
subject refused since.
"""
from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async

from push import hub, longpoll, longpoll_app
from support.models import Tenant
from tests.realtime.conftest import SITE, poll_waiting, visitor_token
from tests.realtime.test_longpoll import apost, start, vpost
from tests.realtime.test_longpoll_app import agent_posts_after_the_read, database_trips  # noqa: F401 - a fixture
from tests.realtime.test_longpoll_parked import (  # noqa: F401 - an autouse fixture
    bodies,
    inbox_rows_with_their_wake_ups,
    parked_agent,
    parked_visitor,
)
from tests.realtime.test_longpoll_wakeup import visitor_sends
from tests.realtime.test_visitor_socket import agent_posts, messages_of

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def calls(monkeypatch):
    """Calls of the long-poll path's database trips and of the request threads' pool, by name."""
    seen: list[str] = []

    def counting(name, real):
        def wrapper(*args, **kwargs):
            seen.append(name)
            return real(*args, **kwargs)
        return wrapper

    for name in ("_start", "_recheck"):
        monkeypatch.setattr(longpoll, name, counting(name, getattr(longpoll, name)))
    monkeypatch.setattr(longpoll_app._threads, "take", counting("take", longpoll_app._threads.take))
    return seen


def send(conv_id, client_id, body="b"):
    return {"type": "send", "conversation": conv_id, "client_id": client_id, "body": body}


async def test_a_known_visitors_send_borrows_no_thread_and_writes_through_the_group_commit(
    world, http, calls, database_trips  # noqa: F811
):
    token, conv_id = await start(http, world)
    calls.clear()
    task = asyncio.create_task(vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-2", "two")]}))
    status, data = await task
    assert (status, data["frames"][0]["type"]) == (200, "ack")
    assert calls == []
    assert [name for t, name in database_trips if t is task] == []  # the write is the group commit's task
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hello"), (2, "two")]


async def test_a_known_visitor_is_refused_other_tenants_and_other_visitors_conversations(world, outsider, http, calls):
    token, conv_id = await start(http, world)
    _, theirs = await start(http, outsider)
    neighbour, next_door = await start(http, world, client_id="n-1")  # another visitor of the same tenant
    calls.clear()
    status, data = await vpost(http, "send", {"token": token, "frames": [
        send(theirs, "x-1"), send(next_door, "x-2"), send("c_doesnotexist", "x-3"), send(conv_id, "x-4")]})
    assert calls == []  # the shortcut answered
    assert [f.get("code", f["type"]) for f in data["frames"]] == ["not_found", "not_found", "not_found", "ack"]
    assert await sync_to_async(messages_of)(outsider, theirs) == [(1, "hello")]
    assert await sync_to_async(messages_of)(world, next_door) == [(1, "hello")]


async def test_a_known_token_from_another_origin_is_verified_and_refused(world, http, calls):
    token, conv_id = await start(http, world)
    calls.clear()
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-2")]},
                               origin="https://evil.example")
    assert (status, data["error"]["code"]) == (403, "origin_forbidden")
    assert calls == ["take", "_start"]  # not the shortcut: that token was never verified with that Origin


async def test_a_known_visitors_requests_count_in_the_per_ip_limit(world, http, settings, calls):
    settings.RT_IP_POLLS_PER_MINUTE = 2  # per request; the first send's frame counts once more (send.ip)
    token, conv_id = await start(http, world)
    calls.clear()
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-2")]})
    assert (status, data["error"]["code"]) == (429, "rate_limited")
    assert calls == []
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hello")]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{bad", {}, 400, "bad_json"),
        (b"[]", {}, 400, "bad_json"),
        (None, {}, 413, "too_large"),  # more frames than RT_LONGPOLL_FRAMES_MAX
        (b"x" * 300_000, {}, 413, "too_large"),  # over RT_LONGPOLL_BODY_MAX_BYTES
        (b"{}", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
    ],
)
async def test_a_known_visitors_malformed_or_oversized_body_is_refused(world, http, body, headers, status, code):
    token, conv_id = await start(http, world)
    if body is None:
        body = json.dumps({"token": token, "frames": [{"type": "ping"}] * 21}).encode()
    response = await http.post("/rt/visitor/send", content=body,
                               headers={"Origin": SITE, "Content-Type": "application/json", **headers})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


async def test_a_known_visitor_refused_since_is_refused_once_due(world, http, monkeypatch):
    token, conv_id = await start(http, world)
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-2")]})
    assert data["frames"][0]["type"] == "ack"

    def block():
        world.tenant.identity_verification = Tenant.Verification.REQUIRED
        world.tenant.save()

    await sync_to_async(block)()
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-3")]})
    assert (status, data["error"]["code"]) == (403, "verification_required")
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hello"), (2, "b")]


async def test_a_parked_poll_due_for_its_identity_check_makes_that_trip_only_and_misses_nothing(
    world, http, monkeypatch, calls
):
    token, conv_id, data = await parked_agent(http, world)
    await visitor_sends(http, token, conv_id, "c-3", "two")  # while the agent's connection is parked
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)
    calls.clear()
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert status == 200 and bodies(data) == ["two"]
    assert calls == ["take", "_recheck"]  # no restore, no catch-up: the rest came from memory
    # And it is parked again: the next poll (identity fresh again) needs no trip.
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 10.0)
    await visitor_sends(http, token, conv_id, "c-4", "three")
    calls.clear()
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert bodies(data) == ["three"] and calls == []


async def test_a_parked_poll_refused_at_its_identity_check_leaves_its_groups(world, http, monkeypatch):
    token, conv_id, cursor = await parked_visitor(http, world)
    the_hub = hub.get_hub()
    members = sum(len(m) for m in the_hub.subscribers.values())

    def block():
        world.tenant.identity_verification = Tenant.Verification.REQUIRED
        world.tenant.save()

    await sync_to_async(block)()
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert (status, data["error"]["code"]) == (403, "verification_required")
    assert sum(len(m) for m in the_hub.subscribers.values()) < members  # nobody listens for it any more
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})  # nor holds it
    assert (status, data["error"]["code"]) == (403, "verification_required")


async def test_a_parked_cursor_presented_by_another_visitor_is_still_refused_when_due(world, http, monkeypatch):
    token, conv_id, cursor = await parked_visitor(http, world)
    other = await visitor_token(world.tenant)
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)
    status, data = await vpost(http, "poll", {"token": other, "cursor": cursor})
    assert (status, data["error"]["code"]) == (400, "bad_cursor")
    # The owner's own poll is still answered, with what came meanwhile.
    await sync_to_async(agent_posts)(world, conv_id, "a")
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert (status, bodies(data)) == (200, ["a"])


async def test_a_parked_poll_due_for_its_heartbeat_refreshes_presence_in_its_one_trip(
    world, http, settings, monkeypatch, calls
):
    token, conv_id, cursor = await parked_visitor(http, world)
    beats = []
    monkeypatch.setattr(longpoll.presence, "connection_heartbeat", lambda **kwargs: beats.append(kwargs))
    for connection_id in list(longpoll._beats):
        longpoll._beats[connection_id] -= settings.PRESENCE_HEARTBEAT_SECONDS
    await sync_to_async(agent_posts)(world, conv_id, "a")
    calls.clear()
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert (status, bodies(data)) == (200, ["a"])
    assert calls == ["take", "_recheck"] and len(beats) == 1
    poll = asyncio.create_task(vpost(http, "poll", {"token": token, "cursor": data["cursor"]}))
    await poll_waiting()
    assert len(beats) == 1  # refreshed once per interval
    await sync_to_async(agent_posts)(world, conv_id, "b")
    assert bodies((await poll)[1]) == ["b"]


async def test_an_answer_read_while_a_message_came_parks_with_a_re_read_not_a_full_poll(
    world, http, monkeypatch, calls
):
    token, conv_id, cursor = await parked_visitor(http, world)
    await sync_to_async(agent_posts)(world, conv_id, "a")
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 0)  # served in full: the retried older cursor below
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert bodies(data) == ["a"]
    # The agent posts after this poll's read, before its answer.
    real = agent_posts_after_the_read(monkeypatch, world, conv_id, "between")
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})  # the older cursor: in full
    assert bodies(data) == ["a"]
    monkeypatch.setattr(longpoll, "_start", real)
    monkeypatch.setattr(longpoll, "REVERIFY_SECONDS", 10.0)
    calls.clear()
    status, data = await vpost(http, "poll", {"token": token, "cursor": data["cursor"]})
    assert (status, bodies(data)) == (200, ["between"])
    assert "_start" not in calls  # parked, with at most a re-read after the answer (not a restore)


async def renewed(key):
    while key in longpoll._renewing:
        await asyncio.sleep(0.01)


async def test_a_known_visitor_half_way_to_the_check_is_renewed_in_the_background(world, http, calls):
    token, conv_id = await start(http, world)
    key = (token, SITE)
    contact, verified_at = longpoll._visitors[key]
    longpoll._visitors[key] = (contact, verified_at - longpoll.REVERIFY_SECONDS * 0.6)
    calls.clear()
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-2")]})
    assert data["frames"][0]["type"] == "ack"
    assert calls == []  # answered with the known identity, not after a verification
    await renewed(key)
    assert longpoll._visitors[key][1] >= verified_at  # verified again meanwhile


async def test_a_known_visitor_refused_since_is_dropped_by_the_renewal(world, http):
    token, conv_id = await start(http, world)
    key = (token, SITE)
    contact, verified_at = longpoll._visitors[key]
    longpoll._visitors[key] = (contact, verified_at - longpoll.REVERIFY_SECONDS * 0.6)

    def block():
        world.tenant.identity_verification = Tenant.Verification.REQUIRED
        world.tenant.save()

    await sync_to_async(block)()
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-2")]})
    assert data["frames"][0]["type"] == "ack"  # still within REVERIFY_SECONDS of its last check
    await renewed(key)
    assert key not in longpoll._visitors
    status, data = await vpost(http, "send", {"token": token, "frames": [send(conv_id, "c-3")]})
    assert (status, data["error"]["code"]) == (403, "verification_required")


async def checked_ahead(keep):
    while keep.checking:
        await asyncio.sleep(0.01)


def parked_keep(cursor):
    state = longpoll.load_cursor(cursor)
    return longpoll._parked_of(hub.get_hub())[state.connection_id].keep


async def test_a_parked_poll_half_way_to_its_check_is_checked_in_the_background(world, http, calls):
    token, conv_id, data = await parked_agent(http, world)
    keep = parked_keep(data["cursor"])
    keep.verified_at -= longpoll.REVERIFY_SECONDS * 0.6
    verified_at = keep.verified_at
    await visitor_sends(http, token, conv_id, "c-3", "two")
    calls.clear()
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert (status, bodies(data)) == (200, ["two"])
    assert "take" not in calls  # answered from memory, not after the check
    await checked_ahead(keep)
    assert calls == ["_recheck"] and keep.verified_at > verified_at and not keep.refused


async def test_a_signed_out_agent_is_refused_after_the_background_check(world, http):
    token, conv_id, data = await parked_agent(http, world)
    keep = parked_keep(data["cursor"])
    keep.verified_at -= longpoll.REVERIFY_SECONDS * 0.6

    def change_password():
        user = world.agent.user
        user.set_password("another-Secret-9")
        user.save()

    await sync_to_async(change_password)()  # every session of that user ends
    await visitor_sends(http, token, conv_id, "c-3", "two")
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert (status, bodies(data)) == (200, ["two"])  # still within REVERIFY_SECONDS of the last check
    await checked_ahead(keep)
    assert keep.refused
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")
