"""Wake-ups on the bus after a commit.

A group message says "conversation X changed up to seq S" (with that message, when it is small)
or "conversation X was updated" (with the conversation's inbox row). Both are published only
after commit, so what they carry is true; a receiver that missed anything reads the database, so
a dropped wake-up costs latency, never data. Group names always start with the tenant's id.

The bus itself belongs to the transports (``push/hub.py``): ``push`` plugs it in at start-up with
``use_bus``. Until then (a process without the transports) wake-ups are dropped with a warning,
which costs latency, never data.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from django_scopes import scope

from support.models import Conversation
from support.payloads import CONVERSATION_RELATED, conversation_payload, with_label_rows

log = logging.getLogger(__name__)

_local = threading.local()


class Publish(Protocol):
    def __call__(self, group: str, event: dict[str, Any], /) -> None: ...


class PublishBatch(Protocol):
    def __call__(self, items: list[tuple[str, dict[str, Any]]], /) -> None: ...


def _no_bus(group: str, event: dict[str, Any]) -> None:
    log.warning("wake-up for %s dropped: no bus is plugged in (support.events.fanout.use_bus)", group)


def _no_bus_batch(items: list[tuple[str, dict[str, Any]]]) -> None:
    for group, event in items:
        _no_bus(group, event)


_publish_now: Publish = _no_bus
_publish_on_loop: PublishBatch = _no_bus_batch


def use_bus(*, publish: Publish, publish_on_loop: PublishBatch) -> None:
    """Plug the wake-up bus in: ``publish`` sends from a thread with no event loop of the bus (REST,
    Celery; logged, never raised), ``publish_on_loop`` sends a list of wake-ups from a loop's own
    thread (returns at once)."""
    global _publish_now, _publish_on_loop
    _publish_now, _publish_on_loop = publish, publish_on_loop


def conversation_group(tenant_id: int, conversation_id: int) -> str:
    return f"t{tenant_id}.cv.{conversation_id}"


def inbox_group(tenant_id: int) -> str:
    """Every agent connection of the tenant listens here for conversation-level changes."""
    return f"t{tenant_id}.inbox"


def presence_group(tenant_id: int) -> str:
    return f"t{tenant_id}.presence"


class _Pending:
    """The wake-ups of one ``sending_on`` block, handed to its loop together when the block ends."""

    __slots__ = ("items", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.items: list[tuple[str, dict[str, Any]]] = []


@contextmanager
def sending_on(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Within this block, ``publish`` in this thread queues its send for ``loop`` and returns at once.

    For sync code run from an event loop (the realtime transports' database thread): the thread
    is not held while Redis answers, the send is not lost if the calling task is cancelled, and
    the block's wake-ups (a group commit's: one per message and one inbox row per conversation)
    are handed to the loop in one ``call_soon_threadsafe`` when the block ends — one wake-up of
    the loop, not one per send — and go out batched with the loop's other publishes (one
    pipeline per Redis shard). A block inside a block for the same loop hands over with the outer.
    """
    outer: _Pending | None = getattr(_local, "pending", None)
    if outer is not None and outer.loop is loop:
        yield
        return
    pending = _local.pending = _Pending(loop)
    try:
        yield
    finally:
        _local.pending = outer
        _hand_over(pending)


def _hand_over(pending: _Pending) -> None:
    if not pending.items:
        return
    if not pending.loop.is_closed():
        try:
            pending.loop.call_soon_threadsafe(_publish_on_loop, pending.items)
            return
        except RuntimeError:  # the loop closed meanwhile
            pass
    # A loop that is gone (a stopping server) sends nothing more: send them from here.
    for group, event in pending.items:
        _publish_now(group, event)


def publish(group: str, event: dict[str, Any]) -> None:
    """Best-effort send from sync code; failures are logged, never raised (the DB is the record)."""
    pending: _Pending | None = getattr(_local, "pending", None)
    if pending is not None:
        pending.items.append((group, event))
        return
    _publish_now(group, event)


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
                with_label_rows(Conversation.objects.select_related(*CONVERSATION_RELATED))
                .filter(pk=conversation_id).first()
            )
        if conv is None:
            return
        event["payload"] = conversation_payload(conv)
    except Exception:  # noqa: BLE001 - runs after commit: never fail the caller; receivers read it
        log.warning("inbox row for conversation %s not read; publishing a bare wake-up", conversation_id,
                    exc_info=True)
    publish(inbox_group(tenant_id), event)
