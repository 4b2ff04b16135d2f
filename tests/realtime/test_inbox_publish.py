"""Inbox rows leave a process paced (push/wakeups.py, ``Hub.publish_paced``; ``RT_INBOX_PUBLISH_MS``):
per conversation the first change after a quiet interval at once, the latest of the later ones at
the interval's end, never lost (also when the process stops); and a database thread's
``fanout.sending_on`` block hands its wake-ups to the loop once, when it ends."""
from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest

from config import shutdown_hooks
from push import hub, wakeups
from support.events import fanout
from tests.realtime.conftest import open_agent
from tests.realtime.test_inbox_batches import row
from tests.realtime.test_visitor_socket import started

INTERVAL = 0.2
INBOX = fanout.inbox_group(1)


@pytest.fixture(autouse=True)
def paced(settings):
    settings.RT_INBOX_PUBLISH_MS = int(INTERVAL * 1000)


@pytest.fixture
async def sent(monkeypatch):
    """Every publish of this loop's hub: (loop time, group, event as it went on the bus)."""
    bus = hub.get_hub()
    published: list[tuple[float, str, dict]] = []
    real = bus.backend.publish

    def record(group, data):
        published.append((bus.loop.time(), group, json.loads(data)))
        real(group, data)

    monkeypatch.setattr(bus.backend, "publish", record)
    return published


def changed(conv: int, payload: dict | None) -> tuple[str, dict]:
    event = {"type": "inbox.changed", "conversation": conv}
    if payload is not None:
        event["payload"] = payload
    return (INBOX, event)


async def hand_over(*wakeups_: tuple[str, dict]) -> None:
    """One ``sending_on`` block of a database thread that publishes ``wakeups_``; back once they are on the loop."""
    loop = asyncio.get_running_loop()

    def block():
        with fanout.sending_on(loop):
            for group, event in wakeups_:
                fanout.publish(group, event)

    await asyncio.to_thread(block)
    await asyncio.sleep(0)  # the hand-over was queued before the thread's return


