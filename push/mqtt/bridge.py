"""The MQTT bridge: client frames from ``…/in`` through ``push.protocol`` sessions, answers to ``…/out``.

One ``Conn`` per MQTT client id (one issued credential), holding the ``Session`` built by its
last ``hello``; it subscribes to the session's groups on the process's wake-up hub
(push/hub.py) as a socket does, and its lock keeps its frames and wake-ups from interleaving
inside the Session. Inbound
publishes are acknowledged (manual PUBACK) only after the frame was handled: its message
committed and the answers handed to the broker with QoS 1.

Several bridges share ``$share/bridge/sb/+/+/+/in``; the broker hands each frame to one of them.
Every bridge announces which clients it holds (``ownership``); a frame reaching a bridge that
does not hold its client goes over the bus (the group ``mqtt.bridge.<id>``) to the one that does, and when none is
alive (it crashed) the client is told ``hello_required`` and resumes with ``hello.resume`` as
after any reconnect (docs/protocol.md, "MQTT").
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from django_scopes import scopes_disabled

from push.hub import Hub, get_hub
from push.models_mqtt import MqttCredential
from push.mqtt import ownership, topics
from push.mqtt.broker import new_client, parse_url
from push.protocol import (
    CLOSE_BAD_HELLO,
    CLOSE_UNAUTHENTICATED,
    AgentSession,
    FrameError,
    Session,
    VisitorSession,
    clean_text,
    error_frame,
    on_db_thread,
    parse_json,
)
from support.errors import DomainError
from support.services.visitors import require_chat_allowed

log = logging.getLogger(__name__)


def closed_frame(code: int, detail: str) -> dict[str, Any]:
    """MQTT's stand-in for a WebSocket close: the session is gone; ``hello`` starts a new one."""
    return {"type": "closed", "code": code, "detail": detail}


def hello_required(*, ref: str | None, client_id: str | None) -> dict[str, Any]:
    return error_frame("hello_required", "No session for this client here: send hello (with resume)", ref=ref,
                       client_id=client_id)


_RESYNC = {"type": "bus.resync"}  # the bus was lost and is back: read what was missed


@dataclass(eq=False)
class Conn:
    """One MQTT client as this bridge holds it; a hub subscriber (``wake``/``resync``)."""

    client: str
    topic: topics.InTopic
    bridge: Bridge
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: Session | None = None
    joined: set[str] = field(default_factory=set)
    heard: float = field(default_factory=time.monotonic)  # the client's last frame
    beat: float = 0.0  # the last presence heartbeat

    def wake(self, event: dict[str, Any]) -> None:
        # A task per wake-up: they take the lock in the order they were started.
        self.bridge.start_task(self.bridge.on_wake(self, event))

    def resync(self) -> None:
        self.bridge.start_task(self.bridge.on_wake(self, _RESYNC))


