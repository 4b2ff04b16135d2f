"""Long-poll wake-ups on the production stack: PostgreSQL and the Redis pub/sub channel layer.

Skipped with the reason unless DATABASE_URL is PostgreSQL and a Redis URL is set (as test_stack.py).
"""
from __future__ import annotations

import asyncio

import pytest
from channels.layers import get_channel_layer

from push import fanout
from tests.realtime.test_longpoll_wakeup import (  # noqa: F401 - collected again here, on the real stack
    test_a_lost_wake_up_costs_at_most_the_wait_timeout,
    test_polls_of_a_process_share_listeners_instead_of_joining_per_poll,
    test_waiting_agent_poll_answers_because_of_a_visitor_send,
)
from tests.realtime.test_stack import stack  # noqa: F401 - the autouse fixture: PostgreSQL + Redis layer

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


async def test_publishes_queued_together_arrive_in_order_once():
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("t0.cv.1", channel)
    loop = asyncio.get_running_loop()
    for k in range(50):
        fanout._Batch.add(loop, layer, "t0.cv.1", {"type": "conversation.seq", "seq": k})
    got = [(await asyncio.wait_for(layer.receive(channel), 10))["seq"] for _ in range(50)]
    assert got == list(range(50))


async def test_publish_from_the_database_thread_reaches_the_loop(world):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add("t0.inbox", channel)
    loop = asyncio.get_running_loop()

    def from_thread():
        with fanout.sending_on(loop):
            for k in range(3):
                fanout.publish("t0.inbox", {"type": "inbox.changed", "conversation": k})

    await asyncio.to_thread(from_thread)
    got = [(await asyncio.wait_for(layer.receive(channel), 10))["conversation"] for _ in range(3)]
    assert got == [0, 1, 2]
