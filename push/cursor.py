"""The long-poll cursor: a signed, self-contained copy of what a client follows and has seen.

Any node can answer any poll from it (no sticky sessions). It holds only opaque public ids,
never database keys, and is bound to the tenant and subject (contact or agent) it was issued to.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core import signing

from push.protocol.frames import INBOX_FRAME_KINDS

_SALT = "switchboard.rt.cursor"
_MAX_CHARS = 16_000


class CursorInvalid(Exception):
    pass


@dataclass
class CursorState:
    """``follows`` maps conversation public id -> [seen, sent] (see push.protocol.Follow)."""

    kind: str
    tenant: str
    subject: str
    connection_id: str
    follows: dict[str, list[int]] = field(default_factory=dict)
    inbox_since: int | None = None
    inbox_recent: dict[str, int] = field(default_factory=dict)
    # The process that answered holds the connection between polls under this id (push.longpoll,
    # "parked"); a cursor without it, or one that process no longer holds, is served in full.
    parked: str | None = None
    # How an agent's inbox rows are framed (``hello.inbox_frame``); None: the default, ``conversation``.
    inbox_frame: str | None = None


def encode_cursor(state: CursorState) -> str:
    payload = {
        "k": state.kind, "t": state.tenant, "s": state.subject, "c": state.connection_id,
        "f": state.follows, "w": state.inbox_since, "r": state.inbox_recent,
    }
    if state.parked is not None:
        payload["p"] = state.parked
    if state.inbox_frame is not None:
        payload["i"] = state.inbox_frame
    return signing.dumps(payload, salt=_SALT, compress=True)


def decode_cursor(text: object, *, kind: str, tenant: str, subject: str) -> CursorState:
    """The cursor's state, if it is genuine and was issued to this tenant and subject."""
    state = load_cursor(text)
    if (state.kind, state.tenant, state.subject) != (kind, tenant, subject):
        raise CursorInvalid("cursor belongs to another session")
    return state


def load_cursor(text: object) -> CursorState:
    """The cursor's state if it is genuine, whoever it was issued to (the caller checks that)."""
    if not isinstance(text, str) or not text or len(text) > _MAX_CHARS:
        raise CursorInvalid("cursor must be the string a previous poll returned")
    try:
        data: Any = signing.loads(text, salt=_SALT)
    except (signing.BadSignature, ValueError):  # ValueError: text UTF-8 cannot encode (a lone surrogate)
        raise CursorInvalid("cursor is not one this server issued") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("k", "t", "s")):
        raise CursorInvalid("cursor belongs to another session")
    follows = data.get("f") or {}
    recent = data.get("r") or {}
    since = data.get("w")
    if not (
        isinstance(follows, dict)
        and all(isinstance(v, list) and len(v) == 2 and all(isinstance(n, int) for n in v) for v in follows.values())
        and isinstance(recent, dict)
        and (since is None or isinstance(since, int))
        and isinstance(data.get("c"), str)
        and isinstance(data.get("p"), str | None)
        and data.get("i") in (None, *INBOX_FRAME_KINDS)
    ):
        raise CursorInvalid("cursor is malformed")
    return CursorState(data["k"], data["t"], data["s"], data["c"], follows, since, recent, data.get("p"), data.get("i"))
