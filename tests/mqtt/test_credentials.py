"""MQTT credentials against a private Mosquitto: the broker itself refuses every foreign topic, and
revoked or expired credentials stop working (the connection is dropped, reconnecting is refused)."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from bench.mqtt.client import MqttApp
from bench.realtime.harness import free_port
from push.dispatcher import drain
from push.models_mqtt import MqttCredential
from push.mqtt import credentials
from push.mqtt.broker import reset_admin
from support.services.accounts import update_membership
from tests.realtime.conftest import new_visitor_token

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]

NOT_AUTHORISED = 0x87


def visitor_creds(token: str, **headers: str) -> tuple[int, dict]:
    response = Client().post("/rt/mqtt/visitor/credentials", {"token": token}, content_type="application/json",
                             **headers)
    return response.status_code, response.json()


def agent_creds(membership) -> tuple[int, dict]:
    client = Client()
    client.force_login(membership.user)
    response = client.post("/rt/mqtt/agent/credentials")
    return response.status_code, response.json()


def credential_count() -> int:
    with scopes_disabled():
        return MqttCredential.objects.count()


async def issued_visitor(tenant) -> dict:
    token = await sync_to_async(new_visitor_token)(tenant)
    status, body = await sync_to_async(visitor_creds)(token)
    assert status == 201, body
    return body["mqtt"]


async def test_visitor_gets_credentials_for_its_own_topics(broker, world):
    creds = await issued_visitor(world.tenant)
    assert creds["publish"].startswith(f"sb/{world.tenant.public_id}/ct") and creds["publish"].endswith("/in")
    assert creds["subscribe"] == creds["publish"][: -len("in")] + "out"
    assert creds["client_id"] == creds["username"] and creds["port"] == broker.port
    app = MqttApp(creds)
    await app.start()
    app.close()


async def test_bad_or_missing_tokens_get_no_credentials(broker, world):
    status, body = await sync_to_async(visitor_creds)("not-a-token")
    assert status == 401 and body["error"]["code"] == "unauthenticated"
    token = await sync_to_async(new_visitor_token)(world.tenant)
    status, body = await sync_to_async(visitor_creds)(token, HTTP_ORIGIN="https://evil.example")
    assert status == 403 and body["error"]["code"] == "origin_forbidden"
    assert not await sync_to_async(credential_count)()


async def test_broker_refuses_other_visitors_and_tenants_topics(broker, world, outsider):
    mine, neighbour, foreign = (
        await issued_visitor(world.tenant), await issued_visitor(world.tenant), await issued_visitor(outsider.tenant)
    )
    app = MqttApp(mine)
    await app.start()
    spy = MqttApp(neighbour)
    await spy.start()
    for topic in (neighbour["subscribe"], foreign["subscribe"], neighbour["publish"], "sb/#", "#",
                  f"sb/{world.tenant.public_id}/+/+/out", "$share/bridge/sb/+/+/+/in"):
        reasons = await app.subscribe(topic)
        assert reasons[0].value == NOT_AUTHORISED, (topic, reasons)
    # Publishing to another visitor's topic is dropped by the broker: the owner never sees it.
    app.send({"type": "ping"}, topic=neighbour["subscribe"])
    app.send({"type": "ping"}, topic=neighbour["publish"])
    with pytest.raises(asyncio.TimeoutError):
        await spy.recv(timeout=1)
    app.close()
    spy.close()


async def test_wrong_password_and_wrong_client_id_are_refused(broker, world):
    creds = await issued_visitor(world.tenant)
    reason = await MqttApp({**creds, "password": "guess"}).connect()
    assert reason.is_failure
    reason = await MqttApp({**creds, "client_id": "someone-else"}).connect()
    assert reason.is_failure


async def test_revoked_credentials_stop_working(broker, world):
    status, body = await sync_to_async(agent_creds)(world.agent)
    assert status == 201, body
    creds = body["mqtt"]
    app = MqttApp(creds)
    await app.start()
    # Deactivating the agent revokes their credentials (outbox handler): the broker drops the connection.
    await sync_to_async(update_membership)(membership=world.agent, actor=world.owner, is_active=False)
    await sync_to_async(drain)()  # the outbox runs its handlers
    await asyncio.wait_for(app.disconnected, 10)
    again = MqttApp(creds)
    assert (await again.connect()).is_failure
    assert not await sync_to_async(lambda: MqttCredential.objects.with_scope(tenant=world.tenant).exists())()
    status, body = await sync_to_async(agent_creds)(world.agent)
    assert status == 401


async def test_expired_credentials_are_removed_and_refused(broker, world):
    creds = await issued_visitor(world.tenant)
    fresh = await issued_visitor(world.tenant)
    app = MqttApp(creds)
    await app.start()

    def expire_one() -> int:
        with scopes_disabled():
            MqttCredential.objects.filter(username=creds["username"]).update(expires_at=timezone.now())
        return credentials.expire(now=timezone.now() + timedelta(seconds=1))

    assert await sync_to_async(expire_one)() == 1
    await asyncio.wait_for(app.disconnected, 10)
    assert (await MqttApp(creds).connect()).is_failure
    # Idempotent: nothing left to expire, and the unexpired one still works.
    assert await sync_to_async(credentials.expire)(now=timezone.now() + timedelta(seconds=1)) == 0
    other = MqttApp(fresh)
    await other.start()
    other.close()


async def test_broker_down_gives_503_and_no_live_credential(broker, world, settings):
    settings.MQTT_URL = f"mqtt://sb-admin:x@127.0.0.1:{free_port()}"  # nobody listens there
    await sync_to_async(reset_admin)()
    token = await sync_to_async(new_visitor_token)(world.tenant)
    status, body = await sync_to_async(visitor_creds)(token)
    assert status == 503 and body["error"]["code"] == "unavailable"
    await sync_to_async(reset_admin)()
    # The half-issued credential is kept, revoked, for the sweep to clear from the broker.
    assert await sync_to_async(credential_count)() == 1


async def test_a_deleted_contacts_credentials_are_removed_by_the_sweep(broker, world):
    creds = await issued_visitor(world.tenant)
    app = MqttApp(creds)
    await app.start()

    def delete_contact() -> None:
        with scopes_disabled():
            MqttCredential.objects.get(username=creds["username"]).contact.delete()

    await sync_to_async(delete_contact)()
    assert await sync_to_async(credentials.expire)() == 1
    await asyncio.wait_for(app.disconnected, 10)
    assert (await MqttApp(creds).connect()).is_failure
