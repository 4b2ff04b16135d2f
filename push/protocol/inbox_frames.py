"""Inbox rows as frames: one ``conversation`` frame per row, or ``conversations`` frames of many rows.

A client says in its ``hello`` which it reads (``inbox_frame``; docs/protocol.md). An ``InboxBatch``
is the rows of one interval for every agent connection of a tenant in a process: each row is
encoded once, and a connection whose watermark is older than every row (the usual case) gets
the very frame texts that the others get; only a connection that already sent some of the rows
(its cursor says so) has its frames built from the rows it still lacks.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from push.hub import SharedJSON, encode_json
from push.protocol.frames import INBOX_FRAME_KINDS
from push.protocol.inbox import InboxCursor, stamp_of

SINGLE, BATCHED = INBOX_FRAME_KINDS
# A ``conversations`` frame without its rows, with the longest watermark: what each frame adds to its rows.
_BATCHED_OVERHEAD = len('{"type":"conversations","conversations":[],"inbox_since":"18446744073709551615"}')


def _size(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def packs(sizes: list[int], *, limit: int) -> list[tuple[int, int]]:
    """``(start, end)`` slices of consecutive rows whose ``conversations`` frame stays within ``limit``
    bytes (a row too big for any frame goes alone: one row per frame is what single frames do too)."""
    out, start, used = [], 0, _BATCHED_OVERHEAD
    for i, size in enumerate(sizes):
        if i > start and used + size + 1 > limit:
            out.append((start, i))
            start, used = i, _BATCHED_OVERHEAD
        used += size + 1
    if start < len(sizes):
        out.append((start, len(sizes)))
    return out


def merged(held: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """The later of two versions of a conversation's row, keeping the labels only the earlier carries.

    A row without ``labels`` means "labels unchanged" (a new message's row reads none): dropping an
    earlier row that changed them would lose that change.
    """
    older, newer = (row, held) if _later(held, row) else (held, row)
    if "labels" in older and "labels" not in newer:
        return {**newer, "labels": older["labels"]}
    return newer


def _later(a: dict[str, Any], b: dict[str, Any]) -> bool:
    stamp_a, stamp_b = stamp_of(a.get("updated")), stamp_of(b.get("updated"))
    return stamp_a is not None and (stamp_b is None or stamp_a > stamp_b)


def catch_up_frames(cursor: InboxCursor, rows: list[dict[str, Any]], *, kind: str, limit: int) -> list[dict[str, Any]]:
    """A catch-up's rows (all sent at once, so each frame carries the cursor's final watermark)."""
    if kind == SINGLE:
        return [cursor.conversation_frame(row) for row in rows]
    since = str(cursor.since)
    sizes = [_size(encode_json(row)) for row in rows]
    return [
        {"type": BATCHED, "conversations": rows[start:end], "inbox_since": since}
        for start, end in packs(sizes, limit=limit)
    ]


class InboxRow:
    __slots__ = ("public_id", "size", "stamp", "text")

    def __init__(self, public_id: str, stamp: int, text: str) -> None:
        self.public_id, self.stamp, self.text, self.size = public_id, stamp, text, _size(text)


def _row(payload: dict[str, Any]) -> InboxRow | None:
    public_id, stamp = payload.get("id"), stamp_of(payload.get("updated"))
    if not isinstance(public_id, str) or stamp is None:
        return None
    return InboxRow(public_id, stamp, payload.json if type(payload) is SharedJSON else encode_json(payload))


class InboxBatch:
    """The changed rows of one interval of a tenant (the latest of each), in watermark order."""

    __slots__ = ("_shared", "first", "payloads", "rows", "stamps")

    def __init__(self, payloads: Iterable[dict[str, Any]]) -> None:
        latest: dict[str, dict[str, Any]] = {}
        for payload in payloads:
            public_id = payload.get("id")
            if isinstance(public_id, str):
                held = latest.get(public_id)
                latest[public_id] = payload if held is None else merged(held, payload)
        self.payloads = list(latest.values())
        rows = [row for row in map(_row, self.payloads) if row is not None]
        rows.sort(key=lambda row: row.stamp)
        self.rows = rows
        self.stamps = {row.public_id: row.stamp for row in rows}
        self.first = rows[0].stamp if rows else 0
        self._shared: dict[tuple[str, int], list[str]] = {}

    @classmethod
    def joined(cls, batches: list[InboxBatch]) -> InboxBatch:
        """One batch of several (the latest row of each conversation): for a long-poll answer that
        several intervals' batches reached; a single batch is itself, with its shared texts."""
        if len(batches) == 1:
            return batches[0]
        return cls(payload for batch in batches for payload in batch.payloads)

    def has_fresh(self, cursor: InboxCursor) -> bool:
        """Whether ``texts_for`` would give this connection anything (its cursor is left as it is)."""
        if not self.rows:
            return False
        if cursor.since is None or cursor.since < self.first:
            return True
        return any(cursor.fresh(row.public_id, row.stamp) for row in self.rows)

    def texts_for(self, cursor: InboxCursor, *, kind: str, limit: int) -> list[str]:
        """The frames (JSON text) this batch makes for one connection; its cursor remembers the rows.

        Rows the connection already sent (that version or a later one) are left out: a catch-up
        may have sent them, or a wake-up from another process arrived out of order.
        """
        if not self.rows:
            return []
        if cursor.since is None or cursor.since < self.first:
            # Older than every row: nothing here was sent, and each frame's watermark is the
            # batch's own, the same for every such connection.
            cursor.remember_stamps(self.stamps, newest=self.rows[-1].stamp)
            key = (kind, limit)
            texts = self._shared.get(key)
            if texts is None:
                texts = self._shared[key] = frame_texts(self.rows, since=None, kind=kind, limit=limit)
            return texts
        since = cursor.since
        fresh = [row for row in self.rows if cursor.fresh(row.public_id, row.stamp)]
        if not fresh:
            return []
        cursor.remember_stamps({row.public_id: row.stamp for row in fresh}, newest=fresh[-1].stamp)
        return frame_texts(fresh, since=since, kind=kind, limit=limit)


def frame_texts(rows: list[InboxRow], *, since: int | None, kind: str, limit: int) -> list[str]:
    """Frames for ``rows`` (in watermark order) to a connection whose watermark was ``since``: each
    frame's ``inbox_since`` covers its own rows and those before it, never one still to come."""
    marks: list[int] = []
    for row in rows:
        since = row.stamp if since is None or row.stamp > since else since
        marks.append(since)
    if kind == SINGLE:
        return [_single(row.text, mark) for row, mark in zip(rows, marks, strict=True)]
    return [
        _batched([row.text for row in rows[start:end]], marks[end - 1])
        for start, end in packs([row.size for row in rows], limit=limit)
    ]


def _single(text: str, since: int) -> str:
    return f'{{"type":"conversation","conversation":{text},"inbox_since":"{since}"}}'


def _batched(texts: list[str], since: int) -> str:
    return f'{{"type":"conversations","conversations":[{",".join(texts)}],"inbox_since":"{since}"}}'

