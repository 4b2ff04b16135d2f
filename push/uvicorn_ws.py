"""uvicorn's WebSocket protocol (websockets sans-I/O) with less kept per open socket.

``manage.py serve`` and the bench harness run uvicorn with ``ws="push.uvicorn_ws:SlimWebSocketProtocol"``.
Per socket, uvicorn keeps an ``asyncio.Queue`` of received events (~3.4 KB), an ``asyncio.Event``
for write back-pressure (~0.9 KB), for the socket's whole life the parsed handshake request and
response with their headers (~4 KB) and the ASGI scope (~1 KB with its dicts) — read only until the
handshake is answered (the scope, to log a refused one) — a loop timer for its keepalive ping
(~0.5 KB), and some 37 attributes in an instance dict too big for CPython's shared-key dicts
(~1.5 KB). Here the queue is a ``ChannelInbox`` (the same ``put_nowait``/``get``/``empty``), the
event a slotted flag, the handshake and the scope are dropped once the connection is accepted, the
ping waits in the loop's shared ``push.timers.Timers``, and the per-connection attributes are slots.
Reading is paused for a received message only when the app is not already waiting for it.
Frames a socket sends on an open connection can go out through ``write_texts`` (uvicorn's framing and
write, called directly, several frames in one write). Everything else is uvicorn's own code (pinned in
requirements.txt; tests/realtime/test_socket_memory.py runs a real server with it; docs/operations.md
lists what this relies on).
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from push.timers import Timers


class ChannelInbox:
    """An unbounded FIFO with ``put_nowait``, ``get`` and ``empty``, as uvicorn uses ``asyncio.Queue``.

    ``asyncio.Queue`` is ~3.4 KB (three deques and an ``Event`` for ``join()``). Here the deque is
    made on the first buffered item and dropped when drained (~0.75 KB each while it exists).
    """

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def waiting(self) -> bool:
        """Whether a ``get`` is waiting: the next item is taken as soon as it is put."""
        return bool(self._waiters)

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._wake_one()

    def get_nowait(self) -> Any:
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item

    async def get(self) -> Any:
        while not self._items:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
            try:
                await waiter  # put_nowait takes the waiter off the list when it wakes it
            except BaseException:
                self._drop(waiter)
                if self._items and not waiter.cancelled():
                    self._wake_one()  # woken and cancelled at once: pass the item on
                raise
        return self.get_nowait()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.pop(0)
            if not waiter.done():
                waiter.set_result(None)
                break
        if not self._waiters:
            self._waiters = None

    def _drop(self, waiter: asyncio.Future[None]) -> None:
        if self._waiters is not None:
            try:
                self._waiters.remove(waiter)
            except ValueError:
                pass
            if not self._waiters:
                self._waiters = None


class Flag:
    """``asyncio.Event``'s ``set``/``clear``/``is_set``/``wait``, without a deque (~0.75 KB) of waiters."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    async def wait(self) -> bool:
        if self._set:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
                if not self._waiters:
                    self._waiters = None


class SlimWebSocketProtocol(WebSocketsSansIOProtocol):
    # uvicorn's per-connection attributes, as slots: the rest (shared settings and references) then
    # fits a shared-key instance dict. A name uvicorn no longer uses only costs its slot.
    __slots__ = (
        "client", "close_sent", "close_timer", "conn", "curr_msg_data_type", "disconnected", "frames",
        "handshake_complete", "handshake_initiated", "initial_response", "last_ping_rtt", "pending_ping_payload",
        "ping_sent_at", "ping_timer", "pong_timer", "queue", "read_paused", "request", "response", "scheme",
        "scope", "server", "transport", "writable",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = ChannelInbox()  # type: ignore[assignment]
        self.writable = Flag()  # type: ignore[assignment]
        self.writable.set()

    def send_receive_event_to_app(self) -> None:
        """uvicorn's, without pausing the transport for a message the app is already waiting for.

        uvicorn pauses reading after every message until the app has taken it, and resumes when the
        app finds nothing more queued: two ``epoll_ctl`` calls per frame on a socket whose app
        waits. A message the app waits for is taken at once, so reading goes on; one that nobody
        waits for is queued and pauses reading as in uvicorn: the same bound (one message being
        handled, one waiting) on what a client can make the server hold.
        """
        if self.read_paused or not self.queue.waiting():  # type: ignore[attr-defined]
            super().send_receive_event_to_app()
            return
        self.read_paused = True  # uvicorn's method pauses only if not already paused
        try:
            super().send_receive_event_to_app()
        finally:
            self.read_paused = False

    def schedule_ping(self) -> None:
        """As uvicorn's, on the loop's shared timers instead of a loop timer of the socket's own."""
        assert self.ping_interval is not None
        delay = max(0.0, self.ping_interval - self.last_ping_rtt)
        self.ping_timer = Timers.of_running_loop().call_later(delay, self.send_keepalive_ping)  # type: ignore[assignment]

    def can_write_now(self) -> bool:
        """Whether ``write_texts`` would send: the connection is open and the transport takes more."""
        return (
            self.handshake_complete and not self.close_sent and not self.disconnected
            and self.initial_response is None and self.writable.is_set() and self.conn.state is State.OPEN
        )

    def write_texts(self, texts: list[str]) -> bool:
        """Text frames out now, in one write to the transport; False (nothing sent) unless
        ``can_write_now``: the caller then sends them through ``send``, which waits for the transport
        or raises as uvicorn does.

        What uvicorn's ``send`` does for a ``websocket.send`` on an open connection (websockets frames
        the text, then one write), without the ASGI message, the wait for a set flag and the
        handshake's branches per frame, and with one write for several frames.
        """
        if not self.can_write_now():
            return False
        conn = self.conn
        for text in texts:
            conn.send_text(text.encode())
        self.transport.write(b"".join(conn.data_to_send()))
        return True

    async def send(self, message: Any) -> None:
        await super().send(message)
        if self.handshake_complete and getattr(self, "request", None) is not None:
            # Answered: uvicorn reads neither again (the ASGI scope keeps what the app needs). The
            # request stays referenced by websockets' parser generator for the connection's life,
            # so its headers are emptied in place.
            self.request.headers.clear()
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]
            # Nor the scope (read only to log a refused handshake): the socket app keeps what it
            # needs of it until its hello, then lets it go too (push/consumers.py).
            self.scope = None  # type: ignore[assignment]
