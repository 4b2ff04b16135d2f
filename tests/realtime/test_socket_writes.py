"""How a socket's frames reach the server's protocol: a wake-up that needs nothing awaited is written at
once (no task), in order with everything else the socket sends; one write for several frames; the
ASGI ``websocket.send`` when the protocol cannot take them now (push/consumers.py, push/uvicorn_ws.py)."""
from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets
from asgiref.sync import sync_to_async

from push.consumers import AgentSocket, VisitorSocket, _RealtimeSocket, _Sends
from push.protocol.delivery import Follows
from tests.realtime.conftest import DASHBOARD, SITE, real_server, session_cookie, visitor_token

pytestmark = pytest.mark.django_db(transaction=True)


class Writer:
    """A server protocol that may take frames at once (``open``), else only ASGI messages."""

    def __init__(self) -> None:
        self.open = True
        self.written: list[list[Any]] = []  # one entry per write, its frames decoded
        self.messages: list[dict[str, Any]] = []  # ASGI messages through ``send``

    def can_write_now(self) -> bool:
        return self.open

    def write_texts(self, texts: list[str]) -> bool:
        if not self.open:
            return False
        self.written.append([json.loads(text) for text in texts])
        return True

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)


class Session:
    """What a socket asks of its session on a wake-up; ``now`` says whether frames need an await."""

    kind = "visitor"
    inbox = None
    close_code = None

    def __init__(self) -> None:
        self.follows = Follows()
        self.follows.changed = False  # joined: nothing to sync
        self.now = True

    def frames_now(self, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        return [{"type": "message", "n": event["n"]}] if self.now else None

    def delivered(self, event: dict[str, Any]) -> bool:
        return event.get("delivered", False)

    async def on_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        return [{"type": "message", "n": event["n"], "read": True}]


def socket_on(writer: Writer) -> tuple[_RealtimeSocket, Session]:
    sock = VisitorSocket({"type": "websocket", "headers": []}, writer.send, hub=None)  # type: ignore[arg-type]
    session = Session()
    sock.session = session  # type: ignore[assignment]
    return sock, session


async def settled(sock: _RealtimeSocket) -> None:
    while sock.draining is not None:
        await asyncio.sleep(0)


async def test_a_wake_up_needing_no_await_is_written_at_once_without_a_task():
    writer = Writer()
    sock, _ = socket_on(writer)
    sock.wake({"n": 1})
    assert writer.written == [[{"type": "message", "n": 1}]]
    assert sock.draining is None and sock.queued is None and writer.messages == []


async def test_wake_ups_wait_their_turn_and_keep_their_order():
    writer = Writer()
    sock, _ = socket_on(writer)
    await sock.turn.__aenter__()  # the socket is handling a client frame
    sock.wake({"n": 1})
    assert writer.written == [] and sock.queued
    await sock.turn.__aexit__(None, None, None)
    sock.wake({"n": 2})  # the first is still queued: this one goes behind it, not ahead
    await settled(sock)
    assert [frame["n"] for write in writer.written for frame in write] == [1, 2]
    sock.wake({"n": 3})  # all quiet again: at once
    assert writer.written[-1] == [{"type": "message", "n": 3}] and sock.draining is None


async def test_a_wake_up_waits_for_the_sends_in_flight():
    writer = Writer()
    sock, _ = socket_on(writer)
    sock.sends = sends = _Sends()  # a send started, its ack not written yet
    sends.started = 1
    sock.wake({"n": 1})  # may carry that very message: after the ack
    for _ in range(5):
        await asyncio.sleep(0)
    assert writer.written == [] and sock.draining is not None
    sends.one_answered()
    sock.sends = None
    await settled(sock)
    assert writer.written == [[{"type": "message", "n": 1, "read": True}]]


async def test_a_wake_up_already_delivered_needs_nothing_while_sends_are_in_flight():
    writer = Writer()
    sock, _ = socket_on(writer)
    sock.sends = sends = _Sends()  # the next send in flight
    sends.started = 1
    sock.wake({"n": 1, "delivered": True})  # the wake-up of the send acked before it
    assert sock.draining is None and sock.queued is None and writer.written == [] and writer.messages == []


def test_a_session_knows_the_wake_ups_of_what_it_delivered():
    from push.protocol.delivery import Follow
    from push.protocol.visitor import VisitorSession
    from support.models import Contact, Tenant

    session = VisitorSession(tenant=Tenant(pk=7, public_id="tn_x"), contact=Contact(pk=3, public_id="ct_x"),
                             connection_id="c", transport="ws")
    session.follows[42] = Follow("cv_x", 42, 5, 5)
    seq = {"type": "conversation.seq", "conversation": 42}
    assert session.delivered({**seq, "seq": 5}) and session.delivered({**seq, "seq": 1})
    assert not session.delivered({**seq, "seq": 6})  # the next one: a message frame
    assert not session.delivered({**seq, "seq": 1, "conversation": 43})  # not followed
    assert not session.delivered({**seq, "seq": "5"}) and not session.delivered({"type": "conversation.typing"})
    assert session.frames_now({**seq, "seq": 5}) == []  # what delivered() promises


async def test_a_wake_up_that_awaits_goes_through_the_task():
    writer = Writer()
    sock, session = socket_on(writer)
    session.now = False
    sock.wake({"n": 1})
    assert writer.written == [] and sock.draining is not None
    await settled(sock)
    assert writer.written == [[{"type": "message", "n": 1, "read": True}]]


async def test_a_protocol_that_cannot_take_frames_now_gets_asgi_messages():
    writer = Writer()
    writer.open = False  # e.g. the transport's buffer is full: ``send`` waits for it
    sock, _ = socket_on(writer)
    sock.wake({"n": 1})
    assert sock.draining is not None
    await settled(sock)
    assert writer.written == []
    assert writer.messages == [{"type": "websocket.send", "text": '{"type":"message","n":1,"read":true}'}]


async def test_a_wake_up_waits_while_the_follows_changed(monkeypatch):
    writer = Writer()
    sock, session = socket_on(writer)
    session.follows.changed = True  # the groups must be synced first (by the task)

    async def no_sync(self: _RealtimeSocket) -> list[dict[str, Any]]:
        session.follows.changed = False
        return []

    monkeypatch.setattr(_RealtimeSocket, "_sync_groups", no_sync)
    sock.wake({"n": 1})
    assert writer.written == [] and sock.draining is not None
    await settled(sock)
    assert writer.written == [[{"type": "message", "n": 1, "read": True}]]


async def test_on_a_real_server_wake_ups_reach_the_agent_at_once_in_order(world, monkeypatch):
    """uvicorn with the slim protocol: the visitor's acks and the agent's messages and typing frames
    are written directly, and the agent's wake-ups start no task (the visitor's own come while it
    awaits its ack, so they wait their turn)."""
    queued: list[Any] = []
    enqueue = _RealtimeSocket._enqueue

    def spy(self: _RealtimeSocket, item: Any) -> None:
        if isinstance(self, AgentSocket):
            queued.append(item)
        enqueue(self, item)

    monkeypatch.setattr(_RealtimeSocket, "_enqueue", spy)
    token = await visitor_token(world.tenant)
    cookie = await sync_to_async(session_cookie)(world.agent)
    async with real_server() as (_, port):
        visitor = await websockets.connect(f"ws://127.0.0.1:{port}/ws/visitor/", origin=SITE)
        await visitor.send(json.dumps({"type": "hello", "token": token, "resume": {}}))
        assert json.loads(await visitor.recv())["type"] == "welcome"
        await visitor.send(json.dumps({"type": "send", "conversation": None, "client_id": "c-0", "body": "hi"}))
        ack = await until(visitor, "ack")
        conv = ack["message"]["conversation"]
        agent = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/agent/", origin=DASHBOARD, additional_headers={"Cookie": f"sessionid={cookie}"}
        )
        await agent.send(json.dumps({"type": "hello", "resume": {conv: 1}}))
        await until(agent, "welcome")
        await asyncio.sleep(0.3)  # the hello's catch-up and inbox rows
        queued.clear()
        for n in range(1, 6):
            frame = {"type": "send", "conversation": conv, "client_id": f"c-{n}", "body": f"m{n}"}
            await visitor.send(json.dumps(frame))
            assert (await until(visitor, "ack"))["message"]["seq"] == n + 1
        got = [await until(agent, "message") for _ in range(5)]
        assert [(f["message"]["seq"], f["prev_seq"], f["message"]["body"]) for f in got] == [
            (n + 1, n, f"m{n}") for n in range(1, 6)
        ]
        await visitor.send(json.dumps({"type": "typing", "conversation": conv, "on": True}))
        typing = await until(agent, "typing")
        assert typing["conversation"] == conv and typing["on"] is True
        assert not [item for item in queued if isinstance(item, dict) and item["type"].startswith("conversation.")]
        await agent.close()
        await visitor.close()


