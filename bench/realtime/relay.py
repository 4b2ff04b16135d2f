"""A relay that stores nothing: the yardstick of ``bench/realtime/run.py --baseline``.

Plain Channels consumers on channels_redis' pub/sub layer (``RedisPubSubChannelLayer``, as
shipped), speaking just enough of docs/protocol.md for the bench's load client: ``hello`` →
``welcome``; a visitor's ``send`` → ``ack`` to the sender and a ``message`` frame to the agent
sockets following the conversation, through a channel-layer group. Sequence numbers live in this
process's memory; nothing touches a database. It imports nothing of the product, so what it
costs is what a stock Channels + Redis relay costs on the same server (uvicorn, same options).

  REDIS_URL=redis://127.0.0.1:6379/6 REDIS_PREFIX=relay \
    .venv/bin/python -m uvicorn bench.realtime.relay:application --port 8001

HTTP: ``GET /healthz`` and ``POST /rt/widget/bootstrap`` (a random visitor token), which the
harness and the load client call. There is no long-poll path and no inbox fan-out.
"""
from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from typing import Any

import django
from django.conf import settings

if not settings.configured:
    settings.configure(
        DEBUG=False,
        INSTALLED_APPS=["channels"],
        DATABASES={},  # stores nothing
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {
                    "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
                    "prefix": f"{os.environ.get('REDIS_PREFIX', 'relay')}:ch",
                },
            }
        },
    )
    django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

# conversation id -> last seq given; one process owns a conversation (its visitor's socket).
SEQS: dict[str, int] = {}


def conversation_group(conversation: str) -> str:
    return f"conv.{conversation}"


class VisitorRelay(AsyncJsonWebsocketConsumer):
    """``hello`` → ``welcome``; ``send`` → ``ack`` here and a ``message`` to the conversation's group."""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "hello":
            self.contact = secrets.token_hex(6)
            await self.send_json({"type": "welcome", "you": {"type": "contact", "id": self.contact}})
        elif kind == "send":
            conversation = content.get("conversation") or secrets.token_hex(8)
            seq = SEQS[conversation] = SEQS.get(conversation, 0) + 1
            message = {
                "id": secrets.token_hex(8), "conversation": conversation, "seq": seq,
                "client_id": content.get("client_id"),
                "author": {"type": "contact", "id": self.contact, "name": "Visitor"},
                "kind": "text", "body": content.get("body", ""), "created": datetime.now(UTC).isoformat(),
            }
            await self.send_json({"type": "ack", "client_id": message["client_id"], "message": message})
            await self.channel_layer.group_send(
                conversation_group(conversation), {"type": "relay.message", "message": message}
            )
        else:
            await self.send_json({"type": "error", "code": "unknown_type"})


class AgentRelay(AsyncJsonWebsocketConsumer):
    """``hello`` joins the group of every conversation in ``resume``; group messages become frames."""

    async def connect(self) -> None:
        self.following: list[str] = []
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "hello":
            for conversation in content.get("resume") or {}:
                self.following.append(conversation_group(conversation))
                await self.channel_layer.group_add(self.following[-1], self.channel_name)
            await self.send_json({"type": "welcome", "you": {"type": "agent"}, "inbox_since": "0"})

    async def relay_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "message", "message": event["message"]})

    async def disconnect(self, code: int) -> None:
        for group in self.following:
            await self.channel_layer.group_discard(group, self.channel_name)


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The two HTTP calls the harness and the load client make; everything else is a 404."""
    while (await receive()).get("more_body"):
        pass  # the body is drained, not read: any visitor gets a fresh token
    if scope["path"] == "/healthz":
        status, body = 200, {"ok": True}
    elif scope["path"] == "/rt/widget/bootstrap" and scope["method"] == "POST":
        status, body = 200, {"visitor_token": secrets.token_urlsafe(24)}
    else:
        status, body = 404, {"error": "not_found"}
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(body).encode()})


application = ProtocolTypeRouter({
    "http": http,
    "websocket": URLRouter([
        path("ws/visitor/", VisitorRelay.as_asgi()),
        path("ws/agent/", AgentRelay.as_asgi()),
    ]),
})
