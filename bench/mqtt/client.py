"""An app's MQTT client for tests and the bench: paho in its network thread, frames into asyncio."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from bench.realtime.client import last_contiguous_seq


class MqttApp:
    """Connects with issued credentials (the ``mqtt`` object of the credentials answer)."""

    def __init__(self, creds: dict[str, Any], *, host: str | None = None, port: int | None = None,
                 will: bool = True) -> None:
        self.on_frame: Callable[[dict[str, Any]], None] | None = None  # takes the frames instead of the queue
        self.creds = creds
        self.host = host or creds["host"]
        self.port = port or creds["port"]
        self.loop = asyncio.get_running_loop()
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.connected: asyncio.Future[ReasonCode] = self.loop.create_future()
        self.disconnected: asyncio.Future[ReasonCode] = self.loop.create_future()
        self.subacks: dict[int, asyncio.Future[list[ReasonCode]]] = {}
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=creds["client_id"],
            protocol=mqtt.MQTTv5,
        )
        self.client.username_pw_set(creds["username"], creds["password"])
        if will:  # the broker publishes it when the connection drops: presence ends (docs/protocol.md)
            self.client.will_set(creds["publish"], json.dumps({"type": "bye"}), qos=1)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    def _soon(self, fn: Any, *args: Any) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(fn, *args)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._soon(lambda: self.connected.done() or self.connected.set_result(reason))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self._soon(lambda: self.disconnected.done() or self.disconnected.set_result(reason))
        self._soon(lambda: self.connected.done() or self.connected.set_result(reason))

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            frame = json.loads(message.payload)
        except ValueError:
            frame = {"type": "__not_json__"}
        self._soon(self._deliver, frame)

    def _deliver(self, frame: dict[str, Any]) -> None:
        if self.on_frame is not None:
            self.on_frame(frame)
        else:
            self.frames.put_nowait(frame)

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        def done() -> None:
            future = self.subacks.get(mid)
            if future is not None and not future.done():
                future.set_result(reasons)
        self._soon(done)

    async def connect(self, *, timeout: float = 10) -> ReasonCode:
        """Connect (clean start) and wait for CONNACK; the reason code (0 = accepted)."""
        self.client.connect_async(self.host, self.port, keepalive=self.creds.get("keepalive", 60), clean_start=True)
        self.client.loop_start()
        reason = await asyncio.wait_for(self.connected, timeout)
        if reason.is_failure:
            self.client.disconnect()  # no automatic retries with refused credentials
            self.client.loop_stop()
        return reason

    async def subscribe(self, topic: str | None = None, *, timeout: float = 10) -> list[ReasonCode]:
        """SUBSCRIBE (QoS 1) and its SUBACK reason codes (granted QoS, or 0x87 not authorised)."""
        _rc, mid = self.client.subscribe(topic or self.creds["subscribe"], qos=1)
        future = self.subacks.setdefault(mid, self.loop.create_future())
        return await asyncio.wait_for(future, timeout)

    async def start(self) -> None:
        """Connect and subscribe to our own ``…/out``; raises if refused."""
        reason = await self.connect()
        assert not reason.is_failure, f"connect refused: {reason}"
        granted = await self.subscribe()
        assert not granted[0].is_failure, f"subscribe refused: {granted}"

    def send(self, frame: dict[str, Any] | str | bytes, *, topic: str | None = None) -> None:
        payload = frame if isinstance(frame, str | bytes) else json.dumps(frame)
        self.client.publish(topic or self.creds["publish"], payload, qos=1)

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        return await asyncio.wait_for(self.frames.get(), timeout)

    async def recv_type(self, ftype: str, timeout: float = 10) -> dict[str, Any]:
        """The next frame of ``ftype``, skipping others (presence, typing, …)."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == ftype:
                return frame

    def drop(self) -> None:
        """Vanish without DISCONNECT (a phone losing its network): the broker publishes the will."""
        sock = self.client.socket()
        self.client.loop_stop()
        if sock is not None:
            sock.close()

    def close(self) -> None:
        """A clean goodbye: ``bye``, then DISCONNECT."""
        if self.client.is_connected():
            self.send({"type": "bye"})
        self.client.disconnect()
        self.client.loop_stop()


