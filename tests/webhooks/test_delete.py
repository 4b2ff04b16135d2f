"""Deleting an endpoint removes its whole delivery log, redeliveries included."""
from __future__ import annotations

from django_scopes import scope

from push.models_webhooks import WebhookDelivery, WebhookEndpoint
from push.webhooks.services import create_endpoint, delete_endpoint, redeliver
from support.events.dispatcher import drain
from support.services.conversations import start_conversation


def test_delete_endpoint_with_redeliveries(world):
    endpoint = create_endpoint(tenant=world.tenant, url="http://127.0.0.1:9/hook", event_types=["*"])
    with scope(tenant=world.tenant):
        start_conversation(tenant=world.tenant, contact=world.contact)
    drain()
    with scope(tenant=world.tenant):
        first = WebhookDelivery.objects.filter(endpoint=endpoint).first()
    assert first is not None
    redeliver(delivery=first)
    redeliver(delivery=first)
    delete_endpoint(endpoint=endpoint)
    with scope(tenant=world.tenant):
        assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
        assert not WebhookDelivery.objects.filter(endpoint_id=endpoint.pk).exists()
