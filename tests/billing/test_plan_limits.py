"""support.plan_limits asks, billing answers: the answers follow the tenant's plan, and asking with
nothing plugged in is a configuration error, not a silent yes or no."""
from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from billing.subscriptions import FeatureNotInPlan, SeatLimitReached
from support import plan_limits
from tests.billing.test_feature_gates import to_free


def test_the_answers_follow_the_plan(world, subscribed):
    assert plan_limits.has_feature(tenant=world.tenant, feature=plan_limits.WEBHOOKS)
    plan_limits.require_feature(tenant=world.tenant, feature=plan_limits.API)
    to_free(world)
    assert not plan_limits.has_feature(tenant=world.tenant, feature=plan_limits.WEBHOOKS)
    with pytest.raises(FeatureNotInPlan) as exc:
        plan_limits.require_feature(tenant=world.tenant, feature=plan_limits.API)
    assert exc.value.code == "plan_feature"
    with pytest.raises(SeatLimitReached):  # Free has two seats; the world has three members
        plan_limits.check_can_add_seat(tenant=world.tenant)


def test_asking_with_nothing_plugged_in_is_a_configuration_error(world, monkeypatch):
    monkeypatch.setattr(plan_limits, "_limits", None)
    for ask in (
        lambda: plan_limits.has_feature(tenant=world.tenant, feature=plan_limits.API),
        lambda: plan_limits.require_feature(tenant=world.tenant, feature=plan_limits.API),
        lambda: plan_limits.check_can_add_seat(tenant=world.tenant),
        lambda: plan_limits.live_chat_allowed(world.tenant),
    ):
        with pytest.raises(ImproperlyConfigured, match="No plan limits are plugged in"):
            ask()
