"""The same realtime flows on the production stack: PostgreSQL and the hub on Redis pub/sub.

Runs when DATABASE_URL points at PostgreSQL and a Redis URL is set (TEST_REDIS_URL or REDIS_URL);
otherwise every test here is skipped with the reason. On PostgreSQL, HTTP requests run in their
own threads with their own connections, so the concurrency tests race for real.
"""
from __future__ import annotations

import uuid

import pytest

from push import hub
from tests.realtime.test_longpoll import (  # noqa: F401 - collected again here, on the real stack
    test_concurrent_retries_make_one_message,
    test_typing_and_read_over_long_poll,
    test_waiting_poll_wakes_up_on_a_new_message,
)
from tests.realtime.test_visitor_socket import (  # noqa: F401
    test_agent_reply_arrives_live_and_notes_never_do,
    test_concurrent_first_sends_with_one_client_id_start_one_conversation,
    test_resume_replays_exactly_what_was_missed_in_order_once,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
async def stack(settings, redis_url, require_postgres):
    """Every test in this module on PostgreSQL + the Redis bus (own channel prefix)."""
    settings.REALTIME_BUS_URLS = [redis_url]
    settings.REALTIME_BUS_PREFIX = f"sb_test_rt_{uuid.uuid4().hex[:8]}"
    await hub.close_hub()
    yield
    await hub.close_hub()  # closes this test's Redis connections before its event loop ends