class Bridge:
    """Runs in one event loop; paho's network thread hands it messages with ``call_soon_threadsafe``."""

    def __init__(self, *, url: str | None = None, bridge_id: str | None = None) -> None:
        self.address = parse_url(url or settings.MQTT_URL)
        self.bridge_id = bridge_id or uuid.uuid4().hex[:12]
        self.conns: dict[str, Conn] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.hub: Hub | None = None
        self.group = bridge_group(self.bridge_id)  # frames forwarded to this bridge
        self.ready = asyncio.Event()
        self.handled = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self.client = new_client(address=self.address, client_id=f"sb-bridge-{self.bridge_id}", manual_ack=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    # --- broker side (paho's thread) -------------------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.error("the broker refused the bridge: %s", reason)
            return
        client.subscribe(topics.SHARED_IN_FILTER, qos=1)
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.ready.set)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self._incoming, message.topic, message.payload, message.mid, message.qos)

    # --- the loop ---------------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set; then end every session (presence) and disconnect."""
        self.loop = asyncio.get_running_loop()
        self.hub = get_hub()
        await self.hub.join([self.group], self)
        await asyncio.to_thread(ownership.alive, self.bridge_id)
        self.start_task(self._housekeeping())
        self.client.connect_async(self.address.host, self.address.port, keepalive=30, clean_start=True)
        self.client.loop_start()
        try:
            await stop.wait()
        finally:
            self.client.disconnect()
            self.client.loop_stop()
            held = list(self.conns)
            for conn in list(self.conns.values()):
                await self._end(conn, announce=False)
            self.hub.leave([self.group], self)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.to_thread(ownership.forget_bridge, self.bridge_id, held)

    def start_task(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _incoming(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        self.start_task(self._handle(topic, payload, mid, qos))

    def publish(self, conn_topic: topics.InTopic, frames: list[dict[str, Any]]) -> None:
        for frame in frames:
            self.client.publish(conn_topic.out, json.dumps(frame, ensure_ascii=False), qos=1)

    async def _handle(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        try:
            parsed = topics.parse_in(topic)
            if parsed is not None:
                await self.frame(parsed, payload)
        except Exception:
            log.exception("MQTT frame on %s failed", topic)
        finally:
            self.handled += 1
            if qos > 0:
                self.client.ack(mid, qos)  # after the frame's commit and its answers

    # --- frames -----------------------------------------------------------------------------------------
    async def frame(self, topic: topics.InTopic, payload: bytes, *, forwarded: bool = False) -> None:
        """One client frame: hello and bye here; the rest to the bridge holding the client."""
        try:
            # The sockets' parser: size, depth, numbers and UTF-8 bounded before anything decodes it.
            frame = parse_json(payload, limit=settings.RT_FRAME_MAX_BYTES)
        except FrameError as exc:
            self.publish(topic, [error_frame(exc.code, exc.detail)])
            return
        text = payload.decode("utf-8")
        ftype = frame.get("type") if isinstance(frame, dict) else None
        if ftype == "hello":
            await self._hello(topic, frame)
            return
        if ftype == "bye":
            conn = self.conns.get(topic.client)
            if conn is not None:
                async with conn.lock:  # after the frames before it
                    await self._end(conn)
            elif not forwarded:
                await self._forward(topic, payload)
            return
        conn = self.conns.get(topic.client)
        if conn is None:
            if forwarded or not await self._forward(topic, payload):
                client_id = frame.get("client_id") if isinstance(frame, dict) and ftype == "send" else None
                ref = ftype if isinstance(ftype, str) and len(ftype) <= 32 and clean_text(ftype) else None
                self.publish(topic, [hello_required(
                    ref=ref, client_id=client_id if isinstance(client_id, str) and clean_text(client_id) else None)])
            return
        async with conn.lock:
            if conn.session is None:
                ref = ftype if isinstance(ftype, str) and len(ftype) <= 32 and clean_text(ftype) else None
                self.publish(topic, [hello_required(ref=ref, client_id=None)])
                return
            conn.heard = time.monotonic()
            frames = await conn.session.receive_text(text)
            frames += await self._sync_groups(conn)
            self.publish(topic, frames)
            if conn.session.close_code is not None:
                code = conn.session.close_code
                await self._end(conn, announce=False)
                self.publish(topic, [closed_frame(code, "Too many frames; hello again after a pause")])

    async def _hello(self, topic: topics.InTopic, frame: dict[str, Any]) -> None:
        conn = self.conns.get(topic.client)
        if conn is None:
            conn = self.conns[topic.client] = Conn(topic.client, topic, self)
        # Frames right after the hello come here; the bridge that held the client before lets go of
        # it, so that only one session (ours) answers its wake-ups.
        previous = await asyncio.to_thread(ownership.claim, topic.client, self.bridge_id)
        if previous is not None:
            self._bus().publish(bridge_group(previous), {"type": "mqtt.release", "client": topic.client})
        async with conn.lock:
            if conn.session is not None:
                await self._leave(conn)
            try:
                session = await on_db_thread(self._open)(topic)
            except _Refused as exc:
                self.publish(topic, [error_frame(exc.code, exc.detail, ref="hello"),
                                     closed_frame(exc.close, exc.detail)])
                self.conns.pop(topic.client, None)
                return
            try:
                frames = await session.hello(frame)
            except FrameError as exc:
                self.publish(topic, [error_frame(exc.code, exc.detail, ref="hello"),
                                     closed_frame(CLOSE_BAD_HELLO, exc.detail)])
                self.conns.pop(topic.client, None)
                return
            conn.session = session
            conn.heard = time.monotonic()
            frames += await self._sync_groups(conn)
            self.publish(topic, frames)

    def _open(self, topic: topics.InTopic) -> Session:
        """On the database thread: the session the client's credential speaks for, if it still may."""
        close_old_connections()
        with scopes_disabled():
            row = (MqttCredential.objects.select_related("tenant", "contact", "membership__user")
                   .filter(username=topic.client, revoked=False).first())
        if row is None or row.expires_at <= timezone.now() or row.base_topic != topic.base:
            raise _Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "These MQTT credentials are no longer valid")
        common = {"connection_id": f"{topic.client}.{uuid.uuid4().hex[:8]}", "transport": "mqtt",
                  "ip": "mqtt", "persistent": True}
        if row.contact is not None:
            row.contact.tenant = row.tenant
            try:
                require_chat_allowed(row.contact)
            except DomainError as exc:
                raise _Refused(CLOSE_UNAUTHENTICATED, exc.code, exc.detail) from None
            return VisitorSession(tenant=row.tenant, contact=row.contact, **common)
        if row.membership is not None and row.membership.is_active:
            row.membership.tenant = row.tenant
            return AgentSession(tenant=row.tenant, membership=row.membership, **common)
        raise _Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "These MQTT credentials are no longer valid")

    # --- wake-ups -------------------------------------------------------------------------------------
    def _bus(self) -> Hub:
        assert self.hub is not None, "the bridge is not running"
        return self.hub

    async def _sync_groups(self, conn: Conn) -> list[dict[str, Any]]:
        """As the socket's: join/leave the session's groups; after joining, read once more."""
        if conn.session is None:
            return []
        wanted = conn.session.groups()
        added, removed = wanted - conn.joined, conn.joined - wanted
        self._bus().leave(removed, conn)
        conn.joined = wanted
        if not added:
            return []
        await self._bus().join(added, conn)
        return await conn.session.catch_up(list(conn.session.follows.values()))

    async def on_wake(self, conn: Conn, event: dict[str, Any]) -> None:
        async with conn.lock:
            session = conn.session
            if session is None:
                return
            try:
                if event is _RESYNC:
                    frames = await on_db_thread(session.behind)()
                    frames.append(await session.presence_frame())
                else:
                    frames = await session.on_event(event)
                frames += await self._sync_groups(conn)
            except Exception:
                log.exception("MQTT wake-up for %s failed", conn.client)
                return
            self.publish(conn.topic, frames)

    # --- ending -----------------------------------------------------------------------------------------
    async def _leave(self, conn: Conn) -> None:
        """Close the session (presence) and leave its groups; the Conn may get a new session."""
        session, conn.session = conn.session, None
        self._bus().leave(conn.joined, conn)
        conn.joined = set()
        if session is not None:
            await session.closed()

    async def _end(self, conn: Conn, *, announce: bool = True) -> None:
        """The client left (``bye``, its will, silence) or lost its session: forget it here."""
        await self._leave(conn)
        if self.conns.get(conn.client) is conn:
            del self.conns[conn.client]
        if announce:
            await asyncio.to_thread(ownership.release, conn.client, self.bridge_id)

    async def _housekeeping(self) -> None:
        """Presence heartbeats for live sessions; silent ones end; this bridge's lease is renewed."""
        silence = 2 * settings.MQTT_KEEPALIVE_SECONDS + 5
        every = min(float(settings.PRESENCE_HEARTBEAT_SECONDS), ownership.BRIDGE_TTL_SECONDS / 3)
        while True:
            await asyncio.to_thread(ownership.alive, self.bridge_id)
            now = time.monotonic()
            for conn in list(self.conns.values()):
                if conn.session is None:
                    continue
                if now - conn.heard > silence:
                    async with conn.lock:
                        await self._end(conn)
                elif now - conn.beat >= settings.PRESENCE_HEARTBEAT_SECONDS:
                    conn.beat = now
                    await conn.session.heartbeat()
            await asyncio.sleep(every)

    # --- several bridges -------------------------------------------------------------------------------
    async def _forward(self, topic: topics.InTopic, payload: bytes) -> bool:
        """Hand a frame to the live bridge holding its client; False when there is none."""
        owner = await asyncio.to_thread(ownership.live_owner, topic.client)
        if owner is None or owner == self.bridge_id:
            return False
        self._bus().publish(bridge_group(owner), {"type": "mqtt.frame", "topic": topic.base + "/in",
                                                  "payload": payload.decode("utf-8", "replace")})
        return True

    def wake(self, event: dict[str, Any]) -> None:
        """A message on this bridge's own group: a forwarded frame, or a client to let go of."""
        if event.get("type") == "mqtt.release":
            self.start_task(self._released(str(event.get("client"))))
            return
        topic = topics.parse_in(str(event.get("topic", "")))
        if event.get("type") == "mqtt.frame" and topic is not None:
            self.start_task(self.frame(topic, str(event.get("payload", "")).encode(), forwarded=True))

    def resync(self) -> None:
        """Forwarded frames lost with the bus are sent again by their clients (no ack came)."""

    async def _released(self, client: str) -> None:
        """Another bridge answered this client's newer hello: our session of it ends here."""
        conn = self.conns.get(client)
        if conn is not None:
            async with conn.lock:
                await self._end(conn, announce=False)


def bridge_group(bridge_id: str) -> str:
    return f"mqtt.bridge.{bridge_id}"


class _Refused(Exception):
    def __init__(self, close: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.close, self.code, self.detail = close, code, detail
