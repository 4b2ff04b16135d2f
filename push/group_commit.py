"""Group commit for the realtime transports: sends that arrive while a batch is being written are
written together as the next batch (``support.services.message_batch``), one database-thread hop
and one commit per batch. A lone send goes at once.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref

from channels.db import database_sync_to_async

from support.errors import DomainError
from support.events import fanout
from support.services.message_batch import PostResult, SendRequest, post_messages

log = logging.getLogger(__name__)

# Sends per transaction: enough to share a commit widely, few enough that one batch's statements
# stay small and the sends behind it wait for one batch only.
BATCH_MAX = 100

# A waiting send: the request and its sender's future. A batch holds the sends of any languages:
# its refusals are lazy texts, each read in its sender's language by the sender's transport
# (``support.errors.DomainError.detail``).
_Waiting = tuple[SendRequest, "asyncio.Future[PostResult]"]


class WriteFailed(DomainError):
    """The batch holding this send could not be written (a database error): retry the send."""

    code = "unavailable"


async def submit(request: SendRequest) -> PostResult:
    """Write ``request`` with the sends waiting beside it; its result once the batch committed.

    Raises the request's own ``DomainError`` when it is refused (the rest of its batch is written
    regardless), or ``WriteFailed`` when its batch could not be written.
    """
    return await enqueue(request)


def enqueue(request: SendRequest) -> asyncio.Future[PostResult]:
    """``submit`` in two steps: ``request`` takes its place in the queue now (sends queued one after
    the other are written in that order), and the future is its result, as ``submit`` returns or
    raises it."""
    loop = asyncio.get_running_loop()
    queue = _Queue.of_loop.get(loop)
    if queue is None:
        queue = _Queue.of_loop[loop] = _Queue(loop)
    return queue.enqueue(request)


class _Queue:
    """One event loop's sends: at most one batch on the database thread at a time, and the sends
    that arrive meanwhile waiting to be the next one."""

    of_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[_Waiting] = []
        self.writing: asyncio.Task[None] | None = None

    def enqueue(self, request: SendRequest) -> asyncio.Future[PostResult]:
        future: asyncio.Future[PostResult] = self.loop.create_future()
        self.waiting.append((request, future))
        if self.writing is None:
            # In a context of its own: a send made inside a request's ThreadSensitiveContext (the
            # lean long-poll path) would hand this long-lived writer that request's thread, which
            # ends with the request, and batches written after it would fail. A fresh context
            # uses the process's shared database thread.
            self.writing = self.loop.create_task(self._write_all(), context=contextvars.Context())
        # A sender that goes away (its socket closed) stops waiting; its send is written anyway,
        # and its retry will find it by client_id.
        return future

    def _next_batch(self) -> list[_Waiting]:
        """The first BATCH_MAX waiting sends; the others keep their place."""
        batch, self.waiting = self.waiting[:BATCH_MAX], self.waiting[BATCH_MAX:]
        return batch

    async def _write_all(self) -> None:
        batch: list[_Waiting] = []
        try:
            while self.waiting:
                batch = self._next_batch()
                try:
                    results = await database_sync_to_async(_write)(self.loop, [request for request, _ in batch])
                except Exception:  # noqa: BLE001 - any failure fails this batch's sends, not the queue
                    log.exception("writing a batch of %d messages failed", len(batch))
                    _fail(batch)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, DomainError):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            # Cancelled (the loop is shutting down): nobody waits for ever.
            _fail(batch + self.waiting)
            self.waiting = []
            self.writing = None


def _write(loop: asyncio.AbstractEventLoop, requests: list[SendRequest]) -> list[PostResult | DomainError]:
    # The batch's wake-ups are handed to the loop (one Redis pipeline there), not sent from here.
    with fanout.sending_on(loop):
        return post_messages(requests)


def _fail(batch: list[_Waiting]) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(WriteFailed("The message could not be stored just now; send it again"))
