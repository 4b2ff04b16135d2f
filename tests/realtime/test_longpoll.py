"""Long-poll transport through the real ASGI app: the same frames as the sockets, over HTTP."""
from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from tests.conftest import skip_without_service
from tests.realtime.conftest import SITE, open_agent, poll_waiting, session_cookie, visitor_token
from tests.realtime.test_visitor_socket import agent_posts, messages_of

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = "a" * 32


async def vpost(http, path, body, *, origin=SITE):
    response = await http.post(f"/rt/visitor/{path}", json=body, headers={"Origin": origin})
    return response.status_code, response.json()


async def as_agent(http, membership):
    cookie = await sync_to_async(session_cookie)(membership)
    http.cookies.set("sessionid", cookie)
    http.cookies.set("csrftoken", CSRF)


async def apost(http, path, body, *, csrf=True):
    headers = {"Origin": "http://testserver"}
    if csrf:
        headers["X-CSRFToken"] = CSRF
    response = await http.post(f"/rt/agent/{path}", json=body, headers=headers)
    is_json = response.headers.get("content-type", "").startswith("application/json")
    return response.status_code, response.json() if is_json else None


async def start(http, world, body="hello", client_id="c-1"):
    token = await visitor_token(world.tenant)
    status, data = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": None, "client_id": client_id, "body": body}]})
    assert status == 200, data
    ack = data["frames"][0]
    assert ack["type"] == "ack"
    return token, ack["message"]["conversation"]


async def first_poll(http, token, **hello):
    status, data = await vpost(http, "poll", {"token": token, "cursor": None, "hello": {"type": "hello", **hello}})
    assert status == 200, data
    assert data["frames"][0]["type"] == "welcome"
    return data


async def test_send_then_poll_replays_and_then_waits(world, http):
    token, conv_id = await start(http, world)
    data = await first_poll(http, token)
    messages = [f for f in data["frames"] if f["type"] == "message"]
    # Long-poll delivers the complete stream: the own message is in it too (send is stateless).
    assert [(m["message"]["seq"], m["prev_seq"]) for m in messages] == [(1, 0)]
    began = time.monotonic()
    status, quiet = await vpost(http, "poll", {"token": token, "cursor": data["cursor"]})
    assert status == 200 and quiet["frames"] == []
    assert 0.9 <= time.monotonic() - began < 3  # waited for LONGPOLL_TIMEOUT_SECONDS (1 s in tests)


async def test_poll_returns_at_once_when_behind_with_exactly_the_missed_messages(world, http):
    token, conv_id = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    seqs = await sync_to_async(agent_posts)(world, conv_id, "a", "b", "c")
    await sync_to_async(agent_posts)(world, conv_id, "note", kind="note")
    began = time.monotonic()
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert time.monotonic() - began < 0.8
    assert [(f["message"]["seq"], f["message"]["body"]) for f in data["frames"]] == list(zip(seqs, "abc"))
    status, again = await vpost(http, "poll", {"token": token, "cursor": data["cursor"]})
    assert again["frames"] == []  # nothing twice (and the note never)
    # An old cursor replays the same again: the client may retry a lost response.
    status, retry = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert [f["message"]["seq"] for f in retry["frames"]] == seqs


async def test_waiting_poll_wakes_up_on_a_new_message(world, http, settings):
    settings.LONGPOLL_TIMEOUT_SECONDS = 5  # so that answering by timeout would show
    token, conv_id = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    posted_at = []

    async def reply_soon():
        await poll_waiting()
        posted_at.append(time.monotonic())
        await sync_to_async(agent_posts)(world, conv_id, "live")

    (status, data), _ = await asyncio.gather(vpost(http, "poll", {"token": token, "cursor": cursor}), reply_soon())
    assert [f["message"]["body"] for f in data["frames"]] == ["live"]
    assert time.monotonic() - posted_at[0] < 2


async def test_a_new_conversation_is_followed_by_the_next_poll(world, http):
    token = await visitor_token(world.tenant)
    cursor = (await first_poll(http, token))["cursor"]
    status, data = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": None, "client_id": "c-1", "body": "hi"}]})
    status, polled = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert [f["message"]["body"] for f in polled["frames"]] == ["hi"]


async def test_send_is_idempotent(world, http):
    token, conv_id = await start(http, world)
    frame = {"type": "send", "conversation": conv_id, "client_id": "dup", "body": "once"}
    results = [await vpost(http, "send", {"token": token, "frames": [frame]}) for _ in range(2)]
    assert len({data["frames"][0]["message"]["id"] for _, data in results}) == 1
    _, retried_first = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": None, "client_id": "c-1", "body": "hello"}]})
    assert retried_first["frames"][0]["message"]["conversation"] == conv_id
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hello"), (2, "once")]


