"""A tenant's inbox for all the agent sockets of a process: one batch per interval (push/inbox_feed.py),
rows encoded once and framed per connection (push/protocol/inbox_frames.py), ``conversations``
frames for clients that ask for them in ``hello``, and never a lost final state."""
from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from push import hub
from push.hub import SharedJSON
from push.inbox_feed import InboxFeed
from push.protocol import AgentSession, InboxCursor, from_us
from push.protocol.inbox_frames import InboxBatch, catch_up_frames, frame_texts, merged
from tests.realtime.conftest import open_agent
from tests.realtime.test_visitor_socket import agent_posts, started

BASE = 1_800_000_000_000_000  # microseconds since the epoch: some day in 2027


def row(conv: str, at: int, **fields) -> dict:
    return {"id": conv, "updated": from_us(BASE + at).isoformat(), "status": "open", **fields}


def cursor(since: int | None = None) -> InboxCursor:
    inbox = InboxCursor(tenant=None)  # type: ignore[arg-type] - the frames never touch the database
    inbox.since = since
    return inbox


def decoded(texts: list[str]) -> list[dict]:
    return [json.loads(text) for text in texts]


# --- frames of a batch ---------------------------------------------------------------------------------------
def test_a_row_changed_twice_in_an_interval_is_sent_once_with_the_later_state():
    labels = [{"id": "lb_1", "name": "vip", "color": "#123456"}]
    batch = InboxBatch([
        row("cv_a", 1, status="open", labels=labels), row("cv_b", 2), row("cv_a", 3, status="resolved"),
    ])
    frames = decoded(batch.texts_for(cursor(), kind="conversations", limit=64 * 1024))
    assert len(frames) == 1 and frames[0]["type"] == "conversations"
    rows = frames[0]["conversations"]
    assert [(r["id"], r["status"]) for r in rows] == [("cv_b", "open"), ("cv_a", "resolved")]  # watermark order
    # The later row carries no labels (a new message's row reads none): the earlier change is kept.
    assert rows[1]["labels"] == labels
    assert frames[0]["inbox_since"] == str(BASE + 3)


def test_an_older_version_arriving_late_never_replaces_the_newer_one():
    assert merged(row("cv_a", 5, status="resolved"), row("cv_a", 4, status="open"))["status"] == "resolved"
    batch = InboxBatch([row("cv_a", 5, status="resolved"), row("cv_a", 4, status="open")])
    assert [json.loads(r.text)["status"] for r in batch.rows] == ["resolved"]


def test_batches_joined_for_one_long_poll_answer_carry_each_conversation_once_in_its_latest_state():
    labels = [{"id": "lb_1", "name": "vip", "color": "#123456"}]
    first = InboxBatch([row("cv_a", 1, labels=labels), row("cv_b", 2)])
    second = InboxBatch([row("cv_a", 3, status="resolved"), row("cv_c", 4)])
    assert InboxBatch.joined([first]) is first  # one batch: its shared texts
    inbox = cursor()
    assert first.has_fresh(inbox) and second.has_fresh(inbox)
    frames = decoded(InboxBatch.joined([first, second]).texts_for(inbox, kind="conversations", limit=64 * 1024))
    rows = [r for f in frames for r in f["conversations"]]
    assert [(r["id"], r["status"]) for r in rows] == [("cv_b", "open"), ("cv_a", "resolved"), ("cv_c", "open")]
    assert rows[1]["labels"] == labels  # the earlier batch's label change is kept
    assert not first.has_fresh(inbox) and not second.has_fresh(inbox)  # all sent: nothing for the answer


def test_rows_a_connection_already_sent_are_left_out_and_the_rest_keep_their_watermarks():
    inbox = cursor(BASE + 10)
    inbox.recent = {"cv_a": BASE + 20}  # sent by a catch-up: that version, and one newer than the batch's
    batch = InboxBatch([row("cv_b", 5), row("cv_a", 15), row("cv_c", 30)])
    frames = decoded(batch.texts_for(inbox, kind="conversation", limit=64 * 1024))
    assert [(f["type"], f["conversation"]["id"], f["inbox_since"]) for f in frames] == [
        ("conversation", "cv_b", str(BASE + 10)),  # overlap window: older than the watermark, not sent yet
        ("conversation", "cv_c", str(BASE + 30)),
    ]
    assert batch.texts_for(inbox, kind="conversation", limit=64 * 1024) == []  # the same batch again: nothing


