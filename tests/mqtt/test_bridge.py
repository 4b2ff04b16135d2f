"""The realtime protocol over MQTT through a private Mosquitto and an in-process bridge: a visitor
on MQTT and an agent on a WebSocket both ways, resume after a dropped connection, bad input."""
from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django_scopes import scopes_disabled

from bench.mqtt.client import MqttApp
from push import presence
from push.models_mqtt import MqttCredential
from push.mqtt import credentials
from push.mqtt.bridge import Bridge
from push.mqtt.credentials import bridge_url
from tests.realtime.conftest import new_visitor_token, open_agent

pytestmark = [pytest.mark.mqtt, pytest.mark.django_db(transaction=True)]


def _visitor_creds(tenant) -> dict:
    token = new_visitor_token(tenant)
    response = Client().post("/rt/mqtt/visitor/credentials", {"token": token}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["mqtt"]


def _agent_creds(membership) -> dict:
    client = Client()
    client.force_login(membership.user)
    response = client.post("/rt/mqtt/agent/credentials")
    assert response.status_code == 201, response.content
    return response.json()["mqtt"]


async def visitor_app(tenant, creds: dict | None = None) -> MqttApp:
    app = MqttApp(creds or await sync_to_async(_visitor_creds)(tenant))
    await app.start()
    return app


async def hello(app: MqttApp, **fields) -> dict:
    app.send({"type": "hello", **fields})
    return await app.recv_type("welcome")


async def test_visitor_on_mqtt_and_agent_on_websocket_both_ways(bridge, world):
    app = await visitor_app(world.tenant)
    welcome = await hello(app)
    assert welcome["conversations"] == []
    app.send({"type": "send", "conversation": None, "client_id": "m-1", "body": "hello from a phone"})
    ack = await app.recv_type("ack")
    assert ack["client_id"] == "m-1" and ack["message"]["seq"] == 1
    conv = ack["message"]["conversation"]

    agent = await open_agent(world.agent, hello={"resume": {conv: 0}})
    await agent.recv_type("welcome")
    seen = await agent.recv_type("message")
    assert seen["message"]["body"] == "hello from a phone" and seen["message"]["seq"] == 1

    await agent.send({"type": "send", "conversation": conv, "client_id": "a-1", "body": "hi, phone"})
    await agent.recv_type("ack")
    got = await app.recv_type("message")
    assert got["message"]["body"] == "hi, phone" and got["message"]["seq"] == 2
    app.send({"type": "read", "conversation": conv, "seq": 2})
    assert (await agent.recv_type("read")) == {"type": "read", "conversation": conv, "reader": "contact", "seq": 2}

    app.send({"type": "send", "conversation": conv, "client_id": "m-2", "body": "thanks"})
    assert (await app.recv_type("ack"))["message"]["seq"] == 3
    assert (await agent.recv_type("message"))["message"]["body"] == "thanks"
    # Typing reaches the other side too.
    app.send({"type": "typing", "conversation": conv, "on": True})
    typing = await agent.recv_type("typing")
    assert typing["author"]["type"] == "contact" and typing["on"] is True
    app.close()
    await agent.close()


async def test_resume_after_a_dropped_connection_misses_nothing_and_repeats_nothing(bridge, world):
    creds = await sync_to_async(_visitor_creds)(world.tenant)
    app = await visitor_app(world.tenant, creds)
    await hello(app)
    app.send({"type": "send", "conversation": None, "client_id": "m-1", "body": "first"})
    conv = (await app.recv_type("ack"))["message"]["conversation"]
    agent = await open_agent(world.agent, hello={"resume": {conv: 1}})
    await agent.recv_type("welcome")
    await agent.send({"type": "send", "conversation": conv, "client_id": "a-1", "body": "seen live"})
    assert (await app.recv_type("message"))["message"]["seq"] == 2
    app.drop()  # the phone loses its network: the broker publishes its will (bye)
    for n in range(3):
        await agent.send({"type": "send", "conversation": conv, "client_id": f"a-{n + 2}", "body": f"missed {n}"})
        await agent.recv_type("ack")

    again = await visitor_app(world.tenant, creds)  # same credentials, same client id
    await hello(again, resume={conv: 2})
    seqs = []
    for _ in range(3):
        seqs.append((await again.recv_type("message"))["message"]["seq"])
    assert seqs == [3, 4, 5]
    # A send retried after the reconnect (its ack was lost with the connection) is stored once.
    again.send({"type": "send", "conversation": conv, "client_id": "m-1", "body": "first"})
    assert (await again.recv_type("ack"))["message"]["seq"] == 1
    with pytest.raises(asyncio.TimeoutError):
        extra = await again.recv(timeout=1)
        while extra["type"] != "message":
            extra = await again.recv(timeout=1)
    again.close()
    await agent.close()


async def test_frames_before_hello_and_bad_frames_get_errors_and_the_bridge_keeps_serving(bridge, world, settings):
    app = await visitor_app(world.tenant)
    app.send({"type": "send", "conversation": None, "client_id": "m-1", "body": "too early"})
    early = await app.recv_type("error")
    assert early["code"] == "hello_required" and early["client_id"] == "m-1"
    await hello(app)
    app.send(b"\xff\xfe not json")
    assert (await app.recv_type("error"))["code"] == "bad_json"
    app.send("[1, 2]")
    assert (await app.recv_type("error"))["code"] == "bad_json"
    app.send({"type": "launch_missiles"})
    assert (await app.recv_type("error"))["code"] == "unknown_type"
    too_long = "x" * (settings.RT_FRAME_MAX_BYTES + 1)
    app.send({"type": "send", "conversation": None, "client_id": "m-2", "body": too_long})
    assert (await app.recv_type("error"))["code"] == "too_large"
    app.send({"type": "send", "conversation": None, "client_id": "m-3", "body": "still here"})
    assert (await app.recv_type("ack"))["client_id"] == "m-3"
    app.close()


async def test_hostile_frames_get_documented_errors_and_the_bridge_keeps_serving(bridge, world):
    """Issue 10's inputs over MQTT, before and after the hello: deep nesting, NUL, a lone surrogate."""
    app = await visitor_app(world.tenant)
    app.send("[" * 30_000)
    assert (await app.recv_type("error"))["code"] == "bad_json"
    await hello(app)
    app.send("[" * 30_000)
    assert (await app.recv_type("error"))["code"] == "bad_json"
    app.send('{"type": "send", "conversation": null, "client_id": "a\\u0000"}')
    error = await app.recv_type("error")
    assert error["code"] == "invalid_field" and "client_id" not in error
    app.send('{"type": "send", "conversation": null, "client_id": "m-1", "body": "\\ud800"}')
    error = await app.recv_type("error")
    assert (error["code"], error["client_id"]) == ("invalid_field", "m-1")
    app.send('{"type": "\\ud800"}')
    assert (await app.recv_type("error"))["code"] == "unknown_type"
    app.send({"type": "send", "conversation": None, "client_id": "m-2", "body": "still here"})
    assert (await app.recv_type("ack"))["client_id"] == "m-2"
    app.close()


async def test_oversized_packets_are_refused_by_the_broker(bridge, world):
    app = await visitor_app(world.tenant)
    await hello(app)
    app.send("x" * (200 * 1024))  # over the broker's max_packet_size: it drops the connection
    await asyncio.wait_for(app.disconnected, 10)
    other = await visitor_app(world.tenant)
    await hello(other)
    other.close()


async def test_a_flood_ends_the_session_and_a_new_hello_starts_again(bridge, world, settings):
    settings.RT_FRAME_BURST = 3
    settings.RT_FLOOD_STRIKES = 2
    app = await visitor_app(world.tenant)
    await hello(app)
    for _ in range(12):
        app.send({"type": "ping"})
    closed = await app.recv_type("closed")
    assert closed["code"] == 4429
    app.send({"type": "ping"})
    assert (await app.recv_type("error"))["code"] == "hello_required"
    await hello(app)
    app.close()


async def test_agent_on_mqtt_counts_as_online_until_the_phone_drops(bridge, world):
    creds = await sync_to_async(_agent_creds)(world.agent)
    app = MqttApp(creds)
    await app.start()
    welcome = await hello(app)
    assert welcome["you"]["id"] == world.agent.public_id

    def online() -> bool:
        return world.agent.pk in presence.online_agent_ids(world.tenant.pk)

    assert await sync_to_async(online)()
    app.drop()  # no DISCONNECT: the broker notices the dead socket and publishes the will
    for _ in range(100):
        if not await sync_to_async(online)():
            break
        await asyncio.sleep(0.1)
    assert not await sync_to_async(online)()


async def test_revoked_credentials_get_no_session_even_before_the_broker_drops_them(bridge, world):
    creds = await sync_to_async(_visitor_creds)(world.tenant)
    app = await visitor_app(world.tenant, creds)
    await hello(app)

    def revoke_row_only() -> None:  # as when the broker was unreachable at revocation time
        with scopes_disabled():
            MqttCredential.objects.filter(username=creds["username"]).update(revoked=True)

    await sync_to_async(revoke_row_only)()
    app.send({"type": "hello"})
    refused = await app.recv_type("error")
    assert refused["code"] == "unauthenticated" and refused["ref"] == "hello"
    assert (await app.recv_type("closed"))["code"] == 4401
    app.send({"type": "send", "conversation": None, "client_id": "m-1", "body": "after revocation"})
    assert (await app.recv_type("error"))["code"] == "hello_required"
    # The sweep then removes it from the broker, which drops the connection.
    await sync_to_async(credentials.expire)()
    await asyncio.wait_for(app.disconnected, 10)
    assert (await MqttApp(creds).connect()).is_failure


async def test_two_bridges_one_session_per_client_frames_forwarded_to_its_holder(bridge, world):
    second = Bridge(url=bridge_url())
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(second.run(stop))
    await asyncio.wait_for(second.ready.wait(), 10)
    bridges = (bridge, second)
    app = await visitor_app(world.tenant)
    for _ in range(3):  # each hello reaches either bridge (shared subscription); the other lets go
        await hello(app)
    for _ in range(50):
        holders = [b for b in bridges if app.creds["client_id"] in b.conns]
        if len(holders) == 1:
            break
        await asyncio.sleep(0.1)
    assert len(holders) == 1
    before = sum(b.handled for b in bridges)
    conv = None
    for n in range(6):  # round robin: some reach the bridge without the session and are forwarded
        app.send({"type": "send", "conversation": conv, "client_id": f"m-{n}", "body": f"{n}"})
        ack = await app.recv_type("ack")
        conv = ack["message"]["conversation"]
    assert ack["message"]["seq"] == 6
    assert all(b.handled > 0 for b in bridges) and sum(b.handled for b in bridges) - before >= 6
    agent = await open_agent(world.agent, hello={"resume": {conv: 6}})
    await agent.recv_type("welcome")
    await agent.send({"type": "send", "conversation": conv, "client_id": "a-1", "body": "once"})
    assert (await app.recv_type("message"))["message"]["seq"] == 7
    with pytest.raises(asyncio.TimeoutError):
        await app.recv_type("message", timeout=1)  # no second session delivers it again
    app.close()
    await agent.close()
    stop.set()
    await asyncio.wait_for(task, 10)
