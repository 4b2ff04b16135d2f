"""Long-poll wake-ups on the production stack: PostgreSQL and the hub on Redis pub/sub.

Skipped with the reason unless DATABASE_URL is PostgreSQL and a Redis URL is set (as test_stack.py).
"""
from __future__ import annotations

import asyncio

import pytest

from push import hub
from support.events import fanout
from tests.realtime.test_longpoll_wakeup import (  # noqa: F401 - collected again here, on the real stack
    test_a_lost_wake_up_costs_at_most_the_wait_timeout,
    test_polls_of_a_process_share_listeners_instead_of_joining_per_poll,
    test_waiting_agent_poll_answers_because_of_a_visitor_send,
)
from tests.realtime.test_stack import stack  # noqa: F401 - the autouse fixture: PostgreSQL + Redis bus

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


class Collector:
    def __init__(self) -> None:
        self.events: asyncio.Queue = asyncio.Queue()

    def wake(self, event):
        self.events.put_nowait(event)

    def resync(self):
        self.events.put_nowait({"type": "_resync"})

    async def next(self):
        return await asyncio.wait_for(self.events.get(), 10)


async def test_publishes_queued_together_arrive_in_order_once():
    bus = hub.get_hub()
    collector = Collector()
    await bus.join(["t0.cv.1"], collector)
    for k in range(50):
        bus.publish("t0.cv.1", {"type": "conversation.seq", "seq": k})
    got = [(await collector.next())["seq"] for _ in range(50)]
    assert got == list(range(50))
    assert collector.events.empty()


async def test_publish_from_the_database_thread_reaches_the_loop(world):
    collector = Collector()
    await hub.get_hub().join(["t0.inbox"], collector)
    loop = asyncio.get_running_loop()

    def from_thread():
        with fanout.sending_on(loop):
            for k in range(3):
                fanout.publish("t0.inbox", {"type": "inbox.changed", "conversation": k})
        fanout.publish("t0.inbox", {"type": "inbox.changed", "conversation": 3})  # no loop: sent at once

    await asyncio.to_thread(from_thread)
    got = sorted([(await collector.next())["conversation"] for _ in range(4)])
    assert got == [0, 1, 2, 3]