@pytest.mark.postgres
async def test_concurrent_retries_make_one_message(request, world, http, settings):
    if not settings.IS_POSTGRES:
        skip_without_service(request.node, service="postgres",
                             reason="needs concurrent writers: the in-memory SQLite test database locks whole tables")
    token = await visitor_token(world.tenant)
    first = {"type": "send", "conversation": None, "client_id": "first", "body": "hi"}
    results = await asyncio.gather(*(vpost(http, "send", {"token": token, "frames": [first]}) for _ in range(4)))
    assert len({data["frames"][0]["message"]["id"] for _, data in results}) == 1
    conv_id = results[0][1]["frames"][0]["message"]["conversation"]
    again = {"type": "send", "conversation": conv_id, "client_id": "dup", "body": "once"}
    results = await asyncio.gather(*(vpost(http, "send", {"token": token, "frames": [again]}) for _ in range(4)))
    assert len({data["frames"][0]["message"]["id"] for _, data in results}) == 1
    assert await sync_to_async(messages_of)(world, conv_id) == [(1, "hi"), (2, "once")]


async def test_frame_errors_come_back_as_error_frames(world, outsider, http):
    token, conv_id = await start(http, world)
    _, theirs = await start(http, outsider)
    status, data = await vpost(http, "send", {"token": token, "frames": [
        "nope",
        {"type": "bogus"},
        {"type": "subscribe", "conversation": conv_id, "last_seq": 0},  # belongs in poll
        {"type": "send", "conversation": theirs, "client_id": "x", "body": "b"},
        {"type": "send", "conversation": conv_id, "client_id": "y", "body": ""},
        {"type": "send", "conversation": conv_id, "client_id": "z", "body": "fine"},
    ]})
    assert status == 200
    assert [f.get("code", f["type"]) for f in data["frames"]] == [
        "bad_json", "unknown_type", "unknown_type", "not_found", "empty", "ack"]
    assert await sync_to_async(messages_of)(outsider, theirs) == [(1, "hello")]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [(b"{bad", 400, "bad_json"), (b"[]", 400, "bad_json"),
     (b'{"token": "forged", "frames": []}', 401, "unauthenticated")],
)
async def test_bad_requests(world, http, body, status, code):
    response = await http.post("/rt/visitor/send", content=body, headers={"Origin": SITE,
                                                                           "Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


async def test_oversized_body_and_too_many_frames(world, http, settings):
    token = await visitor_token(world.tenant)
    status, data = await vpost(http, "send", {"token": token, "frames": [{"type": "ping"}] * 21})
    assert (status, data["error"]["code"]) == (413, "too_large")
    big = "x" * (settings.RT_LONGPOLL_BODY_MAX_BYTES + 1)
    status, data = await vpost(http, "send", {"token": token, "frames": [], "pad": big})
    assert (status, data["error"]["code"]) == (413, "too_large")
    status, data = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": None, "client_id": "big", "body": "x" * (settings.RT_FRAME_MAX_BYTES + 1)}]})
    assert data["frames"][0]["code"] == "too_large"


async def test_origin_and_cursor_checks(world, http):
    token, conv_id = await start(http, world)
    status, data = await vpost(http, "poll", {"token": token, "cursor": None}, origin="https://evil.example")
    assert (status, data["error"]["code"]) == (403, "origin_forbidden")
    cursor = (await first_poll(http, token))["cursor"]
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor[:-3] + "abc"})
    assert (status, data["error"]["code"]) == (400, "bad_cursor")
    other = await visitor_token(world.tenant)  # another visitor may not use this cursor
    status, data = await vpost(http, "poll", {"token": other, "cursor": cursor})
    assert (status, data["error"]["code"]) == (400, "bad_cursor")


async def test_visitor_send_limit_applies_across_transports(world, http, settings):
    settings.RT_VISITOR_SENDS_PER_MINUTE = 2
    token, conv_id = await start(http, world)
    frames = [{"type": "send", "conversation": conv_id, "client_id": f"c-{i}", "body": "x"} for i in range(2, 4)]
    status, data = await vpost(http, "send", {"token": token, "frames": frames})
    assert [f["type"] if f["type"] == "ack" else f["code"] for f in data["frames"]] == ["ack", "rate_limited"]


