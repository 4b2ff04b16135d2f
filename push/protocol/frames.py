"""Client frames: close codes, refusals, and the declarative check every frame passes first.

Each client frame type has one schema (its fields: type, bounds, required or optional, what null
means) and each session kind a set of types it may send. ``frame_type`` and ``check_fields`` apply
them before any handler runs, so handlers receive values already of the right type and within bounds.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from support.models import Membership, Message
from support.services.messages import CLIENT_ID_MAX

VISITOR, AGENT = "visitor", "agent"

CLOSE_BAD_HELLO = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_FLOODING = 4429

# How many conversations one connection may follow (``hello.resume`` and ``subscribe``).
FOLLOW_MAX = {VISITOR: 20, AGENT: 100}


class FrameError(Exception):
    """A refused frame: becomes an ``error`` frame; the connection stays open."""

    def __init__(self, code: str, detail: str, *, client_id: str | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.client_id = code, detail, client_id


class Refused(Exception):
    """A connection that may not go on: close code (socket) or HTTP status (long-poll)."""

    def __init__(self, close_code: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.close_code, self.code, self.detail = close_code, code, detail

    @property
    def http_status(self) -> int:
        return 401 if self.code == "unauthenticated" else 403


def error_frame(code: str, detail: str, *, ref: str | None = None, client_id: str | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail, "ref": ref}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


# --- field checks: each answers what is wrong with a present value, or None -------------------------
Check = Callable[[Any], str | None]


def text(problem: str, *, min_len: int = 0, max_len: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or len(value) < min_len or (max_len is not None and len(value) > max_len):
            return problem
        return None

    return check


def integer(problem: str, *, minimum: int = 0) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
        return None if ok else problem

    return check


def boolean(problem: str) -> Check:
    return lambda value: None if isinstance(value, bool) else problem


def one_of(problem: str, values: tuple[str, ...]) -> Check:
    return lambda value: None if isinstance(value, str) and value in values else problem


def digits(problem: str, *, max_len: int) -> Check:
    return lambda value: None if isinstance(value, str) and value.isdigit() and len(value) <= max_len else problem


def seq_map(problem: str, *, max_entries: int) -> Check:
    """``{conversation id: seq}``, seqs integers ≥ 0, at most ``max_entries`` of them."""
    seq = integer(problem)

    def check(value: Any) -> str | None:
        if not isinstance(value, dict) or any(not isinstance(k, str) or seq(v) for k, v in value.items()):
            return problem
        if len(value) > max_entries:
            return f"resume lists more than {max_entries} conversations"
        return None

    return check


@dataclass(frozen=True)
class Field:
    """One field of a frame.

    ``missing`` (the detail of ``missing_field``) makes it required. ``null`` says what a JSON null
    means: ``absent`` (as if the field were not there), ``value`` (an accepted value) or
    ``invalid`` (refused with ``null_problem``).
    """

    check: Check
    missing: str | None = None
    default: Any = None
    null: Literal["absent", "value", "invalid"] = "absent"
    null_problem: str = ""


_CONVERSATION = Field(text("conversation must be an id"), missing="conversation is required")
_CONVERSATION_OR_NEW = Field(
    text("conversation must be an id or null"), missing="send needs a conversation (null starts one)", null="value"
)
_CLIENT_ID = Field(
    text(f"client_id must be a string of 1–{CLIENT_ID_MAX} characters", min_len=1, max_len=CLIENT_ID_MAX),
    missing="send needs a client_id",
)
_SEND = {
    "client_id": _CLIENT_ID,
    "conversation": _CONVERSATION_OR_NEW,
    "body": Field(text("body must be a string"), default="", null="invalid", null_problem="body must be a string"),
    "kind": Field(one_of("kind must be 'text' or 'note'", (Message.Kind.TEXT, Message.Kind.NOTE)),
                  default=Message.Kind.TEXT, null="invalid", null_problem="kind must be 'text' or 'note'"),
    "attachment": Field(text("attachment must be an upload id")),
}
_COMMON: dict[str, Mapping[str, Field]] = {
    "ping": {},
    "typing": {"on": Field(boolean("on must be true or false"), missing="typing needs on (true or false)"),
               "conversation": _CONVERSATION},
    "read": {"seq": Field(integer("seq must be an integer ≥ 0"), missing="read needs seq"),
             "conversation": _CONVERSATION},
    "subscribe": {"last_seq": Field(integer("last_seq must be an integer ≥ 0"), missing="subscribe needs last_seq"),
                  "conversation": _CONVERSATION},
}
# Which frames each kind may send, and their schemas. Visitors follow all their conversations, so
# they have no unsubscribe; only a visitor's send may start a conversation.
SCHEMAS: dict[str, dict[str, Mapping[str, Field]]] = {
    VISITOR: {**_COMMON, "send": _SEND},
    AGENT: {
        **_COMMON,
        "send": {**_SEND, "conversation": Field(
            _CONVERSATION_OR_NEW.check, missing=_CONVERSATION_OR_NEW.missing, null="invalid",
            null_problem="agents reply in an existing conversation",
        )},
        "unsubscribe": {"conversation": _CONVERSATION},
        "presence": {"status": Field(one_of("status must be 'available' or 'away'",
                                            tuple(Membership.Availability.values)),
                                     missing="presence needs status")},
    },
}
HELLO: dict[str, Mapping[str, Field]] = {
    kind: {
        "resume": Field(seq_map("resume must map conversation ids to seqs (integers ≥ 0)", max_entries=limit),
                        default={}),
        "inbox_since": Field(digits("inbox_since must be the value a previous welcome gave", max_len=20)),
    }
    for kind, limit in FOLLOW_MAX.items()
}
# Errors about a send carry its client_id (once that is valid), so the client knows which one.
_ECHOED = "client_id"


def check_fields(schema: Mapping[str, Field], frame: Mapping[str, Any]) -> dict[str, Any]:
    """The frame's values by the schema (defaults filled in), or ``FrameError`` for the first bad one.

    Fields the schema does not name are ignored (newer clients may send more).
    """
    values: dict[str, Any] = {}
    echo: str | None = None
    for name, field in schema.items():
        value = frame.get(name)
        present = name in frame and (value is not None or field.null != "absent")
        if not present:
            if field.missing is not None:
                raise FrameError("missing_field", field.missing, client_id=echo)
            values[name] = field.default
            continue
        problem = field.null_problem if value is None and field.null == "invalid" else None
        if value is not None and problem is None:
            problem = field.check(value)
        if problem is not None:
            raise FrameError("invalid_field", problem, client_id=echo)
        values[name] = value
        if name == _ECHOED:
            echo = value
    return values


def frame_type(frame: Mapping[str, Any], *, kind: str, allowed: set[str] | None = None) -> str:
    """The type of a client frame this kind may send (on this endpoint), else ``FrameError``."""
    ftype = frame.get("type")
    if not isinstance(ftype, str):
        raise FrameError("missing_field", "A frame needs a string `type`")
    schemas = SCHEMAS[kind]
    if ftype not in schemas or (allowed is not None and ftype not in allowed):
        where = "" if allowed is None or ftype not in schemas else " on this endpoint"
        raise FrameError("unknown_type", f"Unknown frame type{where}: {ftype[:32]!r}")
    return ftype
