"""The wake-up hub (push/hub.py): one subscription per group per process, each wake-up decoded once
and its shared payload encoded once however many connections get it, inbox rows paced (the
pacing itself: test_inbox_batches.py), and after a lost Redis connection: back-off,
re-subscription and a resync."""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter

import pytest
from asgiref.sync import sync_to_async

from push import hub
from support.events import fanout
from tests.realtime.conftest import open_agent
from tests.realtime.test_visitor_socket import agent_posts, started

pytestmark = pytest.mark.django_db(transaction=True)


class Collector:
    """A subscriber that keeps what it gets."""

    def __init__(self) -> None:
        self.events: asyncio.Queue = asyncio.Queue()
        self.resyncs = 0

    def wake(self, event):
        self.events.put_nowait(event)

    def resync(self):
        self.resyncs += 1
        self.events.put_nowait({"type": "_resync"})

    async def next(self, timeout: float = 10):
        return await asyncio.wait_for(self.events.get(), timeout)


# --- the hub itself -----------------------------------------------------------------------------------
async def test_one_subscription_per_group_and_one_decode_per_wake_up(monkeypatch):
    bus = hub.get_hub()
    subscribed = Counter()
    real_subscribe = bus.backend.subscribe

    async def counting(groups):
        subscribed.update(groups)
        await real_subscribe(groups)

    monkeypatch.setattr(bus.backend, "subscribe", counting)
    decoded = []
    real_decode = hub.decode_event
    monkeypatch.setattr(hub, "decode_event", lambda data: decoded.append(data) or real_decode(data))
    collectors = [Collector() for _ in range(5)]
    for collector in collectors:
        await bus.join(["t0.cv.1", "t0.inbox"], collector)
    assert subscribed == {"t0.cv.1": 1, "t0.inbox": 1}

    fanout.publish("t0.cv.1", {"type": "conversation.seq", "seq": 1, "message": {"seq": 1, "body": "hi"}})
    events = [await c.next() for c in collectors]
    assert len(decoded) == 1
    assert all(event is events[0] for event in events)  # one object for all
    assert isinstance(events[0]["message"], hub.SharedJSON)

    bus.leave(["t0.cv.1"], collectors[0])
    fanout.publish("t0.cv.1", {"type": "conversation.seq", "seq": 2})
    assert [(await c.next())["seq"] for c in collectors[1:]] == [2] * 4
    assert collectors[0].events.empty()


async def test_a_group_without_subscribers_lingers_then_is_dropped(settings):
    bus = hub.get_hub()
    bus.linger = 0.05
    collector = Collector()
    await bus.join(["t0.cv.9"], collector)
    bus.leave(["t0.cv.9"], collector)
    assert "t0.cv.9" in bus.subscribers  # still subscribed: the next poll usually comes at once
    await asyncio.sleep(0.2)
    assert "t0.cv.9" not in bus.subscribers
    assert "t0.cv.9" not in hub.memory_bus._hubs


def test_frames_paste_shared_payloads_and_encode_the_rest():
    shared = hub.SharedJSON({"seq": 3, "body": "héllo"})
    frame = {"type": "message", "message": shared, "prev_seq": 2}
    import json

    assert json.loads(hub.encode_frame(frame)) == {"type": "message", "message": {"seq": 3, "body": "héllo"},
                                                   "prev_seq": 2}
    assert shared.json is shared.json  # made once
    assert json.loads(hub.encode_frame({"type": "pong"})) == {"type": "pong"}


def test_a_shared_part_crosses_the_bus_as_text_and_is_pasted_not_encoded_again(monkeypatch):
    message = {"seq": 3, "body": 'h\u00e9llo "}" \u6c49\u5b57', "n": [1, 2.5, None]}
    event = {"type": "conversation.seq", "conversation": 7, "seq": 3, "message": message}
    data = hub.encode_wakeup(event)
    assert data.startswith('{"message":{')  # the shared part first
    encoded = []
    real = hub.encode_json
    monkeypatch.setattr(hub, "encode_json", lambda value: encoded.append(value) or real(value))
    for wire in (data, data.encode()):  # the in-process bus hands over text, Redis bytes
        got = hub.decode_event(wire)
        assert got == event and type(got["message"]) is hub.SharedJSON
        assert got["message"].json == real(message)
    assert encoded == []  # the receiver encoded nothing: the text came with the wake-up
    # A wake-up of an older process (its type first) is encoded where it arrives, as before.
    got = hub.decode_event(real(event).encode())
    assert got == event and got["message"].json == real(message) and len(encoded) == 1
    for broken in ('{"message":[1],"type":"x"}', '{"message":{"seq":1}x', '{"payload":{"a":1},"x":}', "[1]"):
        with pytest.raises(ValueError):
            hub.decode_event(broken)


