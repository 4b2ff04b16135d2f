"""channels_redis' pub/sub layer that survives a Redis outage, with a smaller receive buffer per channel.

Outages: redis-py re-subscribes a pub/sub connection's channels when it reconnects, but what was
published meanwhile is gone, a subscription that failed during the outage is not retried, and
nobody is told. Here each shard notices the connection coming back, subscribes whatever the
layer's channels and groups need and Redis lacks, then puts a ``layer.reconnected`` message in
every local channel: its consumer re-reads from the database what it may have missed
(docs/protocol.md, "Failures and retries"). ``LAYER_DOWN`` is what a call of the layer raises
while Redis is unreachable.

Receive buffers: every consumer gets a channel, and the layer keeps a receive queue per channel
for as long as the consumer lives. ``asyncio.Queue`` is ~3.4 KB (three deques and an ``Event`` for ``join()``) —
about a tenth of an idle socket. The layer only ever calls ``put_nowait`` and ``get`` on it, so a
deque created on the first buffered message and a list of waiting futures (one at most in
practice: a channel is received from by one task at a time) do the same job. An empty deque
costs ~0.75 KB (one block), so neither is kept while empty.
"""
from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close  # closes a loop's layer with its loop, as the base class does
from redis.asyncio.client import PubSub

from support.failsoft_cache import REDIS_DOWN

log = logging.getLogger(__name__)

# Raised by the layer's calls (new_channel, group_add, send, …) while Redis is unreachable.
LAYER_DOWN = REDIS_DOWN
# The message every local channel gets when its shard's connection is back after failing.
RECONNECTED = "layer.reconnected"
# How often a shard whose connection failed tries again.
RETRY_SECONDS = 0.5


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


class _PubSub(PubSub):
    """redis-py's pub/sub connection, telling its shard when it connects again."""

    def __init__(self, *args: Any, shard: _Shard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shard = shard
        self.connected_before = False

    async def on_connect(self, connection: Any) -> None:
        await super().on_connect(connection)  # re-subscribes what it was subscribed to
        if self.connected_before:
            # Possibly within a call holding the shard's lock: the receive loop does the rest.
            self.shard.lost = True
        self.connected_before = True


class _Shard(RedisSingleShardConnection):
    """One Redis connection of the layer; after a failure it re-subscribes and tells the layer."""

    channel_layer: _LoopLayer
    _subscribed_to: set[str]

    def __init__(self, host: Any, channel_layer: _LoopLayer) -> None:
        super().__init__(host, channel_layer)
        # Set when the connection failed or was made again (a restart quicker than a failed
        # read); cleared once the receive loop has re-subscribed and told the channels.
        self.lost = False

    async def unsubscribe(self, channel: str) -> None:
        try:
            await super().unsubscribe(channel)
        except LAYER_DOWN:
            # Redis dropped the subscription with the connection; the reconnect unsubscribes what
            # no local channel or group needs (``_recovered``). Not an error for the caller (a
            # socket closing, a group left) while Redis is down.
            self._subscribed_to.discard(channel)

    def _ensure_redis(self) -> None:
        if self._redis is None:
            super()._ensure_redis()
            client: Any = self._redis
            self._pubsub = _PubSub(client.connection_pool, shard=self)

    async def _do_receiving(self) -> None:
        # As the base class's loop, which logs every failure with a traceback and tries again a
        # second later, never saying when it is back.
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
                    if self.lost:
                        await self._recovered()
                    self._receive_message(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception as exc:  # noqa: BLE001 - the receive loop must outlive any failure
                if not self.lost:
                    log.warning("channel layer: Redis pub/sub connection lost (%s); retrying", exc)
                self.lost = True
                await asyncio.sleep(RETRY_SECONDS)

    async def _recovered(self) -> None:
        """Subscribe what the layer needs on this shard and Redis lacks, then tell every channel."""
        async with self._lock:
            assert self._pubsub is not None
            wanted = {name for name in [*self.channel_layer.channels, *self.channel_layer.groups]
                      if self.channel_layer._get_shard(name) is self}
            have = {name.decode() if isinstance(name, bytes) else name for name in self._pubsub.channels}
            if wanted - have:
                await self._pubsub.subscribe(*sorted(wanted - have))
            if have - wanted:  # left while Redis was down: the unsubscribe never reached it
                await self._pubsub.unsubscribe(*sorted(have - wanted))
            self._subscribed_to = wanted
        self.lost = False
        log.warning("channel layer: Redis pub/sub connection back; %d channels told to catch up",
                    len(self.channel_layer.channels))
        self.channel_layer.tell_all({"type": RECONNECTED})


class _LoopLayer(RedisPubSubLoopLayer):
    _shards: list[RedisSingleShardConnection]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]

    async def _subscribe_to_channel(self, channel: str) -> None:
        self.channels[channel] = ChannelInbox()
        shard = self._get_shard(channel)
        try:
            await shard.subscribe(channel)
        except BaseException:
            del self.channels[channel]  # never subscribed: a reconnect must not subscribe it
            raise

    def reachable(self) -> bool:
        """False from when a shard's connection failed until it has re-subscribed (a health signal)."""
        return not any(getattr(shard, "lost", False) for shard in self._shards)

    def tell_all(self, message: dict[str, Any]) -> None:
        """Put ``message`` in every channel of this process, as if each had received it."""
        data = self.channel_layer.serialize(message)
        for inbox in list(self.channels.values()):
            inbox.put_nowait(data)


class SlimRedisPubSubChannelLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` whose per-loop layers keep a ``ChannelInbox`` per channel."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        if loop not in self._layers:
            self._layers[loop] = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            _wrap_close(self, loop)
        return self._layers[loop]
