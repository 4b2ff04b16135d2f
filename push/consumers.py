"""WebSocket transport: moves frames between a socket and a ``push.protocol.Session``.

The first frame must be ``hello`` (within ``RT_HELLO_TIMEOUT_SECONDS``). Channels runs one
handler at a time per consumer, so client frames and wake-ups never interleave inside a Session.

Every socket's hello deadline and presence heartbeats share one timer per event loop
(``Timers``), and wake-ups come from the loop's ``push.hub.Hub`` as plain calls: an idle socket
keeps no task of its own.

While the bus's Redis is down, a new socket is accepted and closed at once with
``CLOSE_TRY_AGAIN`` (1013) and an ``unavailable`` error frame; an open one stays open, and when
the hub is back it tells the socket to read from the database what it missed (docs/protocol.md,
"Failures and retries").
"""
from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import json
import logging
import uuid
import weakref
from abc import ABCMeta, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from push import metrics
from push.coalesce import Coalescer
from push.hub import Hub, encode_frame, get_hub
from push.protocol import (
    AGENT,
    CLOSE_BAD_HELLO,
    CLOSE_FORBIDDEN,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_UNAUTHENTICATED,
    FrameError,
    Refused,
    Session,
    error_frame,
    on_db_thread,
    open_agent,
    open_visitor,
    parse_json,
)
from support.client_address import address_group
from support.middleware import SESSION_TENANT_KEY

log = logging.getLogger(__name__)

# RFC 6455 "Try Again Later": refused for now because a part of the service (Redis) is down.
CLOSE_TRY_AGAIN = 1013
# RFC 6455 "Internal Error": a hello failed in a way the checks did not foresee (logged).
CLOSE_INTERNAL = 1011


class Timer:
    """One pending call of ``Timers``; ``cancel()`` makes it a no-op."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback: Callable[[], None] | None = callback

    def cancel(self) -> None:
        self.callback = None


class Timers:
    """Delayed calls of one event loop in a heap, behind a single loop timer.

    A sleeping task per socket (hello deadline, heartbeat) costs ~1.8 KB each; an entry here ~0.2 KB.
    Callbacks run on the loop and must not block: those with async work start a task for it.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Timers] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # not a strong one: this is the value of a weak key
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._armed: asyncio.TimerHandle | None = None
        self._armed_at = 0.0

    @classmethod
    def of_running_loop(cls) -> Timers:
        loop = asyncio.get_running_loop()
        timers = cls._by_loop.get(loop)
        if timers is None:
            timers = cls._by_loop[loop] = cls(loop)
        return timers

    def now(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(callback)
        due = self.loop.time() + delay
        heapq.heappush(self._heap, (due, next(self._order), timer))
        if self._armed is None or due < self._armed_at:
            self._arm(due)
        return timer

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop of these timers is gone")
        return loop

    def __len__(self) -> int:
        """Pending calls, cancelled ones included until their time comes."""
        return len(self._heap)

    def _arm(self, due: float) -> None:
        if self._armed is not None:
            self._armed.cancel()
        self._armed, self._armed_at = self.loop.call_at(due, self._fire), due

    def _fire(self) -> None:
        self._armed = None
        now = self.loop.time()
        while self._heap and self._heap[0][0] <= now:
            _due, _n, timer = heapq.heappop(self._heap)
            callback, timer.callback = timer.callback, None
            if callback is not None:
                try:
                    callback()
                except Exception:
                    log.exception("timer callback failed")
        if self._heap:
            self._arm(self._heap[0][0])


# Tasks started by timer callbacks, kept referenced until they finish.
_running: set[asyncio.Task[None]] = set()


def _start(coro: Any, *, context: contextvars.Context | None = None) -> asyncio.Task[None]:
    task = asyncio.get_running_loop().create_task(coro, context=context)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def _internal_frame(*, ref: str | None) -> dict[str, Any]:
    return error_frame("internal", "The server failed on this frame; retry it later", ref=ref)


def _unavailable_frame(*, ref: str | None) -> dict[str, Any]:
    return error_frame("unavailable", "Live updates are briefly unavailable; reconnect with back-off", ref=ref)


async def _refuse_for_now(receive: Any, send: Any) -> None:
    """Complete the handshake and close with 1013, so a browser sees the code (a refused
    handshake shows only as 1006 there)."""
    message = await receive()
    if message.get("type") != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(_unavailable_frame(ref=None))})
    await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})


