"""Over a Free plan's conversation quota the widget degrades to its offline form; nothing errors."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from django_scopes import scope

from billing.models import Subscription, UsageRecord
from billing.subscriptions import save_subscription, start_trial
from support.models import Conversation
from tests.realtime.test_longpoll import start
from tests.realtime.test_widget import boot

pytestmark = pytest.mark.django_db(transaction=True)


def spend_free_quota(world):
    start_trial(tenant=world.tenant)
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get()
        sub.plan, sub.status = "free", "active"
        save_subscription(sub)
        UsageRecord.objects.bulk_create([
            UsageRecord(tenant=world.tenant, event_id=f"evt_q{i}", metric="conversation",
                        period_start=sub.current_period_start, at=timezone.now())
            for i in range(100)
        ])


async def test_bootstrap_says_closed_and_first_message_becomes_offline(world, http):
    status, data = await boot(http, world.tenant)
    assert status == 200 and data["open_now"] is True
    await sync_to_async(spend_free_quota)(world)
    status, data = await boot(http, world.tenant)
    assert status == 200 and data["open_now"] is False
    token, conv_id = await start(http, world, body="Are you there?")

    def offline_flag():
        with scope(tenant=world.tenant):
            return Conversation.objects.get(public_id=conv_id).offline

    assert await sync_to_async(offline_flag)() is True