def test_connections_behind_every_row_share_the_same_frame_texts():
    batch = InboxBatch([SharedJSON(row(f"cv_{k}", k)) for k in range(1, 20)])
    first, second = cursor(BASE - 100), cursor(None)
    texts = batch.texts_for(first, kind="conversations", limit=64 * 1024)
    assert batch.texts_for(second, kind="conversations", limit=64 * 1024) is texts  # built once
    assert first.since == second.since == BASE + 19
    assert first.recent == second.recent == {f"cv_{k}": BASE + k for k in range(1, 20)}


def test_frames_stay_within_the_size_limit_and_lose_no_row():
    limit = 2048
    rows = [row(f"cv_{k:03}", k, subject="é" * random.Random(k).randint(10, 300)) for k in range(1, 60)]
    texts = InboxBatch(rows).texts_for(cursor(), kind="conversations", limit=limit)
    assert len(texts) > 5
    assert all(len(text.encode()) <= limit for text in texts)
    frames = decoded(texts)
    assert [r["id"] for f in frames for r in f["conversations"]] == [r["id"] for r in rows]
    # Each frame's watermark covers its own rows, never one of a later frame.
    for frame in frames:
        assert frame["inbox_since"] == str(max(int(BASE + int(r["id"][3:])) for r in frame["conversations"]))
    # A row bigger than a whole frame still goes, alone.
    huge = InboxBatch([row("cv_big", 1, subject="x" * 5000), row("cv_small", 2)])
    frames = decoded(huge.texts_for(cursor(), kind="conversations", limit=limit))
    assert [len(f["conversations"]) for f in frames] == [1, 1]


def test_catch_up_rows_are_framed_as_the_client_asked():
    inbox = cursor(BASE + 9)
    rows = [row(f"cv_{k}", k, subject="y" * 400) for k in range(8)]
    single = catch_up_frames(inbox, rows, kind="conversation", limit=1024)
    assert [f["conversation"]["id"] for f in single] == [r["id"] for r in rows]
    batched = catch_up_frames(inbox, rows, kind="conversations", limit=1024)
    assert len(batched) > 1 and all(len(json.dumps(f, ensure_ascii=False).encode()) <= 1024 for f in batched)
    assert [r["id"] for f in batched for r in f["conversations"]] == [r["id"] for r in rows]
    assert {f["inbox_since"] for f in batched} == {str(BASE + 9)}


def test_single_frames_match_the_conversation_frame():
    payload = row("cv_a", 7)
    text = frame_texts(InboxBatch([payload]).rows, since=None, kind="conversation", limit=1024)[0]
    inbox = cursor()
    inbox.carried(payload)
    assert json.loads(text) == inbox.conversation_frame(payload)


def test_the_bench_counts_the_frames_and_rows_the_server_writes_without_decoding_them():
    from bench.realtime.run import Stats, inbox_skimmer

    rows = [row(f"cv_{k}", k, contact={"id": "ct_1"}, last_message={"id": "msg_1"}) for k in range(1, 30)]
    for kind in ("conversations", "conversation"):
        stats = Stats()
        skim = inbox_skimmer(stats)
        texts = InboxBatch(rows).texts_for(cursor(), kind=kind, limit=2048)
        assert all(skim(text) for text in texts)
        assert (stats.inbox_frames, stats.inbox_rows) == (len(texts), len(rows))
    assert not skim('{"type":"message","message":{"id":"msg_1"}}')


# --- pacing: the feed ---------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.pending: list[tuple[float, object]] = []

    def now(self) -> float:
        return self.t

    def call_later(self, delay, callback):
        entry = (self.t + delay, callback)
        self.pending.append(entry)

        class Handle:
            def cancel(inner) -> None:
                if entry in self.pending:
                    self.pending.remove(entry)

        return Handle()

    def advance(self, seconds: float) -> None:
        self.t += seconds
        while True:
            due = sorted((e for e in self.pending if e[0] <= self.t), key=lambda e: e[0])
            if not due:
                return
            self.pending.remove(due[0])
            due[0][1]()