class ResumingVisitor:
    """A visitor app following docs/protocol.md's MQTT reconnect rules: on ``hello_required`` (or a
    new connection) it says hello with its last seq and sends every unacknowledged send again;
    a send or hello unanswered for ``retry_after`` seconds is sent again too."""

    def __init__(self, app: MqttApp, *, retry_after: float = 3.0) -> None:
        self.app = app
        self.retry_after = retry_after
        self.conversation: str | None = None
        self.seqs: dict[int, str] = {}  # seq -> message id, from `message` frames and acks
        self.duplicates: list[int] = []  # seqs a `message` frame repeated
        self.message_seqs: set[int] = set()
        self.client_ids: list[str] = []  # of `message` frames, in arrival order
        self.pending: dict[str, tuple[str, float]] = {}  # client_id -> (body, last sent)
        self.acked_at: dict[str, float] = {}
        self.sent_at: dict[str, float] = {}
        self.hellos = 0
        self.welcomed = asyncio.Event()
        self.hello_sent = 0.0
        self.retried: list[str] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def last_contiguous(self) -> int:
        return last_contiguous_seq(self.seqs)

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        self.hello()
        await asyncio.wait_for(self.welcomed.wait(), 30)

    def hello(self) -> None:
        self.welcomed.clear()
        self.hellos += 1
        self.hello_sent = time.monotonic()
        resume = {self.conversation: self.last_contiguous} if self.conversation else {}
        self.app.send({"type": "hello", "resume": resume})

    def say(self, client_id: str, body: str) -> None:
        self.pending[client_id] = (body, time.monotonic())
        self.sent_at.setdefault(client_id, time.monotonic())
        if self.welcomed.is_set():
            self._send(client_id, body)

    def _send(self, client_id: str, body: str) -> None:
        self.pending[client_id] = (body, time.monotonic())
        self.app.send({"type": "send", "client_id": client_id, "conversation": self.conversation, "body": body})

    async def _run(self) -> None:
        while True:
            try:
                frame = await self.app.recv(timeout=0.5)
            except TimeoutError:
                frame = None
            now = time.monotonic()
            if frame is not None:
                self._on_frame(frame, now)
            if not self.welcomed.is_set():
                if now - self.hello_sent > self.retry_after:
                    self.hello()
                continue
            for client_id, (body, at) in list(self.pending.items()):
                if now - at > self.retry_after:
                    self.retried.append(client_id)
                    self._send(client_id, body)

    def _on_frame(self, frame: dict[str, Any], now: float) -> None:
        ftype = frame.get("type")
        if ftype == "welcome":
            self.welcomed.set()
            for client_id, (body, _at) in list(self.pending.items()):
                self._send(client_id, body)
        elif ftype == "ack":
            message = frame["message"]
            self.pending.pop(frame["client_id"], None)
            self.acked_at.setdefault(frame["client_id"], now)
            self.seqs.setdefault(message["seq"], message["id"])
            self.conversation = message["conversation"]
        elif ftype == "message":
            message = frame["message"]
            # An ack may precede a `message` of the same seq (a retried send): a repeated
            # `message` frame is the duplicate that must never happen.
            if message["seq"] in self.message_seqs:
                self.duplicates.append(message["seq"])
            self.message_seqs.add(message["seq"])
            self.seqs[message["seq"]] = message["id"]
            if message.get("client_id"):
                self.client_ids.append(message["client_id"])
                self.pending.pop(message["client_id"], None)
        elif ftype in ("closed",) or (ftype == "error" and frame.get("code") == "hello_required"):
            if self.welcomed.is_set() or ftype == "closed":
                self.hello()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
