"""Plan features gate webhooks: Free tenants cannot add endpoints and get no deliveries."""
from __future__ import annotations

import pytest
from django_scopes import scope

from billing.models import Subscription
from billing.subscriptions import FeatureNotInPlan, api_rate_per_minute, change_plan, save_subscription
from push.models_webhooks import WebhookDelivery
from push.webhooks.services import create_endpoint
from support.events.dispatcher import drain
from support.services.conversations import start_conversation


def to_free(world):
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get(tenant=world.tenant)
        sub.plan, sub.status = "free", "active"
        save_subscription(sub)


def test_free_plan_cannot_register_webhooks(world, subscribed, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    to_free(world)
    with pytest.raises(FeatureNotInPlan) as exc:
        create_endpoint(tenant=world.tenant, url="http://127.0.0.1:9/hook", event_types=["*"])
    assert exc.value.code == "plan_feature"


def test_downgraded_tenant_gets_no_deliveries(world, subscribed, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    create_endpoint(tenant=world.tenant, url="http://127.0.0.1:9/hook", event_types=["conversation.created"])
    to_free(world)
    with scope(tenant=world.tenant):
        start_conversation(tenant=world.tenant, contact=world.contact)
    drain()
    with scope(tenant=world.tenant):
        assert WebhookDelivery.objects.count() == 0


def test_api_rate_follows_the_plan(world, subscribed, settings):
    settings.API_RATE_PER_MINUTE = 50
    assert api_rate_per_minute(world.tenant) == 600  # trial: Pro
    change_plan(tenant=world.tenant, plan_code="starter", seats=3)
    assert api_rate_per_minute(world.tenant) == 120
    to_free(world)
    assert api_rate_per_minute(world.tenant) == 50  # no API plan: the dashboard's default budget


def test_api_tokens_need_the_api_feature(client, world, subscribed):
    from support.services.api_tokens import create_token

    issued = create_token(tenant=world.tenant, name="CRM sync", scope="read", created_by=world.owner.user)
    plaintext = issued.plaintext
    auth = {"HTTP_AUTHORIZATION": f"Bearer {plaintext}"}
    assert client.get("/api/v1/conversations", **auth).status_code == 200
    to_free(world)
    response = client.get("/api/v1/conversations", **auth)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "plan_feature"
    # The dashboard (session) keeps working on Free.
    client.force_login(world.agent.user)
    assert client.get("/api/v1/conversations").status_code == 200