class Member:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.batches: list[tuple[float, InboxBatch]] = []
        self.events: list[dict] = []
        self.resyncs = 0

    def inbox_batch(self, batch):
        self.batches.append((self.clock.t, batch))

    def wake(self, event):
        self.events.append(event)

    def resync(self):
        self.resyncs += 1


def feed_with(members: int, interval: float = 0.3) -> tuple[InboxFeed, FakeClock, list[Member]]:
    clock = FakeClock()
    feed = InboxFeed(hub=None, group="t1.inbox", tenant_id=1, interval=interval, scheduler=clock)  # type: ignore[arg-type]
    joined = [Member(clock) for _ in range(members)]
    feed.members.update(joined)
    return feed, clock, joined


def changed(conv: str, at: int, **fields) -> dict:
    return {"type": "inbox.changed", "conversation": 1, "payload": SharedJSON(row(conv, at, **fields))}


def test_a_burst_costs_two_batches_and_ends_on_the_last_state():
    feed, clock, members = feed_with(3)
    for k in range(100):
        feed.wake(changed(f"cv_{k % 4}", k))
        if k == 0:
            clock.advance(0)  # the first goes at once
    clock.advance(0.29)
    assert len(members[0].batches) == 1
    clock.advance(0.02)
    assert len(members[0].batches) == 2  # then everything else, once, when the interval ends
    last = members[0].batches[-1][1]
    assert {r.public_id: r.stamp for r in last.rows} == {f"cv_{k}": BASE + 96 + k for k in range(4)}
    # The same batch object for every member: built once.
    assert all(m.batches[-1][1] is last for m in members)
    clock.advance(5)
    assert len(members[0].batches) == 2


def test_every_conversation_ends_on_its_last_state_whatever_the_timing():
    rng = random.Random(7)
    feed, clock, (member,) = feed_with(1, interval=0.25)
    final = {}
    for n in range(2000):
        conv = rng.choice("abc")
        final[conv] = BASE + n
        feed.wake(changed(f"cv_{conv}", n))
        clock.advance(rng.choice([0, 0, 0.01, 0.1, 0.3]))
    clock.advance(1)
    last_sent = {}
    for _, batch in member.batches:
        last_sent.update({r.public_id: r.stamp for r in batch.rows})
    assert last_sent == {f"cv_{c}": stamp for c, stamp in final.items()}
    times = [t for t, _ in member.batches]
    assert all(b - a >= 0.25 - 1e-9 for a, b in zip(times, times[1:], strict=False))  # one batch per interval


def test_other_wake_ups_and_resyncs_reach_every_member_at_once():
    feed, _, members = feed_with(2)
    feed.wake({"type": "something.else", "conversation": 3})
    feed.resync()
    assert all(m.events == [{"type": "something.else", "conversation": 3}] and m.resyncs == 1 for m in members)
    assert all(m.batches == [] for m in members)


async def test_one_feed_per_inbox_group_joins_the_hub_once_and_leaves_with_its_last_member():
    from push.inbox_feed import _feeds, feed_of

    bus = hub.get_hub()
    clock = FakeClock()
    feed = feed_of(bus, group="t9.inbox", tenant_id=9, interval=0.3, scheduler=clock)
    assert feed_of(bus, group="t9.inbox", tenant_id=9, interval=0.3, scheduler=clock) is feed
    members = [Member(clock) for _ in range(3)]
    for member in members:
        await feed.join(member)
    assert bus.subscribers["t9.inbox"] == {feed}  # the hub sees one subscriber, not three
    for member in members:
        feed.leave(member)
    assert "t9.inbox" not in _feeds[bus] and not bus.subscribers["t9.inbox"]
    # A socket that got the feed just before its last member left still gets a registered feed.
    await feed.join(members[0])
    assert _feeds[bus]["t9.inbox"] is feed and bus.subscribers["t9.inbox"] == {feed}
    feed.leave(members[0])


# --- through the socket --------------------------------------------------------------------------------------
pytestmark_db = pytest.mark.django_db(transaction=True)


def inbox_frames(frames: list[dict]) -> list[dict]:
    return [f for f in frames if f["type"] in ("conversation", "conversations")]