async def until(ws: Any, ftype: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame["type"] == ftype:
            return frame
        assert frame["type"] != "error", frame


class Transport:
    """What the protocol calls on its transport, counted."""

    def __init__(self) -> None:
        self.paused = False
        self.pauses = 0
        self.written: list[bytes] = []

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False

    def write(self, data: bytes) -> None:
        self.written.append(data)

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


async def open_protocol() -> tuple[Any, Transport]:
    """uvicorn's protocol (ours) on a transport of the test's, past a real handshake; its app only accepts."""
    import uvicorn
    from uvicorn.server import ServerState

    from push.uvicorn_ws import SlimWebSocketProtocol

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        await asyncio.Event().wait()  # the test reads the protocol's queue itself

    config = uvicorn.Config(app=app, ws="push.uvicorn_ws:SlimWebSocketProtocol", lifespan="off", log_level="warning")
    config.load()
    proto = SlimWebSocketProtocol(config, ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    transport = Transport()
    proto.connection_made(transport)  # type: ignore[arg-type]
    proto.data_received(
        b"GET / HTTP/1.1\r\nHost: testserver\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    while not proto.handshake_complete:
        await asyncio.sleep(0)
    transport.written.clear()
    return proto, transport


def text_frame(text: str) -> bytes:
    """A client's (masked) text frame."""
    from websockets.frames import Frame, Opcode

    return Frame(Opcode.TEXT, text.encode()).serialize(mask=True)


async def test_reading_pauses_only_for_a_message_nobody_waits_for():
    proto, transport = await open_protocol()
    receiving = asyncio.ensure_future(proto.receive())
    await asyncio.sleep(0)  # the app waits for its next message
    proto.data_received(text_frame("one"))
    assert not transport.paused and transport.pauses == 0  # taken at once: reading goes on
    assert (await receiving)["text"] == "one"
    # Two at once while the app waits for one: the second waits in the queue, and reading pauses
    # until it is taken (uvicorn's bound: one being handled, one waiting).
    receiving = asyncio.ensure_future(proto.receive())
    await asyncio.sleep(0)
    proto.data_received(text_frame("two") + text_frame("three"))
    assert transport.paused and transport.pauses == 1
    assert (await receiving)["text"] == "two"
    assert transport.paused  # "three" is still queued
    assert (await proto.receive())["text"] == "three"
    assert not transport.paused  # nothing queued: reading resumes, as in uvicorn
    # Nobody waiting: the message is queued and reading pauses.
    proto.data_received(text_frame("four"))
    assert transport.paused and transport.pauses == 2
    assert (await proto.receive())["text"] == "four" and not transport.paused


async def test_write_texts_frames_a_list_in_one_write_and_leaves_a_closed_socket_to_send():
    proto, transport = await open_protocol()
    assert proto.write_texts(['{"type":"pong"}', '{"type":"ack"}'])
    assert len(transport.written) == 1 and transport.written[0].count(b'{"type":') == 2
    proto.close_sent = True
    assert not proto.can_write_now() and not proto.write_texts(['{"type":"pong"}'])
    assert len(transport.written) == 1
