"""Client frames: parsing, close codes, refusals, and the declarative check every frame passes first.

``parse_json`` turns raw text (a socket frame, a long-poll body) into JSON values within bounds:
size, nesting depth, integers a client can mean exactly, finite numbers, valid UTF-8. Each client
frame type has one schema (its fields: type, bounds, required or optional, what null means) and
each session kind a set of types it may send; ``frame_type`` and ``check_fields`` apply them
before any handler runs, so handlers receive values already of the right type and within bounds,
and text free of NUL and unpaired surrogates (which PostgreSQL and UTF-8 cannot carry).
"""
from __future__ import annotations

import itertools
import json
import math
import operator
import re
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


# --- parsing ----------------------------------------------------------------------------------------
# Deeper than any frame or body needs ({"frames": [{"resume": {…}}]} is 3 levels).
DEPTH_MAX = 16
# JavaScript's safe integers: every integer a client can mean exactly (and a bigint column holds).
INT_MAX = 2**53 - 1
_ESCAPE = re.compile(r"\\.", re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_OPENS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class _Unacceptable(ValueError):
    """A JSON number we refuse (raised from inside the decoder)."""


def _bounded_int(digits: str) -> int:
    if len(digits) > 17 or abs(value := int(digits)) > INT_MAX:
        raise _Unacceptable(f"Integers must be within ±{INT_MAX}")
    return value


def _finite_float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise _Unacceptable("Numbers must be finite")
    return value


def _no_constant(name: str) -> Any:
    raise _Unacceptable(f"{name} is not a JSON number")


def _depth(text: str) -> int:
    """How deep the brackets of ``text`` nest, outside strings, without recursion.

    Drop escapes, keep what lies between string quotes' pairs, keep only brackets, then the
    deepest running count. The decoder would stop at the first error anyway, so on broken input
    this only needs to be right up to there, and it is.
    """
    outside = "".join(_ESCAPE.sub("", text).split('"')[::2])
    marks = _NOT_BRACKET.sub("", outside).encode("ascii").translate(_OPENS)  # opening 2, closing 0
    return max(map(operator.sub, itertools.accumulate(marks), itertools.count(1)), default=0)


# One decoder for every frame: ``json.loads`` with hooks builds a decoder and its scanner per call,
# which cost more than decoding a small frame (2.6 against 1.1 µs for a ``send``).
_decode = json.JSONDecoder(parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant).decode


def parse_json(raw: str | bytes, *, limit: int) -> Any:
    """The JSON value of ``raw``, or ``FrameError`` (``too_large``, ``bad_json``).

    Only bodies within ``limit`` bytes are read; nesting deeper than ``DEPTH_MAX`` is refused
    before the decoder (recursive) sees it; so are NaN/Infinity, numbers beyond ``INT_MAX`` or
    not finite, and bytes that are not UTF-8 (which would smuggle lone surrogates in).
    """
    if isinstance(raw, bytes):
        if len(raw) > limit:
            raise FrameError("too_large", f"At most {limit} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError("bad_json", "The text is not UTF-8") from None
    elif len(raw) > limit or len(raw.encode("utf-8", "surrogatepass")) > limit:
        raise FrameError("too_large", f"At most {limit} bytes")
    else:
        text = raw
    # Counting brackets is cheap; only text with many of them needs the real depth.
    if text.count("[") + text.count("{") > DEPTH_MAX and _depth(text) > DEPTH_MAX:
        raise FrameError("bad_json", f"JSON nested deeper than {DEPTH_MAX} levels")
    try:
        return _decode(text)
    except _Unacceptable as exc:
        raise FrameError("bad_json", str(exc)) from None
    except (ValueError, RecursionError):
        raise FrameError("bad_json", "The text is not valid JSON") from None


def clean_text(value: str) -> bool:
    """Whether ``value`` is free of NUL and unpaired UTF-16 surrogates (paired ones arrive decoded)."""
    return _BAD_TEXT.search(value) is None


def _unclean(value: Any) -> bool:
    if isinstance(value, str):
        return not clean_text(value)
    if isinstance(value, dict):
        return any(_unclean(k) or _unclean(v) for k, v in value.items() if isinstance(k, str))
    return False


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
    def check(value: Any) -> str | None:
        # isascii: str.isdigit() also accepts "²" and other digits that int() refuses.
        ok = isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= max_len
        return None if ok else problem

    return check


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
# Agents say which inbox frames they read: one row per ``conversation`` frame (the default, what
# clients before ``conversations`` understand) or several per ``conversations`` frame.
INBOX_FRAME_KINDS = ("conversation", "conversations")
HELLO[AGENT] = {
    **HELLO[AGENT],
    "inbox_frame": Field(one_of("inbox_frame must be 'conversation' or 'conversations'", INBOX_FRAME_KINDS),
                         default=INBOX_FRAME_KINDS[0]),
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
        if problem is None and _unclean(value):
            problem = f"{name} must not contain NUL characters or unpaired surrogates"
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
    schemas = SCHEMAS[kind]  # repr() below escapes NUL and surrogates
    if ftype not in schemas or (allowed is not None and ftype not in allowed):
        where = "" if allowed is None or ftype not in schemas else " on this endpoint"
        raise FrameError("unknown_type", f"Unknown frame type{where}: {ftype[:32]!r}")
    return ftype
