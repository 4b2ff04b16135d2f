"""The long-poll cursor: a signed, self-contained copy of what a client follows and has seen.

Any node can answer any poll from it (no sticky sessions). It holds only opaque public ids,
never database keys, and is bound to the tenant and subject (contact or agent) it was issued to.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core import signing

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


def encode_cursor(state: CursorState) -> str:
    payload = {
        "k": state.kind, "t": state.tenant, "s": state.subject, "c": state.connection_id,
        "f": state.follows, "w": state.inbox_since, "r": state.inbox_recent,
    }
    return signing.dumps(payload, salt=_SALT, compress=True)


def decode_cursor(text: object, *, kind: str, tenant: str, subject: str) -> CursorState:
    """The cursor's state, if it is genuine and was issued to this tenant and subject."""
    if not isinstance(text, str) or not text or len(text) > _MAX_CHARS:
        raise CursorInvalid("cursor must be the string a previous poll returned")
    try:
        data: Any = signing.loads(text, salt=_SALT)
    except (signing.BadSignature, ValueError):  # ValueError: text UTF-8 cannot encode (a lone surrogate)
        raise CursorInvalid("cursor is not one this server issued") from None
    if not isinstance(data, dict) or (data.get("k"), data.get("t"), data.get("s")) != (kind, tenant, subject):
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
    ):
        raise CursorInvalid("cursor is malformed")
    return CursorState(kind, tenant, subject, data["c"], follows, since, recent)