def test_consistent_hashing_moves_few_groups_when_a_shard_is_added():
    groups = [f"t{t}.cv.{c}" for t in range(50) for c in range(40)]
    two = {g: hub.shard_index(g, count=2) for g in groups}
    three = {g: hub.shard_index(g, count=3) for g in groups}
    assert set(two.values()) == {0, 1} and set(three.values()) == {0, 1, 2}
    moved = sum(1 for g in groups if two[g] != three[g])
    assert all(three[g] == 2 for g in groups if two[g] != three[g])  # only onto the new shard
    assert moved < len(groups) * 0.5
    assert all(hub.shard_index(g, count=1) == 0 for g in groups[:10])


# --- fan-out to sockets ---------------------------------------------------------------------------------
async def test_a_message_to_five_agent_sockets_is_decoded_once_and_its_payload_encoded_once(world, monkeypatch):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    agents = [await open_agent(world.agent, hello={"resume": {conv_id: 1}}) for _ in range(5)]
    for sock in agents:
        await sock.recv_type("welcome")
        await sock.drain(0.2)
    decoded = Counter()
    real_decode = hub.decode_event

    def counting_decode(data):
        event = real_decode(data)
        decoded[event["type"]] += 1
        return event

    shared_encodes = []
    real_encode = hub.encode_json

    def counting_encode(value):
        if isinstance(value, hub.SharedJSON):
            shared_encodes.append(value.get("id"))
        return real_encode(value)

    monkeypatch.setattr(hub, "decode_event", counting_decode)
    monkeypatch.setattr(hub, "encode_json", counting_encode)
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "to all five"})
    await visitor.recv_type("ack")
    for sock in agents:
        frame = await sock.recv_type("message")
        assert frame["message"]["body"] == "to all five" and frame["prev_seq"] == 1
        row = await sock.recv_type("conversation")
        assert row["conversation"]["last_seq"] == 2
    monkeypatch.undo()
    assert decoded["conversation.seq"] == 1 and decoded["inbox.changed"] == 1
    # The message payload and the inbox row: each encoded once, where it was published; the five
    # sockets' frames paste the text that came with the wake-up (``encode_wakeup``).
    assert shared_encodes == []
    for sock in [*agents, visitor]:
        await sock.close()


async def test_a_presence_change_is_read_once_for_every_agent_socket_of_the_process(world, monkeypatch):
    """A change of who is online reaches every agent connection; the presence read behind the frame
    is made once per process, not once per connection (N² reads while a team comes online)."""
    from push import presence

    agents = [await open_agent(world.agent) for _ in range(5)]
    for sock in agents:
        await sock.recv_type("welcome")
        await sock.drain(0.2)
    reads = []
    real_read = presence.agents_presence

    def counting_read(tenant_id, **kwargs):
        reads.append(tenant_id)
        return real_read(tenant_id, **kwargs)

    monkeypatch.setattr(presence, "agents_presence", counting_read)
    await sync_to_async(fanout.publish)(fanout.presence_group(world.tenant.pk), {"type": "presence.changed"})
    for sock in agents:
        frame = await sock.recv_type("presence")
        assert {a["id"] for a in frame["agents"]} >= {world.agent.public_id}
    monkeypatch.undo()
    assert reads == [world.tenant.pk]
    for sock in agents:
        await sock.close()


# --- inbox pacing ------------------------------------------------------------------------------------
async def test_an_agent_socket_gets_a_burst_of_inbox_updates_coalesced_to_the_last_state(world, settings):
    settings.RT_INBOX_COALESCE_MS = 300
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    await agent.drain(0.4)
    began = time.monotonic()
    for k in range(20):
        await sync_to_async(agent_posts)(world, conv_id, f"note {k}")
    elapsed = time.monotonic() - began
    rows = [f["conversation"] for f in await agent.drain(0.8) if f["type"] == "conversation"]
    assert rows and rows[-1]["last_seq"] == 21  # the final state always arrives
    # At most one per interval plus the trailing one (however fast the 20 updates came).
    assert len(rows) <= elapsed / 0.3 + 2, (len(rows), elapsed)
    assert len(rows) < 20
    for sock in (agent, visitor):
        await sock.close()


