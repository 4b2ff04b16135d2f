"""The socket's own CPU per frame, in this process: no server, no network, no database, no Redis.

A visitor socket and an agent socket (``push.consumers``) on a real ``SlimWebSocketProtocol`` whose
transport discards the bytes. ``send``: a visitor's send frame from its text to the written ack,
the send's own work (limits, the write batch) replaced by a ready ack — parsing, checks, dispatch,
the groups, encoding, framing. ``wake``: an agent's ``conversation.seq`` wake-up (the message
carried, as the hub decodes it) to its written ``message`` frame.

    .venv/bin/python bench/realtime/socket_path.py [--frames 20000] [--rounds 3]

One line per round: ``send_us_per_frame= wake_us_per_frame=`` (CPU time ÷ frames).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

MESSAGE = {
    "id": "msg_bench", "conversation": "cv_bench", "seq": 0, "client_id": "c-0", "author": {"type": "contact"},
    "kind": "text", "body": "hello from the visitor, a message of ordinary length",
    "created": "2026-12-05T14:00:00.000000+00:00",
}


class Hub:
    def leave(self, groups: Any, subscriber: Any) -> None:
        pass

    async def join(self, groups: Any, subscriber: Any) -> None:
        pass


class Transport:
    def write(self, data: bytes) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def close(self) -> None:
        pass


def protocol() -> Any:
    import uvicorn
    from uvicorn.server import ServerState
    from websockets.protocol import State

    from push.uvicorn_ws import SlimWebSocketProtocol

    async def app(scope: Any, receive: Any, send: Any) -> None:  # never called: the socket is made here
        pass

    config = uvicorn.Config(app=app, ws="push.uvicorn_ws:SlimWebSocketProtocol", ws_per_message_deflate=False,
                            lifespan="off", log_level="warning")
    config.load()
    proto = SlimWebSocketProtocol(config, ServerState(), app_state={}, _loop=asyncio.get_running_loop())
    proto.transport = Transport()  # type: ignore[assignment]
    proto.handshake_complete = True
    proto.conn.state = State.OPEN
    return proto


def joined(sock: Any, session: Any) -> None:
    sock.session = session
    sock.joined = tuple(session.groups())
    session.follows.changed = False


async def send_frames(frames: int) -> float:
    from push.consumers import VisitorSocket
    from push.protocol import sending
    from push.protocol.delivery import Follow
    from push.protocol.visitor import VisitorSession
    from support.models import Contact, Tenant

    async def ready_ack(session: Any, *, client_id: str, **values: Any) -> list[dict[str, Any]]:
        follow = session.follows[42]
        seq = follow.seen + 1
        frame = {"type": "ack", "client_id": client_id, "message": {**MESSAGE, "seq": seq, "client_id": client_id},
                 "prev_seq": follow.sent}
        follow.seen = follow.sent = seq
        return [frame]

    sending.send = ready_ack  # type: ignore[assignment]
    proto = protocol()
    session = VisitorSession(tenant=Tenant(pk=7, public_id="tn_bench"), contact=Contact(pk=3, public_id="ct_bench"),
                             connection_id="c" * 32, transport="ws")
    VisitorSocket.adopt(session)  # as its hello does
    session.guard = None  # push/ratelimit.py's, not the socket's
    session.follows[42] = Follow("cv_bench", 42, 0, 0)
    sock = VisitorSocket({"type": "websocket", "headers": []}, proto.send, Hub())  # type: ignore[arg-type]
    joined(sock, session)
    body = MESSAGE["body"]
    texts = [f'{{"type":"send","conversation":"cv_bench","client_id":"c-{i}","body":"{body}"}}' for i in range(frames)]
    started = time.process_time()
    for text in texts:
        await sock.receive(text, None)
    spent = time.process_time() - started
    assert session.follows[42].seen == frames
    return spent / frames * 1e6


async def wake_frames(frames: int) -> float:
    from push.consumers import AgentSocket
    from push.hub import decode_event, encode_json
    from push.protocol.agent import AgentSession
    from push.protocol.delivery import Follow
    from support.models import Membership, Tenant

    proto = protocol()
    session = AgentSession(tenant=Tenant(pk=7, public_id="tn_bench"), membership=Membership(pk=3, public_id="m_b"),
                           connection_id="c" * 32, transport="ws")
    session.follows[42] = Follow("cv_bench", 42, 0, 0)
    sock = AgentSocket({"type": "websocket", "headers": []}, proto.send, Hub())  # type: ignore[arg-type]
    joined(sock, session)
    events = [
        decode_event(encode_json({"type": "conversation.seq", "conversation": 42, "seq": seq,
                                  "message": {**MESSAGE, "seq": seq}, "at": 0.0}))
        for seq in range(1, frames + 1)
    ]
    started = time.process_time()
    for event in events:
        sock.wake(event)
        while sock.draining is not None or sock.queued:  # a wake-up handled in a task: let it run
            await asyncio.sleep(0)
    spent = time.process_time() - started
    assert session.follows[42].seen == frames
    return spent / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import django

    django.setup()
    for _ in range(args.rounds):
        send_us = asyncio.run(send_frames(args.frames))
        wake_us = asyncio.run(wake_frames(args.frames))
        print(f"send_us_per_frame={send_us:.2f} wake_us_per_frame={wake_us:.2f} loadavg_1m={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
