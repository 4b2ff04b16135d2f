"""The visitor WebSocket through the real ASGI app: hello, send/ack, resume, errors, abuse."""
from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async

from support.models import Message
from support.services.messages import post_message
from tests.realtime.conftest import contact_of, in_tenant, open_agent, open_visitor, visitor_token

pytestmark = pytest.mark.django_db(transaction=True)


async def started(world, body="hello", client_id="c-1"):
    """A visitor socket with one conversation already started; returns (socket, token, ack)."""
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token)
    assert (await sock.recv_type("welcome"))["type"] == "welcome"
    await sock.send({"type": "send", "conversation": None, "client_id": client_id, "body": body})
    ack = await sock.recv_type("ack")
    return sock, token, ack


async def visitor_with_agent_following(world):
    """A visitor's socket that started a conversation (seq 1) and an agent's socket following it from
    seq 1, past its welcome: ``(visitor, agent, conversation id)``."""
    visitor, _, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    agent = await open_agent(world.agent, hello={"resume": {conv_id: 1}})
    await agent.recv_type("welcome")
    return visitor, agent, conv_id


def agent_posts(world, conversation_id, *bodies, kind="text"):
    with in_tenant(world.tenant):
        from support.access import access_conversation

        conv = access_conversation(world.tenant, conversation_id)
        return [
            post_message(conversation=conv, author_type="agent", author_membership=world.agent, body=b, kind=kind)
            .message.seq
            for b in bodies
        ]


def messages_of(world, conversation_id):
    with in_tenant(world.tenant):
        return list(
            Message.objects.filter(conversation__public_id=conversation_id).order_by("seq").values_list("seq", "body")
        )


async def test_welcome_then_first_send_starts_a_conversation(world):
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token)
    welcome = await sock.recv()
    assert welcome["type"] == "welcome"
    assert welcome["you"]["verified"] is False and welcome["conversations"] == []
    assert welcome["team_online"] is False
    await sock.send({"type": "send", "conversation": None, "client_id": "c-1", "body": "<b>hi</b>"})
    ack = await sock.recv()
    assert ack["type"] == "ack" and ack["client_id"] == "c-1"
    assert ack["message"]["seq"] == 1 and ack["prev_seq"] == 0
    assert ack["message"]["body"] == "<b>hi</b>"  # stored and sent as text, never rendered here
    conv_id = ack["message"]["conversation"]
    with in_tenant(world.tenant):
        from support.models import Conversation

        conv = await sync_to_async(Conversation.objects.get)(public_id=conv_id)
        assert conv.offline is True  # nobody was online
    await sock.close()


async def test_retried_first_send_does_not_start_a_second_conversation(world):
    sock, token, ack = await started(world)
    await sock.send({"type": "send", "conversation": None, "client_id": "c-1", "body": "hello"})
    again = await sock.recv_type("ack")
    assert again["message"]["id"] == ack["message"]["id"]
    assert "prev_seq" not in again  # a repeat, not a new message in the stream
    contact = await sync_to_async(contact_of)(token)
    with in_tenant(world.tenant):
        assert await sync_to_async(contact.conversations.count)() == 1
    assert await sock.drain() == []  # nothing delivered twice
    await sock.close()


async def test_same_client_id_twice_concurrently_on_two_sockets_gives_one_message(world):
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    other = await open_visitor(token)
    await other.recv_type("welcome")
    await other.drain()
    frame = {"type": "send", "conversation": conv_id, "client_id": "dup", "body": "once"}
    await asyncio.gather(sock.send(frame), other.send(frame))
    a, b = await asyncio.gather(sock.recv_type("ack"), other.recv_type("ack"))
    assert a["message"]["id"] == b["message"]["id"]
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hello"), (2, "once")]
    await sock.close()
    await other.close()


