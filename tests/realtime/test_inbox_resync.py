"""An agent away while more conversations changed than a catch-up replays is told to reload the
inbox (`inbox_resync`), over long-poll and in a socket's welcome; fewer are replayed one by one."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from django_scopes import scope

from push.protocol.inbox import INBOX_CATCHUP_MAX
from support.models import Conversation
from tests.realtime.conftest import open_agent
from tests.realtime.test_longpoll import apost, as_agent

pytestmark = pytest.mark.django_db(transaction=True)


def change_conversations(world, count: int) -> None:
    """``count`` conversations changed now (each bumps ``updated_at`` past the watermark)."""
    with scope(tenant=world.tenant):
        Conversation.objects.bulk_create([
            Conversation(tenant=world.tenant, contact=world.contact, queued_at=timezone.now()) for _ in range(count)
        ])


async def first_agent_poll(http, world) -> dict:
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None, "hello": {"type": "hello"}})
    assert status == 200 and data["frames"][0]["type"] == "welcome"
    return data


async def test_long_poll_sends_inbox_resync_when_the_catch_up_overflows(world, http):
    cursor = (await first_agent_poll(http, world))["cursor"]
    await sync_to_async(change_conversations)(world, INBOX_CATCHUP_MAX + 1)
    status, data = await apost(http, "poll", {"cursor": cursor})
    assert status == 200
    types = [f["type"] for f in data["frames"]]
    assert types.count("conversation") == INBOX_CATCHUP_MAX
    assert types[-1] == "inbox_resync" and types.count("inbox_resync") == 1


async def test_long_poll_replays_a_catch_up_that_fits_without_inbox_resync(world, http):
    cursor = (await first_agent_poll(http, world))["cursor"]
    await sync_to_async(change_conversations)(world, 3)
    status, data = await apost(http, "poll", {"cursor": cursor})
    assert status == 200
    assert [f["type"] for f in data["frames"]] == ["conversation"] * 3


async def test_a_socket_welcome_says_inbox_resync_when_the_catch_up_overflows(world):
    first = await open_agent(world.agent)
    since = (await first.recv_type("welcome"))["inbox_since"]
    await first.close()
    await sync_to_async(change_conversations)(world, INBOX_CATCHUP_MAX + 1)
    again = await open_agent(world.agent, hello={"inbox_since": since})
    welcome = await again.recv_type("welcome")
    assert welcome["inbox_resync"] is True
    await again.close()