async def conversation_and_agents(world, *memberships, hello: dict | None = None):
    """A visitor's conversation, then agent sockets (welcomed, drained) of ``memberships``."""
    visitor, _, ack = await started(world)
    sockets = [await open_agent(member, hello=hello) for member in memberships]
    for sock in sockets:
        await sock.recv_type("welcome")
        await sock.drain(0.4)
    return visitor, ack["message"]["conversation"], sockets


@pytestmark_db
async def test_agents_that_ask_get_conversations_frames_others_conversation_frames(world, outsider, settings):
    settings.RT_INBOX_COALESCE_MS = 300
    batched = {"inbox_frame": "conversations"}
    visitor, conv_id, new = await conversation_and_agents(world, world.agent, world.agent, world.agent, hello=batched)
    old = await open_agent(world.agent2)
    stranger = await open_agent(outsider.agent, hello=batched)
    for sock in [old, stranger]:
        await sock.recv_type("welcome")
        await sock.drain(0.4)
    for k in range(20):
        await sync_to_async(agent_posts)(world, conv_id, f"reply {k}")
    for sock in new:
        frames = inbox_frames(await sock.drain(0.8))
        assert frames and {f["type"] for f in frames} == {"conversations"}
        rows = [r for f in frames for r in f["conversations"]]
        assert rows[-1]["id"] == conv_id and rows[-1]["last_seq"] == 21  # the final state always arrives
        assert len(frames) < 20
        assert int(frames[-1]["inbox_since"]) >= int(frames[0]["inbox_since"])
    old_frames = inbox_frames(await old.drain(0.1))
    assert old_frames and {f["type"] for f in old_frames} == {"conversation"}
    assert old_frames[-1]["conversation"]["last_seq"] == 21
    assert inbox_frames(await stranger.drain(0.1)) == []  # another tenant's agent gets nothing of it
    for sock in [*new, old, stranger, visitor]:
        await sock.close()


@pytestmark_db
async def test_bare_wake_ups_are_read_once_for_every_socket(world, monkeypatch, settings):
    settings.RT_INBOX_COALESCE_MS = 100
    visitor, conv_id, sockets = await conversation_and_agents(world, *[world.agent] * 4,
                                                               hello={"inbox_frame": "conversations"})

    def changed_quietly() -> int:
        """A change that publishes nothing (a bare wake-up follows)."""
        from django.utils import timezone

        from support.models import Conversation

        convs = Conversation.objects.with_scope(tenant=world.tenant).filter(public_id=conv_id)
        convs.update(subject="changed", updated_at=timezone.now())
        return convs.get().pk

    pk = await sync_to_async(changed_quietly)()
    from push import inbox_feed

    reads = []
    real = inbox_feed.rows_of
    monkeypatch.setattr(inbox_feed, "rows_of", lambda tid, pks: reads.append(pks) or real(tid, pks))
    hub.get_hub().publish(f"t{world.tenant.pk}.inbox", {"type": "inbox.changed", "conversation": pk})
    for sock in sockets:
        frame = await sock.recv_type("conversations")
        assert [(r["id"], r["subject"]) for r in frame["conversations"]] == [(conv_id, "changed")]
    assert reads == [[pk]]
    for sock in [*sockets, visitor]:
        await sock.close()


@pytestmark_db
async def test_a_catch_up_in_hello_comes_as_conversations_frames(world):
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    session = AgentSession(tenant=world.tenant, membership=world.agent, connection_id="k", transport="ws")
    since = from_us(0) + timedelta(days=1)
    frames = await session.hello({"type": "hello", "inbox_frame": "conversations",
                                  "inbox_since": str((since - from_us(0)) // timedelta(microseconds=1))})
    rows = [r for f in frames if f["type"] == "conversations" for r in f["conversations"]]
    assert conv_id in [r["id"] for r in rows]
    assert not [f for f in frames if f["type"] == "conversation"]
    await visitor.close()


@pytestmark_db
async def test_a_hello_with_an_unknown_inbox_frame_is_refused(world):
    agent = await open_agent(world.agent, hello={"inbox_frame": "rows"})
    error = await agent.recv_type("error")
    assert error["code"] == "invalid_field" and error["detail"].startswith("inbox_frame")
    assert await agent.closed_code() == 4400
