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
from push.models_mqtt import MqttCredential
from push.mqtt import credentials
from push.mqtt.broker import reset_admin
from support.events.dispatcher import drain
from support.models import ApiToken
from support.services.accounts import update_membership
from support.services.api_tokens import create_token, revoke_token
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


def agent_creds_by_token(token: str, body: object, **headers: str) -> tuple[int, dict]:
    response = Client().post("/rt/mqtt/agent/credentials", body, content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {token}", **headers)
    return response.status_code, response.json()


def new_api_token(world, scope: str = "read_write") -> str:
    issued = create_token(tenant=world.tenant, name="phone app backend", scope=scope, created_by=world.owner.user)
    return issued.plaintext


async def test_an_integration_gets_an_agents_credentials_with_a_read_write_api_token(broker, world, outsider):
    token = await sync_to_async(new_api_token)(world)
    status, body = await sync_to_async(agent_creds_by_token)(token, {"agent": world.agent.public_id})
    assert status == 201, body
    creds = body["mqtt"]
    assert creds["publish"].startswith(f"sb/{world.tenant.public_id}/{world.agent.public_id}/")
    app = MqttApp(creds)
    await app.start()
    app.close()
    # Refused: another tenant's agent (as unknown), a read-only token, a revoked or made-up token, no agent.
    status, body = await sync_to_async(agent_creds_by_token)(token, {"agent": outsider.agent.public_id})
    assert (status, body["error"]["code"]) == (404, "not_found")
    for bad_body in ({}, {"agent": 7}, {"agent": "x" * 500}):
        status, body = await sync_to_async(agent_creds_by_token)(token, bad_body)
        assert status in (400, 404), (bad_body, status, body)
    read_only = await sync_to_async(new_api_token)(world, "read")
    status, body = await sync_to_async(agent_creds_by_token)(read_only, {"agent": world.agent.public_id})
    assert (status, body["error"]["code"]) == (403, "read_only_token")
    for made_up in ("sb_0123456789_" + "a" * 40, "nonsense", ""):
        status, body = await sync_to_async(agent_creds_by_token)(made_up, {"agent": world.agent.public_id})
        assert (status, body["error"]["code"]) == (401, "invalid_token")
    assert await sync_to_async(credential_count)() == 1


async def test_revoking_the_api_token_revokes_the_credentials_it_obtained(broker, world):
    token = await sync_to_async(new_api_token)(world)
    other = await sync_to_async(new_api_token)(world)
    status, body = await sync_to_async(agent_creds_by_token)(token, {"agent": world.agent.public_id})
    assert status == 201, body
    creds = body["mqtt"]
    status, body = await sync_to_async(agent_creds_by_token)(other, {"agent": world.agent.public_id})
    kept = body["mqtt"]
    app = MqttApp(creds)
    await app.start()

    def revoke() -> None:
        with scopes_disabled():
            revoke_token(token=ApiToken.objects.get(prefix=token.split("_")[1]))

    await sync_to_async(revoke)()
    # Dead for the bridge at once (before the outbox handler runs)...
    assert not await sync_to_async(credentials.is_live)(username=creds["username"])
    assert await sync_to_async(credentials.is_live)(username=kept["username"])
    # ...and the handler removes the client from the broker, which drops the connection.
    await sync_to_async(drain)()
    await asyncio.wait_for(app.disconnected, 10)
    assert (await MqttApp(creds).connect()).is_failure
    status, body = await sync_to_async(agent_creds_by_token)(token, {"agent": world.agent.public_id})
    assert status == 401
    still = MqttApp(kept)  # credentials of another token are untouched
    await still.start()
    still.close()


def test_a_session_still_needs_its_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.agent.user)
    response = client.post("/rt/mqtt/agent/credentials")
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    assert credential_count() == 0
