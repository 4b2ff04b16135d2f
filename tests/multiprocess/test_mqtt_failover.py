"""Two mqtt_bridge processes on real PostgreSQL, Redis and a private Mosquitto: a visitor on MQTT,
an agent on a WebSocket, messages both ways; the bridge holding the visitor is SIGKILLed
mid-stream, the other takes over (hello_required, resume, retried sends): nothing lost, nothing twice."""
from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest

from bench.mqtt.client import MqttApp, ResumingVisitor
from bench.mqtt.harness import start_bridge
from bench.realtime.client import bootstrap
from bench.realtime.harness import Stack
from tests.multiprocess.conversation_watch import WatchingAgent, wait_until
from tests.own_mosquitto import OwnMosquitto, missing

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.mqtt, pytest.mark.timeout(400)]

VISITOR_MESSAGES = 60
AGENT_MESSAGES = 30
KILL_AFTER = 20


@pytest.fixture
def mosquitto(request, tmp_path):
    from tests.conftest import skip_without_service

    reason = missing()
    if reason:
        skip_without_service(request.node, service="mqtt", reason=reason)
    broker = OwnMosquitto(tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def stack(require_postgres, redis_url, mosquitto):
    with Stack(database_url=os.environ["DATABASE_URL"], redis_url=redis_url, agents=1,
               extra_env={"MQTT_URL": mosquitto.url}) as s:
        yield s


async def test_bridge_killed_mid_stream_another_takes_over_without_loss_or_duplicates(stack):
    (node,) = stack.start_servers(1)
    bridge_a = await asyncio.to_thread(start_bridge, stack)
    boot = await bootstrap(base=node.http, widget_key=stack.seed["widget_key"], origin=stack.origin)
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(f"{node.http}/rt/mqtt/visitor/credentials", json={"token": boot["visitor_token"]})
    assert answer.status_code == 201, answer.text
    app = MqttApp(answer.json()["mqtt"])
    await app.start()
    visitor = ResumingVisitor(app)
    await visitor.start()  # held by bridge A: the only one running
    bridge_b = await asyncio.to_thread(start_bridge, stack)

    visitor.say("v-0", "hello over MQTT")
    await wait_until(lambda: visitor.conversation is not None and not visitor.pending, timeout=60, what="first ack")
    conv = visitor.conversation

    agent = await WatchingAgent.connect(stack, node, conv)
    agent_seen, agent_acks = agent.seen, agent.acks

    async def visitor_talks() -> None:
        for i in range(1, VISITOR_MESSAGES):
            if i == KILL_AFTER:
                bridge_a.kill()  # mid-stream: frames in flight, some unacknowledged
            visitor.say(f"v-{i}", f"message {i}")
            await asyncio.sleep(0.01)

    await asyncio.gather(agent.reply(AGENT_MESSAGES, pause=0.02), visitor_talks())
    visitor_ids = {f"v-{i}" for i in range(VISITOR_MESSAGES)}
    await wait_until(lambda: len(agent_acks) == AGENT_MESSAGES, timeout=60, what="agent acks")
    await wait_until(lambda: visitor_ids <= set(agent_seen.client_ids), timeout=90, what="agent sees all")
    last_seq = max(agent_seen.seqs)
    await wait_until(lambda: not visitor.pending and visitor.last_contiguous >= last_seq, timeout=90,
                     what="visitor catches up")

    assert bridge_a.process.returncode == -signal.SIGKILL and visitor.hellos >= 2
    print(f"mqtt failover: {visitor.hellos} hellos, sends retried: {visitor.retried}")
    # Zero lost: both sides hold every seq from 1 without a gap; every send landed once.
    assert agent_seen.last_contiguous == max(agent_seen.seqs) == last_seq
    assert visitor.last_contiguous == max(visitor.seqs) == last_seq
    assert sorted(c for c in agent_seen.client_ids if c.startswith("v-")) == sorted(visitor_ids)
    agent_ids = sorted(f"a-{i}" for i in range(AGENT_MESSAGES))
    assert sorted(c for c in visitor.client_ids if c.startswith("a-")) == agent_ids
    # Zero duplicated: no message frame repeated a seq on either side, and the conversation holds
    # exactly the messages sent.
    assert visitor.duplicates == [] and agent_seen.duplicates == []
    assert last_seq == VISITOR_MESSAGES + AGENT_MESSAGES
    visitor.stop()
    app.close()
    await agent.sock.close()
    bridge_b.stop()
