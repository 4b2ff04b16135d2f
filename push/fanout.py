"""Wake-ups on the channel layer after a commit.

A group message says "conversation X changed up to seq S" (with that message, when it is small)
or "conversation X was updated" (with the conversation's inbox row). Both are published only
after commit, so what they carry is true; a receiver that missed anything reads the database, so
a dropped wake-up costs latency, never data. Group names always start with the tenant's id.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django_scopes import scope

from support.models import Conversation
from support.payloads import CONVERSATION_RELATED, conversation_payload

log = logging.getLogger(__name__)

_local = threading.local()


def conversation_group(tenant_id: int, conversation_id: int) -> str:
    return f"t{tenant_id}.cv.{conversation_id}"


def inbox_group(tenant_id: int) -> str:
    """Every agent connection of the tenant listens here for conversation-level changes."""
    return f"t{tenant_id}.inbox"


def presence_group(tenant_id: int) -> str:
    return f"t{tenant_id}.presence"


@contextmanager
def sending_on(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Within this block, ``publish`` in this thread hands its send to ``loop`` and returns at once.

    For sync code run from an event loop (the realtime transports' database thread): the thread
    is not held while Redis answers, and the send is not lost if the calling task is cancelled.
    """
    outer = getattr(_local, "loop", None)
    _local.loop = loop
    try:
        yield
    finally:
        _local.loop = outer


def publish(group: str, event: dict[str, Any]) -> None:
    """Best-effort send from sync code; failures are logged, never raised (the DB is the record)."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = getattr(_local, "loop", None)
    if loop is not None and not loop.is_closed():
        try:
            loop.call_soon_threadsafe(_Batch.add, loop, layer, group, event)
        except RuntimeError:  # the loop closed meanwhile
            log.warning("channel layer publish to %s dropped: its event loop closed", group)
        return
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:  # noqa: BLE001 - a lost wake-up is recovered by resume; never fail the caller
        log.warning("channel layer publish to %s failed", group, exc_info=True)


class _Batch:
    """One event loop's publishes, sent in order, many per Redis round trip.

    channels_redis' pub/sub layer sends each ``group_send`` alone and waits for Redis's answer
    while holding its connection's lock, so a process's publishes queue behind one another, one
    round trip each; on a busy event loop a round trip is slow and the queue grew to seconds at
    50 messages/s — the wake-ups that long-polls and sockets wait for. Here everything queued
    while one batch is on its way goes in the next batch, as one pipeline per Redis shard.
    """

    _of_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batch] = weakref.WeakKeyDictionary()

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self.queued: list[tuple[str, dict[str, Any]]] = []
        self.sending: asyncio.Task[None] | None = None

    @classmethod
    def add(cls, loop: asyncio.AbstractEventLoop, layer: Any, group: str, event: dict[str, Any]) -> None:
        """On ``loop``: queue the publish, and start sending unless a batch is on its way."""
        batch = cls._of_loop.get(loop)
        if batch is None or batch.layer is not layer:
            batch = cls._of_loop[loop] = cls(layer)
        batch.queued.append((group, event))
        if batch.sending is None:
            batch.sending = loop.create_task(batch._send_all())

    async def _send_all(self) -> None:
        try:
            while self.queued:
                items, self.queued = self.queued, []
                await _send_many(self.layer, items)
        finally:
            self.sending = None


async def _send_many(layer: Any, items: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish ``items`` in order; failures are logged (as in ``publish``: the database is the record)."""
    loop_layer = layer._get_layer() if hasattr(layer, "_get_layer") else None
    if loop_layer is None or not hasattr(loop_layer, "_get_group_channel_name"):
        for group, event in items:  # another kind of layer (in-memory, tests): one by one
            try:
                await layer.group_send(group, event)
            except Exception:  # noqa: BLE001
                log.warning("channel layer publish to %s failed", group, exc_info=True)
        return
    # channels_redis' pub/sub layer (4.x): the group's Redis channel and shard as its group_send
    # finds them, the message serialised as it does, then one pipeline per shard under the same
    # lock its own publishes take.
    shards: dict[Any, list[tuple[str, bytes]]] = {}
    for group, event in items:
        name = loop_layer._get_group_channel_name(group)
        shards.setdefault(loop_layer._get_shard(name), []).append((name, loop_layer.channel_layer.serialize(event)))
    for shard, messages in shards.items():
        try:
            async with shard._lock:
                shard._ensure_redis()
                pipe = shard._redis.pipeline(transaction=False)
                for name, data in messages:
                    pipe.publish(name, data)
                await pipe.execute()
        except Exception:  # noqa: BLE001
            log.warning("channel layer publish of %d wake-ups failed", len(messages), exc_info=True)


def publish_inbox(tenant_id: int, conversation_id: int, *, payload: dict[str, Any] | None = None) -> None:
    """Tell the tenant's agents that a conversation changed, with its inbox row (call after commit).

    ``payload`` is the row as committed, when the caller holds it; otherwise it is read once here.
    Either way agent connections need no query of their own. It previews the last message (notes
    too): only agent connections listen on the inbox group. A receiver that finds no ``payload``
    reads the conversation itself.
    """
    event: dict[str, Any] = {"type": "inbox.changed", "conversation": conversation_id}
    if payload is not None:
        event["payload"] = payload
        publish(inbox_group(tenant_id), event)
        return
    try:
        with scope(tenant=tenant_id):
            conv = (
                Conversation.objects.select_related(*CONVERSATION_RELATED)
                .filter(pk=conversation_id).first()
            )
        if conv is None:
            return
        event["payload"] = conversation_payload(conv)
    except Exception:  # noqa: BLE001 - runs after commit: never fail the caller; receivers read it
        log.warning("inbox row for conversation %s not read; publishing a bare wake-up", conversation_id,
                    exc_info=True)
    publish(inbox_group(tenant_id), event)
