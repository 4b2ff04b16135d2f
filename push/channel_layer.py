"""channels_redis' pub/sub layer with a smaller receive buffer per channel.

Every consumer gets a channel, and the layer keeps a receive queue per channel for as long as the
consumer lives. ``asyncio.Queue`` is ~3.4 KB (three deques and an ``Event`` for ``join()``) —
about a tenth of an idle socket. The layer only ever calls ``put_nowait`` and ``get`` on it, so a
deque created on the first buffered message and a list of waiting futures (one at most in
practice: a channel is received from by one task at a time) do the same job. An empty deque
costs ~0.75 KB (one block), so neither is kept while empty.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer
from channels_redis.utils import _wrap_close  # closes a loop's layer with its loop, as the base class does


class ChannelInbox:
    """An unbounded FIFO with ``put_nowait`` and ``get``, as the layer uses ``asyncio.Queue``."""

    __slots__ = ("_items", "_waiters")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiters: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

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


class _LoopLayer(RedisPubSubLoopLayer):
    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = ChannelInbox()
        shard = self._get_shard(channel)
        await shard.subscribe(channel)


class SlimRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` whose per-loop layers keep a ``ChannelInbox`` per channel."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return self._layers[loop]