# --- Redis: one subscription per group, and a lost connection ------------------------------------------------
@pytest.fixture
async def redis_hub(settings, redis_server):
    settings.REALTIME_BUS_URLS = [redis_server.url]
    settings.REALTIME_BUS_PREFIX = f"sb_test_hub_{uuid.uuid4().hex[:8]}"
    await hub.close_hub()
    yield hub.get_hub()
    await hub.close_hub()


@pytest.mark.redis
async def test_redis_one_subscription_per_group_however_many_subscribers(redis_hub, redis_server, settings):
    import redis

    collectors = [Collector() for _ in range(5)]
    for collector in collectors:
        await redis_hub.join(["t1.cv.1", "t1.presence"], collector)
    client = redis.Redis.from_url(redis_server.url)
    prefix = settings.REALTIME_BUS_PREFIX
    counts = dict(client.pubsub_numsub(f"{prefix}:t1.cv.1", f"{prefix}:t1.presence"))
    assert counts == {f"{prefix}:t1.cv.1".encode(): 1, f"{prefix}:t1.presence".encode(): 1}
    for k in range(30):
        redis_hub.publish("t1.cv.1", {"type": "conversation.seq", "seq": k})
    for collector in collectors:
        assert [(await collector.next())["seq"] for _ in range(30)] == list(range(30))
    message = {"seq": 30, "body": "h\u00e9llo \u6c49\u5b57 \U0001f600"}
    redis_hub.publish("t1.cv.1", {"type": "conversation.seq", "seq": 30, "message": message})
    for collector in collectors:
        shared = (await collector.next())["message"]
        assert shared == message and shared._text == hub.encode_json(message)  # as it came, not encoded again
    await asyncio.to_thread(fanout.publish, "t1.presence", {"type": "presence.changed"})  # sync, no loop
    for collector in collectors:
        assert (await collector.next())["type"] == "presence.changed"
    redis_hub.linger = 0.05
    for collector in collectors:
        redis_hub.leave(["t1.cv.1"], collector)
    await asyncio.sleep(0.5)  # lingered, then unsubscribed
    counts = dict(client.pubsub_numsub(f"{prefix}:t1.cv.1", f"{prefix}:t1.presence"))
    assert counts == {f"{prefix}:t1.cv.1".encode(): 0, f"{prefix}:t1.presence".encode(): 1}


@pytest.mark.redis
async def test_after_a_lost_redis_connection_the_hub_resubscribes_and_resyncs(redis_hub, redis_server, caplog):
    collector = Collector()
    await redis_hub.join(["t2.cv.1", "t2.inbox"], collector)
    assert redis_hub.reachable()
    await asyncio.to_thread(redis_server.stop)
    redis_hub.publish("t2.cv.1", {"type": "conversation.seq", "seq": 1})  # lost: logged, not raised
    await asyncio.to_thread(fanout.publish, "t2.cv.1", {"type": "conversation.seq", "seq": 1})
    await asyncio.sleep(0.5)  # a few failed reconnects
    assert collector.resyncs == 0
    assert not redis_hub.reachable()
    await asyncio.to_thread(redis_server.start)
    assert (await collector.next(15))["type"] == "_resync"  # once every group is subscribed again
    assert collector.resyncs == 1 and redis_hub.reachable()
    redis_hub.publish("t2.inbox", {"type": "inbox.changed", "conversation": 7})
    assert (await collector.next())["conversation"] == 7
    assert any("publish" in r.getMessage() for r in caplog.records)


@pytest.mark.redis
async def test_a_socket_catches_up_from_the_database_after_redis_comes_back(world, redis_hub, redis_server):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    agent = await open_agent(world.agent, hello={"resume": {conv_id: 1}})
    await agent.recv_type("welcome")
    await agent.drain(0.3)
    await asyncio.to_thread(redis_server.stop)
    await visitor.send({"type": "send", "conversation": conv_id, "client_id": "c-out", "body": "while away"})
    assert (await visitor.recv_type("ack"))["message"]["seq"] == 2  # stored and acknowledged
    assert [f for f in await agent.drain(0.5) if f["type"] == "message"] == []  # its wake-up was lost
    await asyncio.to_thread(redis_server.start)
    frames = [await agent.recv(timeout=15)]  # the resync reads what was missed from the database
    while frames[-1]["type"] != "message":
        frames.append(await agent.recv())
    frame = frames[-1]
    assert (frame["message"]["seq"], frame["prev_seq"], frame["message"]["body"]) == (2, 1, "while away")
    assert [f["conversation"]["last_seq"] for f in frames if f["type"] == "conversation"] == [2]  # the inbox too
    for sock in (agent, visitor):
        await sock.close()
