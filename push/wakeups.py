"""The events core's wake-ups as they leave a serving process (``fanout.use_bus``, push/apps.py).

A conversation's inbox row is paced per process (``RT_INBOX_PUBLISH_MS``, ``Hub.publish_paced``):
its first change after a quiet interval goes out at once, later ones are folded into the latest
row and go out when the interval ends. Every receiver wants the latest row, not each step — the
inbox feed paces the rows it hands its sockets anyway (push/inbox_feed.py) — so a busy
conversation costs the bus and every receiving process about one inbox wake-up per interval
instead of one per message. Other wake-ups go out as they come.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

from push.hub import get_hub
from push.protocol.inbox_frames import merged


def publish_on_loop(items: list[tuple[str, dict[str, Any]]]) -> None:
    """A batch of wake-ups handed to this loop (a database thread's ``sending_on`` block)."""
    hub = get_hub()
    every = settings.RT_INBOX_PUBLISH_MS / 1000
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for group, event in items:
        conversation = event.get("conversation")
        if every > 0 and event.get("type") == "inbox.changed" and isinstance(conversation, int):
            # A conversation's rows of one hand-over (its creation and first message) are one change.
            held = rows.get((group, conversation))
            rows[(group, conversation)] = event if held is None else later_inbox_event(held, event)
        else:
            hub.publish(group, event)
    for (group, conversation), event in rows.items():
        payload = event.get("payload")
        # A row that carries labels (a person changed the conversation) is not held back: a newer
        # row without labels (a message) published meanwhile by another process would reach the
        # receivers first, and they drop the older row, its labels with it.
        at_once = isinstance(payload, dict) and "labels" in payload
        hub.publish_paced(group, conversation, event, every=every, merge=later_inbox_event, at_once=at_once)


def later_inbox_event(held: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """What to publish instead of two inbox wake-ups of one conversation, ``later`` handed over after ``held``.

    Two rows: the later by its ``updated`` stamp, with the labels only the earlier carries
    (``inbox_frames.merged``, as the receivers merge them). A wake-up without a row ("read it
    yourself", when reading the row after commit failed) wins over any row, before or after it:
    the receivers' read is the latest state, and hand-overs from two database threads need not
    come in commit order, so a row handed over later is not surely newer.
    """
    held_row, later_row = held.get("payload"), later.get("payload")
    if not isinstance(held_row, dict):
        return held
    if not isinstance(later_row, dict):
        return later
    return {**later, "payload": merged(held_row, later_row)}