async def test_concurrent_first_sends_with_one_client_id_start_one_conversation(world):
    token = await visitor_token(world.tenant)
    socks = [await open_visitor(token) for _ in range(3)]
    for s in socks:
        await s.recv_type("welcome")
    frame = {"type": "send", "conversation": None, "client_id": "first", "body": "hi"}
    await asyncio.gather(*(s.send(frame) for s in socks))
    acks = await asyncio.gather(*(s.recv_type("ack") for s in socks))
    assert len({a["message"]["id"] for a in acks}) == 1
    contact = await sync_to_async(contact_of)(token)
    with in_tenant(world.tenant):
        assert await sync_to_async(contact.conversations.count)() == 1
    for s in socks:
        await s.close()


async def test_agent_reply_arrives_live_and_notes_never_do(world):
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await sync_to_async(agent_posts)(world, conv_id, "secret", kind="note")
    await sync_to_async(agent_posts)(world, conv_id, "visible")
    msg = await sock.recv_type("message")
    assert msg["message"]["body"] == "visible" and msg["message"]["seq"] == 3
    # The note (seq 2) is skipped: prev_seq says what came before in *this* visitor's stream.
    assert msg["prev_seq"] == 1
    frames = await sock.drain()
    assert all(f.get("message", {}).get("body") != "secret" for f in frames)
    await sock.close()


async def test_resume_replays_exactly_what_was_missed_in_order_once(world):
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await sock.close()
    seqs = await sync_to_async(agent_posts)(world, conv_id, *[f"m{i}" for i in range(5)])
    await sync_to_async(agent_posts)(world, conv_id, "internal", kind="note")
    again = await open_visitor(token, resume={conv_id: 1})
    await again.recv_type("welcome")
    frames = [f for f in await again.drain(0.3) if f["type"] == "message"]
    assert [f["message"]["seq"] for f in frames] == seqs
    assert [f["message"]["body"] for f in frames] == [f"m{i}" for i in range(5)]
    assert [f["prev_seq"] for f in frames] == [1, *seqs[:-1]]
    await again.send({"type": "ping"})
    assert (await again.recv_type("pong"))["type"] == "pong"
    assert await again.drain() == []
    await again.close()


async def test_subscribe_replays_after_a_gap(world):
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await sync_to_async(agent_posts)(world, conv_id, "a", "b")
    await sock.drain()
    await sock.send({"type": "subscribe", "conversation": conv_id, "last_seq": 1})
    frames = await sock.drain()
    assert [f["message"]["body"] for f in frames if f["type"] == "message"] == ["a", "b"]
    await sock.close()


async def test_bad_frames_get_errors_and_keep_the_connection_and_earlier_messages(world, settings):
    settings.RT_FRAME_BURST = 100  # this test is about bad frames, not about their number
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    cases = [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_json"),
        ({"no": "type"}, "missing_field"),
        ({"type": "explode"}, "unknown_type"),
        ({"type": "hello", "token": "again"}, "unknown_type"),  # only as the first frame
        ({"type": "presence", "status": "away"}, "unknown_type"),  # agents only
        ({"type": "send", "conversation": conv_id}, "missing_field"),
        ({"type": "send", "conversation": conv_id, "client_id": "x" * 65, "body": "b"}, "invalid_field"),
        ({"type": "send", "conversation": 5, "client_id": "c-9", "body": "b"}, "invalid_field"),
        ({"type": "send", "conversation": conv_id, "client_id": "c-9", "body": "  "}, "empty"),
        ({"type": "send", "conversation": conv_id, "client_id": "c-9", "body": "x" * 10_001}, "too_long"),
        ({"type": "send", "conversation": conv_id, "client_id": "c-9", "body": "n", "kind": "note"}, "forbidden"),
        ({"type": "send", "conversation": conv_id, "client_id": "c-9", "body": "n", "kind": "event"}, "invalid_field"),
        ({"type": "typing", "conversation": conv_id}, "missing_field"),
        ({"type": "typing", "conversation": conv_id, "on": "yes"}, "invalid_field"),
        ({"type": "read", "conversation": conv_id, "seq": -1}, "invalid_field"),
        ({"type": "read", "seq": 1}, "missing_field"),
        ({"type": "subscribe", "conversation": conv_id}, "missing_field"),
        ("x" * (settings.RT_FRAME_MAX_BYTES + 1), "too_large"),
    ]
    for frame, code in cases:
        await sock.send(frame)
        error = await sock.recv()
        assert error["type"] == "error" and error["code"] == code, (frame if isinstance(frame, dict) else frame[:20])
    send_error = {"type": "send", "conversation": conv_id, "client_id": "c-9", "body": "  "}
    await sock.send(send_error)
    assert (await sock.recv())["client_id"] == "c-9"
    # Still open, and what was sent before is intact.
    await sock.send({"type": "send", "conversation": conv_id, "client_id": "c-10", "body": "still here"})
    assert (await sock.recv_type("ack"))["message"]["seq"] == 2
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hello"), (2, "still here")]
    await sock.close()