async def test_typing_and_read_over_long_poll(world, http):
    token, conv_id = await start(http, world)
    agent = await open_agent(world.agent, hello={"resume": {conv_id: 1}})
    await agent.recv_type("welcome")
    await agent.drain()
    typing = {"type": "typing", "conversation": conv_id, "on": True}
    status, data = await vpost(http, "send", {"token": token, "frames": [typing, typing]})
    assert data["frames"] == []
    assert (await agent.recv_type("typing"))["author"] == {"type": "contact"}
    assert [f for f in await agent.drain() if f["type"] == "typing"] == []  # the second was throttled
    await sync_to_async(agent_posts)(world, conv_id, "answer")
    await vpost(http, "send", {"token": token, "frames": [{"type": "read", "conversation": conv_id, "seq": 2}]})
    assert (await agent.recv_type("read"))["seq"] == 2

    cursor = (await first_poll(http, token, resume={conv_id: 2}))["cursor"]

    async def agent_types():
        await poll_waiting()
        await agent.send({"type": "typing", "conversation": conv_id, "on": True})

    (status, polled), _ = await asyncio.gather(vpost(http, "poll", {"token": token, "cursor": cursor}), agent_types())
    assert polled["frames"][0]["type"] == "typing" and polled["frames"][0]["author"]["name"] == "Alice"
    await agent.close()


async def test_agent_long_poll(world, outsider, http):
    http.cookies.set("csrftoken", CSRF)
    status, data = await apost(http, "poll", {"cursor": None})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None}, csrf=False)
    assert status == 403  # session-authenticated endpoints need the CSRF token
    status, data = await apost(http, "poll", {"cursor": None, "hello": {"type": "hello"}})
    assert status == 200 and data["frames"][0]["type"] == "welcome"
    cursor = data["cursor"]

    token, conv_id = await start(http, world)
    status, data = await apost(http, "poll", {"cursor": cursor, "frames": [
        {"type": "subscribe", "conversation": conv_id, "last_seq": 0}]})
    kinds = [f["type"] for f in data["frames"]]
    assert "conversation" in kinds and kinds[-1] == "message"
    cursor = data["cursor"]

    status, data = await apost(http, "send", {"frames": [
        {"type": "send", "conversation": conv_id, "client_id": "n", "body": "psst", "kind": "note"},
        {"type": "send", "conversation": conv_id, "client_id": "r", "body": "Hi!"},
        {"type": "presence", "status": "away"},
    ]})
    assert [f["type"] for f in data["frames"]] == ["ack", "ack"]
    status, data = await apost(http, "poll", {"cursor": cursor})
    bodies = [f["message"]["body"] for f in data["frames"] if f["type"] == "message"]
    assert bodies == ["psst", "Hi!"]

    # The visitor's stream never has the note.
    vdata = await first_poll(http, token)
    assert [f["message"]["body"] for f in vdata["frames"] if f["type"] == "message"] == ["hello", "Hi!"]

    _, theirs = await start(http, outsider)
    status, data = await apost(http, "poll", {"cursor": data["cursor"], "frames": [
        {"type": "subscribe", "conversation": theirs, "last_seq": 0}]})
    assert [f.get("code") for f in data["frames"] if f["type"] == "error"] == ["not_found"]


async def test_agent_poll_wakes_up_for_a_new_conversation(world, http):
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None})
    cursor = data["cursor"]

    async def visitor_writes():
        await poll_waiting()
        return await start(http, world)

    (status, data), (token, conv_id) = await asyncio.gather(apost(http, "poll", {"cursor": cursor}), visitor_writes())
    assert data["frames"][0]["type"] == "conversation"
    assert data["frames"][0]["conversation"]["id"] == conv_id


async def test_ping_and_presence_over_long_poll(world, http):
    token, conv_id = await start(http, world)
    status, data = await vpost(http, "send", {"token": token, "frames": [{"type": "ping"}]})
    assert data["frames"] == [{"type": "pong"}]
    status, data = await vpost(http, "poll", {"token": token, "cursor": None, "frames": [{"type": "ping"}]})
    assert [f["type"] for f in data["frames"]] == ["welcome", "message", "pong"]
    cursor = data["cursor"]

    async def agent_arrives():
        await poll_waiting()
        sock = await open_agent(world.agent)
        await sock.recv_type("welcome")
        return sock

    (status, data), agent = await asyncio.gather(vpost(http, "poll", {"token": token, "cursor": cursor}),
                                                 agent_arrives())
    assert data["frames"] == [{"type": "presence", "team_online": True}]
    await agent.close()


async def test_agent_unsubscribes_over_long_poll(world, http):
    token, conv_id = await start(http, world)
    http.cookies.set("csrftoken", CSRF)
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None, "hello": {"type": "hello", "resume": {conv_id: 1}}})
    assert [f["type"] for f in data["frames"]] == ["welcome"]
    status, data = await apost(http, "poll", {"cursor": data["cursor"], "frames": [
        {"type": "unsubscribe", "conversation": conv_id}]})
    assert data["frames"] == []  # nothing new, so it waited
    await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "more"}]})
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})
    assert [f["type"] for f in data["frames"]] == ["conversation"]  # the inbox row, not the message
