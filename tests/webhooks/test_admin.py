"""The webhook admin: an owner manages their endpoints and reads/redelivers their delivery log only."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django_scopes import scope

import push.admin_webhooks  # noqa: F401 - registers the pages (push/admin.py imports it in the product)
from push.models import WebhookDelivery, WebhookEndpoint
from push.webhooks import delivery as engine
from push.webhooks import services
from support.events.dispatcher import drain
from support.models import Message
from support.services.conversations import start_conversation
from support.services.messages import post_message


def url(name: str, *args) -> str:
    return reverse(f"admin:push_{name}", args=args)


def make_delivery(tenant_world, receiver, path: str) -> WebhookDelivery:
    endpoint = services.create_endpoint(
        tenant=tenant_world.tenant, url=receiver.url + path, event_types=["message.created"]
    )
    with scope(tenant=tenant_world.tenant):
        conv = start_conversation(tenant=tenant_world.tenant, contact=tenant_world.contact)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body=f"hello {path}")
    drain()
    engine.deliver_due()
    with scope(tenant=tenant_world.tenant):
        return WebhookDelivery.objects.get(endpoint=endpoint)


@pytest.fixture
def owner(client, world):
    client.force_login(world.owner.user)
    return client


def test_owner_sees_only_their_endpoints_and_deliveries(owner, world, outsider, receiver):
    mine = make_delivery(world, receiver, "/mine")
    theirs = make_delivery(outsider, receiver, "/theirs")

    endpoints = owner.get(url("webhookendpoint_changelist")).content.decode()
    assert "/mine" in endpoints and "/theirs" not in endpoints
    log = owner.get(url("webhookdelivery_changelist")).content.decode()
    assert mine.public_id in log and theirs.public_id not in log
    assert owner.get(url("webhookdelivery_change", theirs.pk)).status_code == 404
    assert owner.get(url("webhookendpoint_change", theirs.endpoint_id)).status_code == 404

    page = owner.get(url("webhookdelivery_change", mine.pk)).content.decode()
    assert "hello /mine" in page, "the request body is shown"
    assert "X-Switchboard-Signature" in page and ">200<" in page.replace(" ", "")


def test_redeliver_action_queues_a_new_delivery_of_own_rows_only(owner, world, outsider, receiver):
    mine = make_delivery(world, receiver, "/mine")
    theirs = make_delivery(outsider, receiver, "/theirs")
    answer = owner.post(url("webhookdelivery_changelist"), {
        "action": "redeliver", "_selected_action": [mine.public_id, theirs.public_id],
    })
    assert answer.status_code == 302
    engine.deliver_due()
    with scope(tenant=world.tenant):
        copy = WebhookDelivery.objects.get(redelivery_of=mine)
    assert copy.status == WebhookDelivery.Status.SUCCEEDED
    with scope(tenant=outsider.tenant):
        assert not WebhookDelivery.objects.filter(redelivery_of=theirs).exists()
    assert [r.path for r in receiver.requests] == ["/mine", "/theirs", "/mine"]


def test_adding_an_endpoint_goes_through_the_same_checks(owner, world, settings, receiver):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    refused = owner.post(url("webhookendpoint_add"), {
        "url": "http://169.254.169.254/latest", "description": "", "event_types": ["*"], "is_active": "on",
    })
    assert refused.status_code == 200 and "private or reserved address" in refused.content.decode()
    bad_types = owner.post(url("webhookendpoint_add"), {
        "url": "http://169.254.169.254/latest", "event_types": ["nope"], "is_active": "on",
    })
    assert "Select a valid choice. nope is not one of the available choices." in bad_types.content.decode()

    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    saved = owner.post(url("webhookendpoint_add"), {
        "url": receiver.url + "/new", "description": "CRM", "event_types": ["message.created"], "is_active": "on",
    })
    assert saved.status_code == 302
    with scope(tenant=world.tenant):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.url == receiver.url + "/new" and endpoint.created_by == world.owner
    assert endpoint.secret.startswith("whsec_")


def test_agents_have_no_access(client, world, receiver):
    client.force_login(world.agent.user)
    assert client.get(url("webhookdelivery_changelist")).status_code in (302, 403)


def test_the_add_form_has_checkboxes_and_no_secret_until_saved(owner, world, settings, receiver):
    page = owner.get(url("webhookendpoint_add")).content.decode()
    assert 'type="checkbox" name="event_types" value="message.created"' in page
    assert ">null<" not in page and "whsec_" not in page
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    saved = owner.post(url("webhookendpoint_add"), {
        "url": receiver.url + "/x", "event_types": ["message.created", "contact.created"], "is_active": "on",
    })
    assert saved.status_code == 302
    with scope(tenant=world.tenant):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["message.created", "contact.created"]
    # The change page shows the endpoint's own secret, the same on every load.
    for _ in range(2):
        change = owner.get(url("webhookendpoint_change", endpoint.pk)).content.decode()
        assert endpoint.secret in change
        ticked = set(re.findall(r'<input type="checkbox" name="event_types" value="([^"]+)"[^>]* checked>', change))
        assert ticked == {"message.created", "contact.created"}