async def test_other_tenants_and_other_visitors_conversations_are_not_found(world, outsider):
    sock, token, ack = await started(world)
    their_sock, _, their_ack = await started(outsider)
    neighbour, _, neighbour_ack = await started(world, client_id="n-1")
    for foreign in (their_ack["message"]["conversation"], neighbour_ack["message"]["conversation"], "cv_missing"):
        for frame in (
            {"type": "send", "conversation": foreign, "client_id": "c-2", "body": "x"},
            {"type": "typing", "conversation": foreign, "on": True},
            {"type": "read", "conversation": foreign, "seq": 1},
            {"type": "subscribe", "conversation": foreign, "last_seq": 0},
        ):
            await sock.send(frame)
            error = await sock.recv()
            assert (error["type"], error["code"], error["detail"]) == ("error", "not_found", "No such conversation")
    assert await sync_to_async(messages_of)(outsider, their_ack["message"]["conversation"]) == [(1, "hello")]
    for s in (sock, their_sock, neighbour):
        await s.close()


async def test_flooding_is_throttled_then_closed(world, settings):
    settings.RT_FRAME_BURST = 5
    settings.RT_FLOOD_STRIKES = 3
    settings.RT_FRAMES_PER_SECOND = 1
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token)
    await sock.recv_type("welcome")
    for _ in range(12):
        await sock.send({"type": "ping"})
    frames = await sock.drain(0.3)
    kinds = [f["type"] if f["type"] != "error" else f["code"] for f in frames]
    assert kinds[:5] == ["pong"] * 5  # the burst
    assert "rate_limited" in kinds
    assert frames[-1] == {"type": "__closed__", "code": 4429}


async def test_visitor_send_rate_limit_per_visitor(world, settings):
    settings.RT_VISITOR_SENDS_PER_MINUTE = 2
    sock, token, ack = await started(world)
    conv_id = ack["message"]["conversation"]
    await sock.send({"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "two"})
    assert (await sock.recv_type("ack"))["client_id"] == "c-2"
    await sock.send({"type": "send", "conversation": conv_id, "client_id": "c-3", "body": "three"})
    error = await sock.recv()
    assert (error["code"], error["client_id"]) == ("rate_limited", "c-3")
    await sock.close()


@pytest.mark.parametrize(
    ("first", "code"),
    [("not json", 4400), ({"type": "ping"}, 4400), ({"type": "hello", "token": "forged"}, 4401),
     ({"type": "hello", "token": None}, 4401)],
)
async def test_bad_first_frames_close(world, first, code):
    sock = await open_visitor(None, hello=False)
    await sock.send(first)
    assert await sock.closed_code() == code


async def test_hello_with_malformed_resume_closes_4400(world):
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token, hello=False)
    await sock.send({"type": "hello", "token": token, "resume": {"cv_x": "ten"}})
    error = await sock.recv()
    assert error["code"] == "invalid_field"
    assert await sock.closed_code() == 4400


async def test_no_hello_in_time_closes_4408(world):
    sock = await open_visitor(None, hello=False)
    assert await sock.closed_code(timeout=3) == 4408


async def test_origin_must_be_allowed_for_the_tenant(world):
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token, origin="https://evil.example")
    error = await sock.recv()
    assert error["code"] == "origin_forbidden"
    assert await sock.closed_code() == 4403
    ours = await open_visitor(token, origin="http://testserver")  # the widget iframe is served by us
    assert (await ours.recv())["type"] == "welcome"
    await ours.close()


