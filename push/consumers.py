"""WebSocket transport: moves frames between a socket and a ``push.protocol.Session``.

Each socket is an object of ours (``VisitorSocket``, ``AgentSocket``) served by its class's ASGI
app (``serve``, routed by push/routing.py): no Channels consumer, no channel layer. The first frame
must be ``hello`` (within ``RT_HELLO_TIMEOUT_SECONDS``). One thing at a time per socket (``Turn``),
so client frames and wake-ups never interleave inside a Session.

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
import collections
import contextvars
import json
import logging
import sys
import uuid
import weakref
from abc import ABCMeta, abstractmethod
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from config.observability.logs import SocketLog
from push import metrics
from push.agent_auth import login_session, renewed_cookie_headers, session_key
from push.hub import Hub, encode_frame, get_hub
from push.inbox_feed import InboxFeed, feed_of
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
from push.protocol.inbox_frames import InboxBatch
from push.protocol.sending import Written
from push.ratelimit import Verdict
from push.timers import Timer, Timers
from support.client_address import scope_address_group
from support.middleware import SESSION_TENANT_KEY
from support.models import Tenant
from support.services.visitors import own_origins

log = logging.getLogger(__name__)

# RFC 6455 "Try Again Later": refused for now because a part of the service (Redis) is down.
CLOSE_TRY_AGAIN = 1013
# RFC 6455 "Internal Error": a hello failed in a way the checks did not foresee (logged).
CLOSE_INTERNAL = 1011


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


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class TextWriter(Protocol):
    """What a server's protocol object may offer to send text frames without an ASGI message
    (push/uvicorn_ws.py's ``SlimWebSocketProtocol``, which ``manage.py serve`` runs)."""

    def can_write_now(self) -> bool: ...

    def write_texts(self, texts: list[str]) -> bool: ...


def _writer(send: Any) -> TextWriter | None:
    """The protocol object behind the ASGI ``send`` (a bound method of it), if it is a ``TextWriter``;
    other servers (and the test communicator) get every frame as a ``websocket.send`` message."""
    owner = getattr(send, "__self__", None)
    return owner if hasattr(owner, "write_texts") else None


# A socket's scope after its hello: nothing of the request is read again (never written to).
_FORGOTTEN: dict[str, Any] = {}

# A drain-queue entry that is not an event: the bus was lost and is back (read the database).
_RESYNC: dict[str, Any] = {"type": "_resync"}


class Turn:
    """Whose turn it is to work on a socket's Session: its frames or its wake-ups, never both.

    ``asyncio.Lock``'s ``async with`` in two slots (a Lock is ~0.35 KB); the turn is handed to the
    first waiter on release, so neither side can overtake the other indefinitely.
    """

    __slots__ = ("held", "waiters")

    def __init__(self) -> None:
        self.held = False
        self.waiters: list[asyncio.Future[None]] | None = None

    async def __aenter__(self) -> None:
        if not self.held:
            self.held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.waiters is None:
            self.waiters = []
        self.waiters.append(waiter)
        try:
            await waiter  # ``_release`` hands the turn over: ``held`` stays True
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed over and cancelled at once: pass it on
            elif self.waiters is not None and waiter in self.waiters:
                self.waiters.remove(waiter)
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self.waiters:
            waiter = self.waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                return
        self.waiters = None
        self.held = False


# A socket's sends started and not yet answered; the socket is not read beyond them.
SENDS_IN_FLIGHT_MAX = 16


class _Sends:
    """A socket's sends in flight, oldest first (``_RealtimeSocket._start_send``); the socket holds
    one only while there are some."""

    __slots__ = ("answered", "answering", "room", "started", "tasks", "waiting")

    def __init__(self) -> None:
        self.tasks: collections.deque[asyncio.Task[list[dict[str, Any]] | Written]] = collections.deque()
        self.answering: asyncio.Task[None] | None = None
        self.room: asyncio.Future[None] | None = None  # the reader's wait while SENDS_IN_FLIGHT_MAX are in flight
        self.started = 0
        self.answered = 0
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []  # (sends answered, who waits for that many)

    def make_room(self) -> None:
        if self.room is not None and not self.room.done():
            self.room.set_result(None)
        self.room = None

    async def all_answered(self) -> None:
        """Until every send started so far has been answered (not those started meanwhile)."""
        if self.answered < self.started:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiting.append((self.started, future))
            await future

    def one_answered(self) -> None:
        self.answered += 1
        self.release(up_to=self.answered)

    def release(self, *, up_to: int | None = None) -> None:
        """Let go whoever waits for at most ``up_to`` answers (everyone: none will come)."""
        still = []
        for count, future in self.waiting:
            if up_to is not None and count > up_to:
                still.append((count, future))
            elif not future.done():
                future.set_result(None)
        self.waiting = still


class _RealtimeSocket(metaclass=ABCMeta):
    """One WebSocket and its Session, run by ``serve`` (an ASGI app); a subscriber of the loop's hub.

    Client frames are handled in the socket's own task (the ASGI app's); wake-ups are queued by
    ``wake`` and handled by a task that exists only while there are some, and ``turn`` keeps the
    two from interleaving inside the Session. Slotted: this object is most of what an idle socket
    costs us beyond the server's own (docs/performance.md, "Idle memory").
    """

    __slots__ = (
        "beating", "closing", "connection_id", "context", "draining", "hub", "inbox_feed", "joined", "queued",
        "scope", "send_message", "sends", "session", "timer", "turn",
    )

    def __init__(self, scope: dict[str, Any], send: Any, hub: Hub) -> None:
        self.scope = scope
        self.send_message = send
        self.hub = hub
        # Wake-up work runs in the connection's context, as the socket's own task does (asgiref's
        # thread-sensitive database calls depend on it), not in the hub's.
        self.context = contextvars.copy_context()
        self.turn = Turn()
        self.queued: list[Any] | None = None
        self.draining: asyncio.Task[None] | None = None
        self.sends: _Sends | None = None
        self.inbox_feed: InboxFeed | None = None  # agents: their tenant's inbox, paced (push/inbox_feed.py)
        self.session: Session | None = None
        # A tuple of interned names: the same string objects as the hub's keys and every other
        # socket's (a set and its own strings per socket cost ~0.3 KB more).
        self.joined: tuple[str, ...] = ()
        self.connection_id = uuid.uuid4().hex
        self.closing = False
        # The hello deadline, then the next heartbeat; and a heartbeat while it runs.
        self.timer: Timer | None = None
        self.beating: asyncio.Task[None] | None = None

    @classmethod
    async def serve(cls, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The ASGI app of this kind of socket: ``websocket.*`` events in, frames out; its log context
        and access-log line from start to end (``SocketLog``: no wrapper frame around the socket)."""
        logged = SocketLog(scope)
        try:
            hub = get_hub()
            if not hub.reachable():
                log.warning("socket refused: the wake-up bus is unreachable")
                await _refuse_for_now(receive, send)
                return
            socket = cls(scope, send, hub)
            del scope  # the socket holds it until its hello, and no longer (``_forget_request``)
            try:
                while True:
                    message = await receive()
                    kind = message["type"]
                    if kind == "websocket.receive":
                        text, data = message.get("text"), message.get("bytes")
                        del message  # not kept while the socket waits for the next one
                        if text is not None and socket.session is not None and not socket.closing:
                            await socket.take(text)
                        else:
                            await socket.sends_answered()
                            async with socket.turn:
                                await socket.receive(text, data)
                        del text, data
                        continue
                    await socket.sends_answered()
                    async with socket.turn:
                        if kind == "websocket.connect":
                            await socket.connect()
                        elif kind == "websocket.disconnect":
                            await socket.disconnect()
                            return
            finally:
                metrics.socket_ended(socket.session)
                socket._leave_all()
                if socket.draining is not None:
                    socket.draining.cancel()
        finally:
            logged.end()

    async def connect(self) -> None:
        await self.accept()

    async def accept(self, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        """Complete the handshake (its response carrying ``headers``, if any) and start the hello's deadline."""
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if headers:
            accept["headers"] = headers
        await self.send_message(accept)
        self.timer = Timers.of_running_loop().call_later(settings.RT_HELLO_TIMEOUT_SECONDS, self._hello_deadline)

    # --- socket -> session -------------------------------------------------------------------
    async def receive(self, text_data: str | None, bytes_data: bytes | None) -> None:
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
        await self._answer(self.session.read_text(text_data))

    async def take(self, text: str) -> None:
        """A text frame of an open session: a ``send`` starts at once (``_Sends``); any other frame is
        answered in turn, after the sends before it."""
        assert self.session is not None
        metrics.frames_received("ws")
        read = self.session.read_text(text)
        if isinstance(read, tuple) and Session.is_send(*read):
            await self._start_send(*read)
            return
        await self.sends_answered()
        async with self.turn:
            if not self.closing:
                await self._answer(read)

    async def _answer(self, read: tuple[object, Verdict] | list[dict[str, Any]]) -> None:
        assert self.session is not None
        try:
            frames = read if isinstance(read, list) else await self.session.dispatch(*read)
        except Exception:  # noqa: BLE001 - the last resort: the socket goes on
            log.exception("a frame failed")
            frames = [_internal_frame(ref=None)]
        await self._reply(frames)

    async def _reply(self, frames: list[dict[str, Any]]) -> None:
        assert self.session is not None
        frames += await self._sync_groups()
        await self._send_frames(frames)
        if self.session.close_code is not None:
            await self._close_with(self.session.close_code, None)

    # --- sends in flight ------------------------------------------------------------------------------
    async def _start_send(self, frame: object, verdict: Verdict) -> None:
        """Start a ``send`` and go back to reading the socket: the sends a client fires one after the
        other (a burst, an offline queue flushed on reconnect) are written together (one batch of
        ``push.group_commit``) instead of one batch each. Their seqs follow the frames' order
        (``sending._Place``), and so do their answers (``_answer_sends``)."""
        assert self.session is not None
        sends = self.sends
        if sends is None:
            sends = self.sends = _Sends()
        while len(sends.tasks) >= SENDS_IN_FLIGHT_MAX:
            # Back-pressure: the socket is read again once the oldest send is answered.
            sends.room = asyncio.get_running_loop().create_future()
            await sends.room
        sends.tasks.append(asyncio.get_running_loop().create_task(self.session.write_send(frame, verdict)))
        sends.started += 1
        if sends.answering is None:
            sends.answering = _start(self._answer_sends(sends))

    async def _answer_sends(self, sends: _Sends) -> None:
        """Answer the sends in flight in the order they came, each in turn (as a frame would be)."""
        try:
            while sends.tasks:
                try:
                    outcome = await sends.tasks[0]
                except Exception:  # noqa: BLE001 - the last resort: the socket goes on
                    log.exception("a frame failed")
                    outcome = [_internal_frame(ref="send")]
                sends.tasks.popleft()
                sends.make_room()
                try:
                    async with self.turn:
                        if self.session is None or self.closing:
                            continue  # gone: the send was written all the same, and its retry finds it
                        # The ack is made here, in turn and in order: it reads and moves what the
                        # socket has delivered of the conversation, as wake-ups do.
                        frames = outcome if isinstance(outcome, list) else await self._ack(outcome)
                        await self._reply(frames)
                except Exception:
                    log.exception("answering a send failed; closing the socket")
                    await self._close_with(1011, None)
                finally:
                    sends.one_answered()
        finally:
            sends.answering = None
            sends.release()  # nobody waits for an answer that will not come
            sends.make_room()
            if self.sends is sends and not sends.tasks:
                self.sends = None

    async def _ack(self, written: Written) -> list[dict[str, Any]]:
        assert self.session is not None
        try:
            return await self.session.answer_send(written)
        except Exception:  # noqa: BLE001 - the last resort: the socket goes on
            log.exception("a frame failed")
            return [_internal_frame(ref="send")]

    async def sends_answered(self) -> None:
        """Wait until every send in flight has been answered (a reply never overtakes theirs)."""
        if self.sends is not None:
            await self.sends.all_answered()

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
            self.inbox_feed = feed_of(
                self.hub, group=session.own_group(), tenant_id=session.tenant.pk, interval=interval,
                scheduler=Timers.of_running_loop(),
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
        if not self._now(event):
            self._enqueue(event)

    def inbox_batch(self, batch: InboxBatch) -> None:
        """An interval's inbox rows from the feed (made once for every socket of the tenant)."""
        if self.session is None or self.closing:
            return
        if not self._now(batch):
            self._enqueue(batch)

    def _now(self, item: dict[str, Any] | InboxBatch) -> bool:
        """Handle a wake-up here and now if nothing else is under way on the socket, its frames need
        nothing awaited and the transport takes them at once: the frames ``_on_wake`` would send,
        without a task, a context and a turn per wake-up. False: nothing was done (queue it)."""
        session = self.session
        assert session is not None
        if self.queued is not None or self.draining is not None or self.turn.held or session.follows.changed:
            return False
        if self.sends is not None:
            # A send's ack goes before its message's wake-up (``_drain`` waits for the answers); the
            # wake-up of a message this socket already delivered (its own acked send's, while the
            # next send is in flight) needs nothing, and no task waiting for that next answer.
            return not isinstance(item, InboxBatch) and session.delivered(item)
        writer = _writer(self.send_message)
        if writer is None or not writer.can_write_now():
            return False
        try:
            if isinstance(item, InboxBatch):
                assert session.inbox is not None
                texts = item.texts_for(session.inbox, kind=session.inbox_frame, limit=settings.RT_FRAME_MAX_BYTES)
            else:
                frames = session.frames_now(item)
                if frames is None:
                    return False  # a database read or a shared one: the drain task awaits it
                texts = [encode_frame(frame) for frame in frames]
        except Exception:  # noqa: BLE001 - logged below, in the socket's context
            # As in ``_drain``: the connection ends (the client resumes), logged with the socket's ids.
            self.context.run(log.exception, "handling a wake-up failed; closing the socket")
            _start(self._close_with(1011, None), context=self.context.copy())
            return True
        if texts:
            metrics.frames_sent("ws", len(texts))
            writer.write_texts(texts)  # checked above, and nothing awaited since: it writes
        return True

    def resync(self) -> None:
        if self.session is not None and not self.closing:
            self._enqueue(_RESYNC)

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
                if self.sends is not None:
                    # A wake-up may carry a message this socket sent: its ack goes first (the ack is
                    # the message, and the wake-up then finds it delivered).
                    await self.sends.all_answered()
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
        elif isinstance(item, InboxBatch):
            inbox = self.session.inbox
            assert inbox is not None
            # Prepared text: the rows were encoded once for every socket of the tenant.
            texts = item.texts_for(inbox, kind=self.session.inbox_frame, limit=settings.RT_FRAME_MAX_BYTES)
            metrics.frames_sent("ws", len(texts))
            await self._send_texts(texts)
            return
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
        if not self.session.follows.changed:
            return []  # the groups depend only on what the session follows (the rest is fixed)
        self.session.follows.changed = False  # before any await: a change meanwhile syncs again
        wanted = {sys.intern(group) for group in self.session.groups()}
        joined = set(self.joined)
        added, removed = wanted - joined, joined - wanted
        feed = self.inbox_feed
        self.joined = tuple(wanted)
        if feed is not None and feed.group in added:
            added.discard(feed.group)  # through the feed, not the hub
            await feed.join(self)
        self.hub.leave(removed, self)
        if not added:
            return []
        await self.hub.join(added, self)
        return await self.session.catch_up(list(self.session.follows.values()))

    def _leave_all(self) -> None:
        if self.joined:
            self.hub.leave(self.joined, self)
            self.joined = ()
        if self.inbox_feed is not None:
            self.inbox_feed.leave(self)

    async def _send_frames(self, frames: list[dict[str, Any]]) -> None:
        if frames:
            metrics.frames_sent("ws", len(frames))
            await self._send_texts([encode_frame(frame) for frame in frames])

    async def _send_texts(self, texts: list[str]) -> None:
        """One write for them all when the server's protocol takes them at once, else one ASGI
        ``websocket.send`` each (waiting for the transport, or raising if the client is gone)."""
        writer = _writer(self.send_message)
        if writer is not None and writer.write_texts(texts):
            return
        for text in texts:
            await self.send_message({"type": "websocket.send", "text": text})

    async def _close_with(self, code: int, frame: dict[str, Any] | None) -> None:
        if self.closing:
            return
        self.closing = True
        self._leave_all()  # no wake-up is wanted any more
        if frame is not None:
            await self._send_frames([frame])
        await self.send_message({"type": "websocket.close", "code": code})

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
        """Drop what only the hello needed: the scope, with the request headers (cookies, user agent, …).

        The headers list is shared with the server's copy of the scope (dropped after the handshake
        by push/uvicorn_ws.py; uvicorn's own protocol keeps it and reads no header after the
        handshake): clearing it in place frees it for both.
        """
        headers = self.scope.get("headers")
        if isinstance(headers, list):
            headers.clear()
        self.scope = _FORGOTTEN

    async def disconnect(self) -> None:
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
        return scope_address_group(self.scope)

    def _own_origins(self) -> set[str]:
        scheme = "https" if self.scope.get("scheme") == "wss" else "http"
        return own_origins(scheme=scheme, host=_header(self.scope, b"host"))


class VisitorSocket(_RealtimeSocket):
    """``/ws/visitor/``: authenticated by the visitor token in ``hello``; Origin per tenant."""

    __slots__ = ()

    async def open_session(self, hello: dict[str, Any]) -> Session:
        session = await open_visitor(
            token=hello.get("token"), origin=_header(self.scope, b"origin"), own_origins=self._own_origins(),
            connection_id=self.connection_id, transport="ws", ip=self._ip(), persistent=True,
        )
        return self.adopt(session)

    @staticmethod
    def adopt(session: Session) -> Session:
        """The visitor's session as a socket keeps it for its life."""
        session.tenant = shared_tenant(session.tenant)
        if session.contact is not None:
            session.contact.tenant = session.tenant
        if session.language == settings.LANGUAGE_CODE:
            # Nothing activates a language in a socket's task (no locale middleware; nothing on the
            # database thread activates one), so the default is what refusals are read in anyway:
            # no look-up of Django's active language per frame (~3 of a send frame's ~20 µs here).
            session.language = None
        return session


# The tenant row each visitor socket holds, shared by the sockets of one process (weakly: it goes
# with the last of them).
_tenants: weakref.WeakValueDictionary[int, Tenant] = weakref.WeakValueDictionary()


def shared_tenant(tenant: Tenant) -> Tenant:
    """An instance equal to ``tenant`` that other sockets of this process already hold, else ``tenant``
    (which new sockets then share).

    A visitor socket keeps its tenant's row for its life (~2 KB with the decoded JSON fields): with
    thousands of visitors of a tenant on a node, one copy instead of one each. Equal means every
    field's value and nothing else set on the instance; a tenant changed since (settings, origins)
    gets a new copy, as a socket opened before the change keeps the old row either way.
    """
    known = _tenants.get(tenant.pk)
    if known is not None and vars(known).keys() == vars(tenant).keys() and all(
        getattr(known, field.attname) == getattr(tenant, field.attname) for field in Tenant._meta.concrete_fields
    ):
        return known
    _tenants[tenant.pk] = tenant
    return tenant


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


def _signed_in(key: str | None) -> tuple[tuple[Any, str | None] | None, list[tuple[bytes, bytes]]]:
    """The signed-in user of the login session ``key`` and the tenant chosen in it, else None (on the
    database thread); and the handshake response's ``Set-Cookie`` header if the session's key changed."""
    user, session = login_session(key)
    signed_in = (user, session.get(SESSION_TENANT_KEY)) if user.is_authenticated else None
    return signed_in, renewed_cookie_headers(key, session)


class AgentSocket(_RealtimeSocket):
    """``/ws/agent/``: the login session's user; Origin must be one of ALLOWED_HOSTS.

    Served by ``serve`` itself (no Channels middleware around it): the session cookie is read from the
    handshake's headers once, in ``connect``, and the user and the session's tenant are kept until the
    hello opens the session with them. The session is read before the handshake is accepted, so that
    a session moved to a new key (verified by a ``SECRET_KEY_FALLBACKS`` secret) sends the browser its
    new cookie in the handshake's response; a foreign Origin is refused without reading it.
    """

    __slots__ = ("login",)

    def __init__(self, scope: dict[str, Any], send: Any, hub: Hub) -> None:
        super().__init__(scope, send, hub)
        self.login: tuple[Any, str | None] | None = None

    async def connect(self) -> None:
        if not agent_origin_allowed(_header(self.scope, b"origin")):
            await self.accept()
            await self._close_with(CLOSE_FORBIDDEN, error_frame("origin_forbidden", "Origin not allowed"))
            return
        self.login, renewed = await on_db_thread(_signed_in)(session_key(self.scope.get("headers", [])))
        await self.accept(renewed)
        if self.login is None:
            await self._close_with(CLOSE_UNAUTHENTICATED, error_frame("unauthenticated", "Sign in first"))

    async def open_session(self, hello: dict[str, Any]) -> Session:
        if self.login is None:  # refused at connect; a hello that still arrives is refused the same way
            raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "Sign in first")
        (user, tenant), self.login = self.login, None  # only the hello needs them
        return await open_agent(
            user=user, session_tenant=tenant, connection_id=self.connection_id, transport="ws", ip=self._ip(),
            persistent=True,
        )