def _newer_row(held: dict[str, Any], event: dict[str, Any]) -> bool:
    """Whether the held inbox wake-up carries a later row than ``event`` (wake-ups from two
    processes can arrive out of order); bare wake-ups are read from the database, so any will do."""
    mine, theirs = held.get("payload"), event.get("payload")
    if not isinstance(mine, dict) or not isinstance(theirs, dict):
        return False
    try:
        return datetime.fromisoformat(mine["updated"]) > datetime.fromisoformat(theirs["updated"])
    except (KeyError, TypeError, ValueError):
        return False


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


# A drain-queue entry that is not an event: the bus was lost and is back (read the database).
_RESYNC: dict[str, Any] = {"type": "_resync"}


class _Held:
    """A drain-queue entry: inbox wake-ups the coalescer held, now due."""

    __slots__ = ("events",)

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events


class _RealtimeConsumer(AsyncWebsocketConsumer, metaclass=ABCMeta):
    """A socket and its Session; a subscriber of the loop's hub (``wake``/``resync``).

    Client frames are handled in the socket's own task. Wake-ups are queued by ``wake`` and
    handled by a task that exists only while there are some; a lock keeps Channels' guarantee
    that the two never interleave inside the Session.
    """

    session: Session | None

    async def connect(self) -> None:
        self.session = None
        self.joined: set[str] = set()
        self.connection_id = uuid.uuid4().hex
        self.closing = False
        # The hello deadline, then the next heartbeat; and a heartbeat while it runs.
        self.timer: Timer | None = None
        self.beating: asyncio.Task[None] | None = None
        await self.accept()
        self.timer = Timers.of_running_loop().call_later(settings.RT_HELLO_TIMEOUT_SECONDS, self._hello_deadline)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """As Channels' ``AsyncConsumer.__call__`` without the channel layer: wake-ups come from the hub."""
        self.scope = scope
        self.base_send = send
        self.hub: Hub = get_hub()
        if not self.hub.reachable():
            log.warning("socket refused: the wake-up bus is unreachable")
            await _refuse_for_now(receive, send)
            return
        # Wake-up work runs in the connection's context, as Channels ran its handlers (asgiref's
        # thread-sensitive database calls depend on it), not in the hub's.
        self.context = contextvars.copy_context()
        self.turn = asyncio.Lock()
        self.queued: list[Any] | None = None
        self.draining: asyncio.Task[None] | None = None
        self.inbox_gate: Coalescer | None = None
        try:
            while True:
                message = await receive()
                async with self.turn:
                    await self.dispatch(message)
        except StopConsumer:
            pass
        finally:
            metrics.socket_ended(getattr(self, "session", None))
            self._leave_all()
            if self.draining is not None:
                self.draining.cancel()

    async def dispatch(self, message: dict[str, Any]) -> None:
        """As Channels' own, without its ``aclose_old_connections`` hop before every handler.

        That hop sends each frame to the database thread and back, even those that need no
        query. Every query of ours runs through ``database_sync_to_async``, which closes stale
        connections in that thread itself.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- socket -> session -------------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        metrics.frames_received("ws")
        if self.closing:
            return
        if text_data is None:
            if self.session is None:
                await self._close_with(CLOSE_BAD_HELLO, error_frame("bad_json", "Binary frames are not accepted"))
            else:
                await self._send_frames([error_frame("bad_json", "Binary frames are not accepted")])
            return
        if self.session is None:
            if self.timer is not None:
                self.timer.cancel()  # a first frame arrived: the deadline no longer applies
                self.timer = None
            try:
                await self._first_frame(text_data)
            except Exception:  # noqa: BLE001 - the last resort: checks refuse bad input before this
                log.exception("a hello failed")
                await self._close_with(CLOSE_INTERNAL, _internal_frame(ref="hello"))
            return
        try:
            frames = await self.session.receive_text(text_data)
        except Exception:  # noqa: BLE001 - the last resort: the socket goes on
            log.exception("a frame failed")
            frames = [_internal_frame(ref=None)]
        frames += await self._sync_groups()
        await self._send_frames(frames)
        if self.session.close_code is not None:
            await self._close_with(self.session.close_code, None)

    async def _first_frame(self, text: str) -> None:
        try:
            frame = parse_json(text, limit=settings.RT_FRAME_MAX_BYTES)
        except FrameError as exc:
            await self._close_with(CLOSE_BAD_HELLO, error_frame(exc.code, exc.detail, ref="hello"))
            return
        if not isinstance(frame, dict) or frame.get("type") != "hello":
            await self._close_with(CLOSE_BAD_HELLO, error_frame("bad_json", "The first frame must be a hello"))
            return
        try:
            session = await self.open_session(frame)
        except Refused as exc:
            await self._close_with(exc.close_code, error_frame(exc.code, exc.detail, ref="hello"))
            return
        try:
            frames = await session.hello(frame)
        except FrameError as exc:
            await self._close_with(CLOSE_BAD_HELLO, error_frame(exc.code, exc.detail, ref="hello"))
            return
        if self.closing:  # closed while the hello was being checked
            return
        self.session = session
        metrics.socket_opened(session.kind)
        self._forget_request()
        interval = settings.RT_INBOX_COALESCE_MS / 1000
        if session.kind == AGENT and interval > 0:
            self.inbox_gate = Coalescer(
                interval=interval, scheduler=Timers.of_running_loop(), release=self._release_held, newer=_newer_row,
            )
        frames += await self._sync_groups()
        if not self.hub.reachable():  # found out while joining: nothing could reach this socket
            log.warning("hello refused: the wake-up bus is unreachable")
            await self._close_with(CLOSE_TRY_AGAIN, _unavailable_frame(ref="hello"))
            return
        await self._send_frames(frames)
        self._schedule_heartbeat()

    @abstractmethod
    async def open_session(self, hello: dict[str, Any]) -> Session:
        """Authenticate the ``hello`` and build the session (visitor token or agent session)."""

    # --- wake-ups -> session (the hub calls wake/resync on the loop; neither blocks) ---------------
    def wake(self, event: dict[str, Any]) -> None:
        if self.session is None or self.closing:
            return
        if self.inbox_gate is not None and event.get("type") == "inbox.changed":
            if not self.inbox_gate.admit(event.get("conversation"), event):
                return  # held: the latest one follows when the interval ends
        self._enqueue(event)

    def resync(self) -> None:
        if self.session is not None and not self.closing:
            self._enqueue(_RESYNC)

    def _release_held(self, events: list[dict[str, Any]]) -> None:
        if not self.closing:
            self._enqueue(_Held(events))

    def _enqueue(self, item: Any) -> None:
        if self.queued is None:
            self.queued = []
        self.queued.append(item)
        if self.draining is None:
            self.draining = _start(self._drain(), context=self.context.copy())

    async def _drain(self) -> None:
        try:
            while self.queued:
                items, self.queued = self.queued, None
                async with self.turn:
                    for item in items:
                        if self.session is None or self.closing:
                            return
                        await self._on_wake(item)
        except Exception:
            # As when a Channels handler fails: the connection ends (the client resumes).
            log.exception("handling a wake-up failed; closing the socket")
            self.queued = None
            await self._close_with(1011, None)
        finally:
            self.draining = None

    async def _on_wake(self, item: Any) -> None:
        assert self.session is not None
        if item is _RESYNC:  # the bus was lost and is back: what was published meanwhile is gone
            frames = await on_db_thread(self.session.behind)()
            frames.append(await self.session.presence_frame())
        elif isinstance(item, _Held):
            frames = []
            for event in item.events:
                frames += await self.session.on_event(event)
        else:
            frames = await self.session.on_event(item)
        frames += await self._sync_groups()
        await self._send_frames(frames)

    # --- plumbing -----------------------------------------------------------------------------------
    async def _sync_groups(self) -> list[dict[str, Any]]:
        """Join/leave groups to match what the session follows.

        After joining a group we read once more: a message committed between the session's read
        and the join would otherwise wait for the next wake-up.
        """
        assert self.session is not None
        wanted = self.session.groups()
        added, removed = wanted - self.joined, self.joined - wanted
        self.hub.leave(removed, self)
        self.joined = wanted
        if not added:
            return []
        await self.hub.join(added, self)
        return await self.session.catch_up(list(self.session.follows.values()))

    def _leave_all(self) -> None:
        if self.joined:
            self.hub.leave(self.joined, self)
            self.joined = set()
        if self.inbox_gate is not None:
            self.inbox_gate.cancel()

    async def _send_frames(self, frames: list[dict[str, Any]]) -> None:
        metrics.frames_sent("ws", len(frames))
        for frame in frames:
            await self.send(text_data=encode_frame(frame))

    async def _close_with(self, code: int, frame: dict[str, Any] | None) -> None:
        if self.closing:
            return
        self.closing = True
        self._leave_all()  # no wake-up is wanted any more
        if frame is not None:
            await self._send_frames([frame])
        await self.close(code=code)

    def _hello_deadline(self) -> None:
        self.timer = None
        if self.session is None and not self.closing:
            _start(self._close_with(CLOSE_HELLO_TIMEOUT, error_frame("missing_field", "No hello in time")))

    def _schedule_heartbeat(self) -> None:
        if not self.closing:
            self.timer = Timers.of_running_loop().call_later(settings.PRESENCE_HEARTBEAT_SECONDS, self._heartbeat_due)

    def _heartbeat_due(self) -> None:
        self.timer = None
        if self.session is not None and not self.closing:
            self.beating = _start(self._heartbeat())

    async def _heartbeat(self) -> None:
        assert self.session is not None
        try:
            await self.session.heartbeat()
        finally:
            self.beating = None
        self._schedule_heartbeat()  # the next one counts from the end of this one, as before

    def _forget_request(self) -> None:
        """Drop what only the hello needed: the request headers (cookies, user agent, …).

        The list is shared with the server's copy of the scope, which reads no header after the
        handshake; clearing it in place frees it for both.
        """
        headers = self.scope.get("headers")
        if isinstance(headers, list):
            headers.clear()

    async def disconnect(self, code: int) -> None:
        self.closing = True  # no further heartbeat is scheduled
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.beating is not None:
            self.beating.cancel()
        self._leave_all()
        if self.session is not None:
            await self.session.closed()

    def _ip(self) -> str:
        """The address per-IP limits count by (an IPv6 client by its /64)."""
        client = self.scope.get("client")
        return address_group(client[0] if client else None)

    def _own_origins(self) -> set[str]:
        origins = {settings.SITE_URL}
        host = _header(self.scope, b"host")
        if host:
            origins.add(f"{'https' if self.scope.get('scheme') == 'wss' else 'http'}://{host}")
        return origins


class VisitorConsumer(_RealtimeConsumer):
    """``/ws/visitor/``: authenticated by the visitor token in ``hello``; Origin per tenant."""

    async def open_session(self, hello: dict[str, Any]) -> Session:
        return await open_visitor(
            token=hello.get("token"), origin=_header(self.scope, b"origin"), own_origins=self._own_origins(),
            connection_id=self.connection_id, transport="ws", ip=self._ip(), persistent=True,
        )


def agent_origin_allowed(origin: str | None) -> bool:
    """The dashboard is served by us: its Origin must be one of our hosts (or a trusted origin)."""
    if not origin:
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    domain, _port = split_domain_port(parts.netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


class AgentConsumer(_RealtimeConsumer):
    """``/ws/agent/``: the login session's user; Origin must be one of ALLOWED_HOSTS."""

    async def connect(self) -> None:
        await super().connect()
        user = self.scope.get("user")
        if not agent_origin_allowed(_header(self.scope, b"origin")):
            await self._close_with(CLOSE_FORBIDDEN, error_frame("origin_forbidden", "Origin not allowed"))
        elif user is None or not user.is_authenticated:
            await self._close_with(CLOSE_UNAUTHENTICATED, error_frame("unauthenticated", "Sign in first"))

    async def open_session(self, hello: dict[str, Any]) -> Session:
        session = self.scope.get("session")
        tenant = await database_sync_to_async(session.get)(SESSION_TENANT_KEY) if session is not None else None
        return await open_agent(
            user=self.scope.get("user"), session_tenant=tenant, connection_id=self.connection_id,  # type: ignore[arg-type]
            transport="ws", ip=self._ip(), persistent=True,
        )