async def test_resume_with_a_foreign_conversation_reports_not_found_and_goes_on(world, outsider):
    _, _, their_ack = await started(outsider)
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token, resume={their_ack["message"]["conversation"]: 0})
    assert (await sock.recv())["type"] == "welcome"
    error = await sock.recv()
    assert (error["code"], error["ref"]) == ("not_found", "hello")
    await sock.send({"type": "ping"})
    assert (await sock.recv())["type"] == "pong"
    await sock.close()


async def test_typing_and_read_both_ways(world):
    sock, agent, conv_id = await visitor_with_agent_following(world)
    await agent.drain()
    await sock.drain()

    await sock.send({"type": "typing", "conversation": conv_id, "on": True})
    typing = await agent.recv_type("typing")
    assert typing == {"type": "typing", "conversation": conv_id, "author": {"type": "contact"}, "on": True}
    await sock.send({"type": "typing", "conversation": conv_id, "on": True})  # throttled: dropped
    await sock.send({"type": "typing", "conversation": conv_id, "on": False})  # "off" always goes
    assert (await agent.recv_type("typing"))["on"] is False
    assert await agent.drain() == []

    await agent.send({"type": "typing", "conversation": conv_id, "on": True})
    seen = await sock.recv_type("typing")
    assert seen["author"]["type"] == "agent" and seen["author"]["name"] == "Alice"

    await sync_to_async(agent_posts)(world, conv_id, "answer")
    await sock.recv_type("message")
    await sock.send({"type": "read", "conversation": conv_id, "seq": 2})
    receipt = await agent.recv_type("read")
    assert receipt == {"type": "read", "conversation": conv_id, "reader": "contact", "seq": 2}
    await sock.send({"type": "read", "conversation": conv_id, "seq": 1})  # backwards: nothing
    assert [f for f in await agent.drain() if f["type"] == "read"] == []

    await sock.send({"type": "send", "conversation": conv_id, "client_id": "c-3", "body": "thanks"})
    assert (await sock.recv_type("ack"))["message"]["seq"] == 3
    await agent.send({"type": "read", "conversation": conv_id, "seq": 99})  # capped at last_seq
    receipt = await sock.recv_type("read")
    assert receipt == {"type": "read", "conversation": conv_id, "reader": "agent", "seq": 3}
    await sock.close()
    await agent.close()


async def test_visitor_learns_when_the_team_comes_online(world):
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token)
    assert (await sock.recv_type("welcome"))["team_online"] is False
    agent = await open_agent(world.agent)
    await agent.recv_type("welcome")
    assert (await sock.recv_type("presence")) == {"type": "presence", "team_online": True}
    await agent.close()
    assert (await sock.recv_type("presence")) == {"type": "presence", "team_online": False}
    await sock.close()


async def test_a_conversation_started_in_another_tab_is_followed(world):
    token = await visitor_token(world.tenant)
    tab1 = await open_visitor(token)
    await tab1.recv_type("welcome")
    tab2 = await open_visitor(token)
    await tab2.recv_type("welcome")
    await tab2.send({"type": "send", "conversation": None, "client_id": "t2", "body": "from tab 2"})
    ack = await tab2.recv_type("ack")
    seen = await tab1.recv_type("message")
    assert seen["message"]["id"] == ack["message"]["id"]
    await tab1.close()
    await tab2.close()


async def test_resume_can_name_an_older_conversation(world):
    token = await visitor_token(world.tenant)

    def make():
        from support.services.conversations import start_conversation

        contact = contact_of(token)
        with in_tenant(world.tenant):
            old = start_conversation(tenant=world.tenant, contact=contact)
            post_message(conversation=old, author_type="contact", body="old one")
            for _ in range(20):  # newer conversations push it out of the 20 followed by default
                start_conversation(tenant=world.tenant, contact=contact)
        return old.public_id

    old_id = await sync_to_async(make)()
    sock = await open_visitor(token, resume={old_id: 0})
    welcome = await sock.recv_type("welcome")
    assert old_id not in {c["id"] for c in welcome["conversations"]}
    message = await sock.recv_type("message")
    assert (message["message"]["conversation"], message["message"]["body"]) == (old_id, "old one")
    await sock.close()