async def until(condition, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def payloads(published) -> list:
    return [event.get("payload", {}).get("last_seq", "bare") for _, _, event in published]


# --- pacing ------------------------------------------------------------------------------------------------
async def test_a_burst_publishes_the_first_change_at_once_and_the_last_at_the_interval_end(sent):
    for k in range(6):  # six group commits, one after the other
        await hand_over(changed(7, row("cv_a", k, last_seq=k)))
    assert payloads(sent) == [0]  # the first at once, the rest held
    await until(lambda: len(sent) == 2)
    assert payloads(sent) == [0, 5]  # the last state, once
    gap = sent[1][0] - sent[0][0]
    assert INTERVAL * 0.9 <= gap <= INTERVAL + 0.3, gap  # at the interval's end, not later
    await asyncio.sleep(INTERVAL * 2.5)
    assert payloads(sent) == [0, 5]  # nothing after
    assert hub.get_hub()._paced == {}  # a quiet conversation holds nothing


async def test_a_quiet_interval_lets_the_next_change_out_at_once(sent):
    await hand_over(changed(7, row("cv_a", 0, last_seq=0)))
    await asyncio.sleep(INTERVAL * 2)
    await hand_over(changed(7, row("cv_a", 1, last_seq=1)))
    assert payloads(sent) == [0, 1]


async def test_rows_of_one_hand_over_are_one_change(sent):
    await hand_over(*(changed(7, row("cv_a", k, last_seq=k)) for k in range(3)))
    assert payloads(sent) == [2]
    await asyncio.sleep(INTERVAL * 1.5)
    assert payloads(sent) == [2]


async def test_two_conversations_are_paced_apart(sent):
    await hand_over(changed(7, row("cv_a", 0, last_seq=0)))
    await hand_over(changed(7, row("cv_a", 1, last_seq=1)))
    await hand_over(changed(8, row("cv_b", 2, last_seq=10)))  # another conversation: not held by the first
    assert payloads(sent) == [0, 10]
    await until(lambda: len(sent) == 3)
    assert payloads(sent) == [0, 10, 1]


async def test_other_wake_ups_are_not_paced(sent):
    for seq in range(3):
        await hand_over((fanout.conversation_group(1, 7), {"type": "conversation.seq", "conversation": 7, "seq": seq}))
    assert [event["seq"] for _, _, event in sent] == [0, 1, 2]


async def test_bare_wake_ups_are_held_like_rows_and_win_over_rows(sent):
    await hand_over(changed(7, row("cv_a", 0, last_seq=0)))
    await hand_over(changed(7, None))  # "read it yourself"
    await hand_over(changed(7, row("cv_a", 2, last_seq=2)))  # handed over later, yet not surely newer
    assert payloads(sent) == [0]
    await until(lambda: len(sent) == 2)
    assert sent[1][2] == {"type": "inbox.changed", "conversation": 7}  # receivers read the latest state


async def test_a_row_with_labels_goes_at_once_with_what_was_held(sent):
    labels = [{"id": "lb_1", "name": "vip", "color": "#123456"}]
    await hand_over(changed(7, row("cv_a", 0, last_seq=0)))
    await hand_over(changed(7, row("cv_a", 1, last_seq=1)))
    await hand_over(changed(7, row("cv_a", 2, last_seq=1, labels=labels)))  # a person labelled it
    assert payloads(sent) == [0, 1] and sent[1][2]["payload"]["labels"] == labels
    await asyncio.sleep(INTERVAL * 1.5)
    assert len(sent) == 2  # nothing was left held


def test_the_held_event_is_the_latest_row_with_the_labels_only_an_earlier_one_carries():
    labels = [{"id": "lb_1", "name": "vip", "color": "#123456"}]
    newer = {"type": "inbox.changed", "conversation": 7, "payload": row("cv_a", 5, status="resolved")}
    older = {"type": "inbox.changed", "conversation": 7, "payload": row("cv_a", 4, status="open", labels=labels)}
    assert wakeups.later_inbox_event(newer, older)["payload"] == {**row("cv_a", 5, status="resolved"), "labels": labels}
    bare = {"type": "inbox.changed", "conversation": 7}
    assert wakeups.later_inbox_event(bare, newer) is bare
    assert wakeups.later_inbox_event(newer, bare) is bare


async def test_zero_publishes_every_change(sent, settings):
    settings.RT_INBOX_PUBLISH_MS = 0
    for k in range(3):
        await hand_over(changed(7, row("cv_a", k, last_seq=k)))
    assert payloads(sent) == [0, 1, 2]


# --- the last state is never lost ----------------------------------------------------------------------------
async def test_a_stopping_process_publishes_what_it_holds_and_then_everything_at_once(sent):
    assert hub.stop_pacing in shutdown_hooks._hooks  # push/apps.py: run as `manage.py serve` stops
    await hand_over(changed(7, row("cv_a", 0, last_seq=0)))
    await hand_over(changed(7, row("cv_a", 1, last_seq=1)))
    assert payloads(sent) == [0]
    hub.stop_pacing()
    assert payloads(sent) == [0, 1]
    await hand_over(changed(7, row("cv_a", 2, last_seq=2)))  # a send that finishes while it drains
    assert payloads(sent) == [0, 1, 2]


@pytest.mark.redis
async def test_a_closing_hub_sends_what_it_holds_to_redis(settings, redis_server):
    import redis.asyncio as aioredis

    settings.RT_INBOX_PUBLISH_MS = 10_000  # the interval would end long after the test's wait
    settings.REALTIME_BUS_URLS = [redis_server.url]
    settings.REALTIME_BUS_PREFIX = f"sb_test_pace_{uuid.uuid4().hex[:8]}"
    await hub.close_hub()
    hub.get_hub()
    listener = aioredis.Redis.from_url(redis_server.url).pubsub()
    await listener.subscribe(f"{settings.REALTIME_BUS_PREFIX}:{INBOX}")
    assert (await listener.get_message(timeout=5))["type"] == "subscribe"
    await hand_over(changed(7, row("cv_a", 0, last_seq=0)))
    await hand_over(changed(7, row("cv_a", 1, last_seq=1)))
    await hub.close_hub()  # before the interval ends
    got = []
    for _ in range(2):
        message = await listener.get_message(timeout=3)
        assert message is not None
        got.append(json.loads(message["data"])["payload"]["last_seq"])
    assert got == [0, 1]
    await listener.aclose()


# --- one hand-over per block ---------------------------------------------------------------------------------
async def test_a_blocks_wake_ups_reach_the_loop_in_one_hand_over_when_it_ends(monkeypatch):
    loop = asyncio.get_running_loop()
    handed: list[list] = []
    monkeypatch.setattr(fanout, "_publish_on_loop", handed.append)
    seen_inside: list[int] = []

    def block():
        with fanout.sending_on(loop):
            fanout.publish("g1", {"n": 1})
            with fanout.sending_on(loop):  # e.g. on_db_thread inside a group commit: one block
                fanout.publish("g2", {"n": 2})
            threading.Event().wait(0.05)  # the loop is free meanwhile: nothing reaches it yet
            seen_inside.append(len(handed))
            fanout.publish("g3", {"n": 3})
            raise RuntimeError("a failure after the commit")

    with pytest.raises(RuntimeError):
        await asyncio.to_thread(block)
    await asyncio.sleep(0)
    assert seen_inside == [0]
    assert handed == [[("g1", {"n": 1}), ("g2", {"n": 2}), ("g3", {"n": 3})]]  # once, even after a failure


async def test_a_block_for_a_closed_loop_publishes_from_its_own_thread(monkeypatch):
    direct: list[tuple[str, dict]] = []
    monkeypatch.setattr(fanout, "_publish_now", lambda group, event: direct.append((group, event)))
    gone = asyncio.new_event_loop()
    gone.close()

    def block():
        with fanout.sending_on(gone):
            fanout.publish("g1", {"n": 1})

    await asyncio.to_thread(block)
    assert direct == [("g1", {"n": 1})]


# --- through the real stack ----------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
async def test_a_visitors_burst_reaches_the_agent_in_its_last_state_with_fewer_inbox_wake_ups(world, sent):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    await agent.drain(0.5)
    sent.clear()
    for k in range(10):
        await visitor.send({"type": "send", "conversation": conv_id, "client_id": f"b-{k}", "body": f"m{k}"})
    for _ in range(10):
        await visitor.recv_type("ack")
    frames = await agent.drain(1.0)
    rows = [f["conversation"] for f in frames if f["type"] == "conversation"]
    assert rows and rows[-1]["last_seq"] == 11  # the final state arrives
    inbox = [event for _, group, event in sent if group.endswith(".inbox")]
    assert 1 <= len(inbox) < 10  # paced on the bus, not one per message
    assert inbox[-1]["payload"]["last_seq"] == 11
    for sock in (agent, visitor):
        await sock.close()


async def test_a_stopping_mqtt_bridge_publishes_what_its_hub_holds(monkeypatch):
    from push.management.commands import mqtt_bridge

    published: list[dict] = []
    monkeypatch.setattr(hub.memory_bus, "publish", lambda group, data: published.append(json.loads(data)))

    class Bridge:  # sends two changes of one conversation over MQTT, then is told to stop
        bridge_id = "b-test"

        def __init__(self, url):
            self.ready = asyncio.Event()

        async def run(self, stop):
            for k in range(2):
                await hand_over(changed(7, row("cv_a", k, last_seq=k)))

    monkeypatch.setattr(mqtt_bridge, "Bridge", Bridge)
    await mqtt_bridge.Command()._serve("mqtt://bridge:secret@127.0.0.1:1883")
    assert [event["payload"]["last_seq"] for event in published] == [0, 1]  # the held one too, before the exit
