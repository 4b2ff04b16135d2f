"""A tenant's inbox for all the agent sockets of one event loop: one hub subscriber, one batch per interval.

The feed is the only subscriber of the tenant's inbox group on the loop's hub (push/hub.py); its
agent sockets join the feed instead. It gathers the conversations that changed (the latest row of
each, ``inbox_frames.merged``) and hands the rows to every socket as one ``InboxBatch`` (rows
encoded once; per socket only its cursor's filter and a send of prepared text), at most once per
``interval`` (``RT_INBOX_COALESCE_MS``): the first change after a quiet interval goes out at once
(with whatever else arrived in the same turn of the loop), later ones when the interval ends. So
a socket gets at most one batch per interval and the last state of every conversation arrives.
Wake-ups that carry no row are read once per batch, not once per socket.
"""
from __future__ import annotations

import asyncio
import contextvars
import logging
import weakref
from collections.abc import Callable
from typing import Any, Protocol

from push.hub import Hub
from push.protocol.dbthread import on_db_thread
from push.protocol.inbox import rows_of
from push.protocol.inbox_frames import InboxBatch, merged

log = logging.getLogger(__name__)


class Scheduler(Protocol):
    """What the feed needs of a clock (``push.timers.Timers`` in production)."""

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...


class Member(Protocol):
    """What the feed calls on a socket, on its event loop; none may block."""

    def inbox_batch(self, batch: InboxBatch) -> None: ...

    def wake(self, event: dict[str, Any]) -> None: ...

    def resync(self) -> None: ...


class InboxFeed:
    """One tenant's inbox group on one hub, for the sockets that joined it."""

    def __init__(self, *, hub: Hub, group: str, tenant_id: int, interval: float, scheduler: Scheduler) -> None:
        self.hub, self.group, self.tenant_id = hub, group, tenant_id
        self.interval, self.scheduler = interval, scheduler
        self.members: set[Member] = set()
        self.rows: dict[str, dict[str, Any]] = {}  # public id -> the latest row of this interval
        self.bare: set[int] = set()  # conversation pks of wake-ups without a row
        self.sent_at = -interval  # when the last batch went out (``scheduler.now()``)
        self._timer: Any = None
        self._joined: asyncio.Future[None] | None = None
        self._reads: set[asyncio.Task[None]] = set()

    # --- members ------------------------------------------------------------------------------------
    async def join(self, member: Member) -> None:
        """From when this returns, the tenant's inbox changes reach ``member`` (as ``join`` of the hub)."""
        self.members.add(member)
        if self._joined is None:
            # Registered again if its last member left between ``feed_of`` and this join.
            _feeds.setdefault(self.hub, {}).setdefault(self.group, self)
            self._joined = asyncio.ensure_future(self.hub.join([self.group], self))
        await asyncio.shield(self._joined)

    def leave(self, member: Member) -> None:
        self.members.discard(member)
        if self.members or self._joined is None:
            return
        # The last one left: the hub keeps the group subscribed a while (its linger), not us.
        self.hub.leave([self.group], self)
        self._joined = None
        self.rows.clear()
        self.bare.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        feeds = _feeds.get(self.hub)
        if feeds is not None and feeds.get(self.group) is self:
            del feeds[self.group]

    # --- from the hub ---------------------------------------------------------------------------------
    def wake(self, event: dict[str, Any]) -> None:
        if event.get("type") != "inbox.changed":
            for member in list(self.members):
                member.wake(event)
            return
        payload = event.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("id"), str):
            held = self.rows.get(payload["id"])
            self.rows[payload["id"]] = payload if held is None else merged(held, payload)
        elif isinstance(event.get("conversation"), int):
            self.bare.add(event["conversation"])
        else:
            return
        if self._timer is None:
            wait = self.sent_at + self.interval - self.scheduler.now()
            self._timer = self.scheduler.call_later(max(wait, 0.0), self._flush)

    def resync(self) -> None:
        for member in list(self.members):
            member.resync()

    # --- batches --------------------------------------------------------------------------------------
    def _flush(self) -> None:
        self._timer = None
        self.sent_at = self.scheduler.now()
        rows, self.rows = list(self.rows.values()), {}
        bare, self.bare = list(self.bare), set()
        if bare:
            read = self._read_then_send(rows, bare)
            task = asyncio.get_running_loop().create_task(read, context=contextvars.Context())
            self._reads.add(task)
            task.add_done_callback(self._reads.discard)
        else:
            self._send(InboxBatch(rows))

    async def _read_then_send(self, rows: list[dict[str, Any]], bare: list[int]) -> None:
        try:
            rows += await on_db_thread(rows_of)(self.tenant_id, bare)
        except Exception:  # noqa: BLE001 - each socket reads what it missed, as after a lost bus
            log.warning("inbox rows of %d bare wake-ups not read; resyncing", len(bare), exc_info=True)
            self.resync()
        self._send(InboxBatch(rows))

    def _send(self, batch: InboxBatch) -> None:
        if not batch.rows:
            return
        for member in list(self.members):
            try:
                member.inbox_batch(batch)
            except Exception:
                log.exception("an inbox member failed on a batch")


# --- one feed per hub and inbox group -------------------------------------------------------------------
_feeds: weakref.WeakKeyDictionary[Hub, dict[str, InboxFeed]] = weakref.WeakKeyDictionary()


def feed_of(hub: Hub, *, group: str, tenant_id: int, interval: float, scheduler: Scheduler) -> InboxFeed:
    feeds = _feeds.setdefault(hub, {})
    feed = feeds.get(group)
    if feed is None:
        feed = feeds[group] = InboxFeed(hub=hub, group=group, tenant_id=tenant_id, interval=interval,
                                        scheduler=scheduler)
    return feed
