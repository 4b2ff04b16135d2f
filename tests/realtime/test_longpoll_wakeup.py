"""Long-poll wake-ups: a waiting poll answers because of the event, and nothing is lost or repeated.

Pins the long-poll latency fix (docs/performance.md, "long-poll latency"): polls of a process
share one bus subscription per group (push/hub.py) instead of joining and leaving every group per poll,
and a poll with a cursor refreshes presence at most once per heartbeat interval.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from push import hub, longpoll, presence
from support.events import fanout
from tests.realtime.conftest import poll_waiting
from tests.realtime.test_longpoll import CSRF, apost, as_agent, start, vpost
from tests.realtime.test_visitor_socket import agent_posts

pytestmark = pytest.mark.django_db(transaction=True)


async def agent_following(http, world, conv_id):
    """An agent long-poll session following ``conv_id`` from seq 1, and its cursor."""
    http.cookies.set("csrftoken", CSRF)
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None, "hello": {"type": "hello", "resume": {conv_id: 1}}})
    assert status == 200 and data["frames"][0]["type"] == "welcome"
    return data["cursor"]


def messages(frames):
    return [(f["message"]["seq"], f["prev_seq"], f["message"]["body"]) for f in frames if f["type"] == "message"]


async def poll_until_message(http, cursor):
    """Poll until an answer has a message (one may first bring only an inbox row, at once)."""
    while True:
        status, data = await apost(http, "poll", {"cursor": cursor})
        assert status == 200, data
        if messages(data["frames"]):
            return data
        cursor = data["cursor"]


async def visitor_sends(http, token, conv_id, client_id, body):
    status, data = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": conv_id, "client_id": client_id, "body": body}]})
    assert status == 200 and data["frames"][0]["type"] == "ack", data


async def test_waiting_agent_poll_answers_because_of_a_visitor_send(world, http, settings):
    settings.LONGPOLL_TIMEOUT_SECONDS = 20  # an answer by timeout would take 20 s
    token, conv_id = await start(http, world)
    cursor = await agent_following(http, world, conv_id)

    for seq, body in [(2, "first"), (3, "second")]:
        async def send_while_waiting(body=body, seq=seq):
            await poll_waiting()
            await visitor_sends(http, token, conv_id, f"c-{seq}", body)

        began = time.monotonic()
        data, _ = await asyncio.gather(poll_until_message(http, cursor), send_while_waiting())
        assert time.monotonic() - began < 10, "the poll answered by its timeout, not because of the send"
        # The message itself (carried by the wake-up or read back), right after the one before it.
        assert messages(data["frames"]) == [(seq, seq - 1, body)]
        cursor = data["cursor"]

    # Nothing twice: the next poll has no message and waits (until the short timeout here).
    settings.LONGPOLL_TIMEOUT_SECONDS = 1
    status, data = await apost(http, "poll", {"cursor": cursor})
    assert messages(data["frames"]) == []


async def test_polls_of_a_process_share_listeners_instead_of_joining_per_poll(world, http, settings, monkeypatch):
    settings.LONGPOLL_TIMEOUT_SECONDS = 20
    token, conv_id = await start(http, world)
    cursor = await agent_following(http, world, conv_id)
    joins = []
    backend = hub.get_hub().backend
    real_subscribe = backend.subscribe

    async def counting_subscribe(groups):
        joins.extend(groups)
        await real_subscribe(groups)

    monkeypatch.setattr(backend, "subscribe", counting_subscribe)
    bodies = []
    for k in range(3):
        async def agent_replies(k=k):
            await poll_waiting()
            await sync_to_async(agent_posts)(world, conv_id, f"reply {k}")

        data, _ = await asyncio.gather(poll_until_message(http, cursor), agent_replies())
        bodies += [b for _, _, b in messages(data["frames"])]
        cursor = data["cursor"]
    assert bodies == ["reply 0", "reply 1", "reply 2"]
    # The first wait joined the session's groups (conversation, inbox, presence); the next two
    # waits found this process already listening.
    assert sorted(joins) == sorted(set(joins)) and len(joins) == 3


async def test_a_lost_wake_up_costs_at_most_the_wait_timeout(world, http, settings, monkeypatch):
    settings.LONGPOLL_TIMEOUT_SECONDS = 1
    token, conv_id = await start(http, world)
    cursor = await agent_following(http, world, conv_id)
    monkeypatch.setattr(fanout, "publish", lambda group, event: None)  # every wake-up is lost
    monkeypatch.setattr(fanout, "publish_inbox", lambda *args, **kwargs: None)

    async def send_while_waiting():
        await poll_waiting()
        await visitor_sends(http, token, conv_id, "lost-1", "nobody woke me")

    (status, data), _ = await asyncio.gather(apost(http, "poll", {"cursor": cursor}), send_while_waiting())
    assert messages(data["frames"]) == []  # answered by its timeout
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert messages(data["frames"]) == [(2, 1, "nobody woke me")]  # read from the database at once


async def test_consecutive_polls_refresh_presence_once_per_heartbeat_interval(world, http, settings, monkeypatch):
    settings.LONGPOLL_TIMEOUT_SECONDS = 1
    token, conv_id = await start(http, world)
    cursor = await agent_following(http, world, conv_id)
    beats = []
    real_heartbeat = presence.connection_heartbeat

    def counting_heartbeat(**kwargs):
        beats.append(kwargs["connection_id"])
        real_heartbeat(**kwargs)

    monkeypatch.setattr(presence, "connection_heartbeat", counting_heartbeat)
    for _ in range(3):
        await agent_posts_async(world, conv_id)
        status, data = await apost(http, "poll", {"cursor": cursor})
        assert status == 200 and messages(data["frames"])
        cursor = data["cursor"]
    assert beats == []  # the hello just counted as one

    # Past the interval the next poll refreshes it again.
    for connection_id in list(longpoll._beats):
        longpoll._beats[connection_id] -= settings.PRESENCE_HEARTBEAT_SECONDS
    await agent_posts_async(world, conv_id)
    status, data = await apost(http, "poll", {"cursor": cursor})
    assert status == 200 and len(beats) == 1


async def agent_posts_async(world, conv_id):
    await sync_to_async(agent_posts)(world, conv_id, "more")
