"""The core of a realtime session, whatever its kind: identity, groups, frame dispatch, presence.

A ``Session`` is one client connection (a socket, or one long-poll request rebuilt from its
cursor). Transports hand it client frames and wake-ups from the bus (push/hub.py); it checks each frame
against its schema (``frames``), runs the handler and returns the server frames to send. What
differs between visitors and agents lives in ``VisitorSession`` and ``AgentSession``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, TypeGuard

from django.conf import settings
from django_scopes import scope

from push import presence
from push.hub import get_hub
from push.protocol import delivery, sending
from push.protocol.dbthread import on_db_thread
from push.protocol.delivery import Follow, Follows
from push.protocol.frames import (
    CLOSE_FLOODING,
    FOLLOW_MAX,
    HELLO,
    SCHEMAS,
    FrameError,
    check_fields,
    clean_text,
    error_frame,
    frame_type,
    parse_json,
)
from push.protocol.inbox import InboxCursor
from push.ratelimit import FloodGuard, Verdict
from support import log_context
from support.errors import DomainError
from support.events import fanout
from support.language import speaking
from support.models import Contact, Conversation, Membership, Tenant
from support.rate_limits import once_per
from support.services.reads import mark_read

log = logging.getLogger(__name__)


class Session(ABC):
    kind: ClassVar[str]  # frames.VISITOR or frames.AGENT: which schemas apply
    party: ClassVar[str]  # "contact" or "agent": how presence and reads name this side
    contact_only: ClassVar[bool]  # sees only what a visitor may see of a conversation
    contact: Contact | None = None
    membership: Membership | None = None
    inbox: InboxCursor | None = None  # agents only
    # The language refusals (error frames' ``detail``) are written in; None: the server's default.
    language: str | None = None
    inbox_frame = "conversation"  # agents: how inbox rows are framed (``hello.inbox_frame``, inbox_frames.py)
    # The latest of this session's sends in flight, until it is queued for writing (sending._Place).
    last_send: asyncio.Future[None] | None = None

    def __init__(
        self, *, tenant: Tenant, connection_id: str, transport: str, ip: str = "", persistent: bool = True
    ) -> None:
        self.tenant = tenant
        self.connection_id = connection_id
        log_context.bind(tenant=tenant.public_id, connection_id=connection_id)
        self.transport = transport
        self.ip = ip or "unknown"
        self.persistent = persistent
        self.follows = Follows()
        self.close_code: int | None = None
        self.guard = FloodGuard() if persistent else None
        self._typing_at: dict[int, float] = {}

    # --- identity -------------------------------------------------------------------------------
    @property
    @abstractmethod
    def subject(self) -> Contact | Membership:
        """The contact or membership this connection speaks for."""

    @property
    def subject_id(self) -> int:
        return self.subject.pk

    @property
    def subject_public_id(self) -> str:
        return self.subject.public_id

    @property
    def presence_kind(self) -> str:
        return self.party

    @abstractmethod
    def author(self) -> dict[str, Any]:
        """How this side appears as the author of typing (and messages)."""

    def groups(self) -> set[str]:
        """The bus groups this connection must listen to right now.

        Only ``follows`` changes them during a session (the tenant and ``own_group`` are fixed):
        a transport reads them again when ``follows.changed``.
        """
        tid = self.tenant.pk
        return {fanout.presence_group(tid), self.own_group()} | {
            fanout.conversation_group(tid, pk) for pk in self.follows
        }

    @abstractmethod
    def own_group(self) -> str:
        """The group of wake-ups for this side only (the contact's, or the tenant's inbox)."""

    def speaking(self) -> AbstractContextManager[object]:
        """This side's language active, if it has one (else whatever the transport activated)."""
        return speaking(self.language)

    # --- hello --------------------------------------------------------------------------------------
    async def hello(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """Start the session: welcome, then everything missed since ``resume`` / ``inbox_since``.

        Raises ``FrameError`` when the hello itself is malformed.
        """
        values = check_fields(HELLO[self.kind], frame)
        await self.opened()
        with self.speaking():
            frames = await self.welcome(resume=values["resume"], inbox_since=values["inbox_since"])
        return [*frames, *await self.catch_up(list(self.follows.values()))]

    @abstractmethod
    async def welcome(self, *, resume: dict[str, int], inbox_since: str | None) -> list[dict[str, Any]]:
        """Follow what ``resume`` names: ``welcome``, ``not_found`` errors for the rest, inbox rows."""

    @abstractmethod
    def behind(self) -> list[dict[str, Any]]:
        """On the database thread: every frame this client is behind on (a long-poll's answer)."""

    # --- client frames ----------------------------------------------------------------------------
    async def receive_text(self, text: str, *, allowed: set[str] | None = None) -> list[dict[str, Any]]:
        """One raw text frame from a socket."""
        read = self.read_text(text)
        if isinstance(read, list):
            return read
        return await self.dispatch(*read, allowed=allowed)

    def read_text(self, text: str) -> tuple[object, Verdict] | list[dict[str, Any]]:
        """A raw text frame counted against the flood guard and decoded, for ``dispatch``; or the
        answer that refuses it (not JSON, too large)."""
        verdict = self._admit()
        try:
            return parse_json(text, limit=settings.RT_FRAME_MAX_BYTES), verdict
        except FrameError as exc:
            return [error_frame(exc.code, exc.detail)]

    @staticmethod
    def is_send(frame: object, verdict: Verdict) -> bool:
        """A ``send`` frame within the flood guard: one a socket may answer after the frames behind it
        have started (push/consumers.py, ``_Sends``)."""
        return verdict is Verdict.OK and isinstance(frame, dict) and frame.get("type") == "send"

    async def receive_frame(self, frame: object, *, allowed: set[str] | None = None) -> list[dict[str, Any]]:
        """One already-decoded frame (long-poll bodies carry several)."""
        verdict = self._admit()
        if len(json.dumps(frame, ensure_ascii=False)) > settings.RT_FRAME_MAX_BYTES:
            return [error_frame("too_large", f"Frames are limited to {settings.RT_FRAME_MAX_BYTES} bytes")]
        return await self.dispatch(frame, verdict, allowed=allowed)

    def _admit(self) -> Verdict:
        if self.guard is None:
            return Verdict.OK
        verdict = self.guard.admit()
        if verdict is Verdict.FLOODING:
            self.close_code = CLOSE_FLOODING
        return verdict

    async def dispatch(
        self, frame: object, verdict: Verdict, *, allowed: set[str] | None = None
    ) -> list[dict[str, Any]]:
        """Handle one decoded frame: its answer (frames for this client, refusals included)."""
        return await self._checked(frame, verdict, allowed, lambda ftype, values: getattr(self, f"_on_{ftype}")(values))

    async def write_send(self, frame: object, verdict: Verdict) -> list[dict[str, Any]] | sending.Written:
        """``dispatch`` of a ``send`` frame up to its write: its refusal, or what ``answer_send`` makes
        the ack of. A socket with several sends in flight answers them in order, in its turn."""
        return await self._checked(frame, verdict, None, lambda ftype, values: sending.write(self, **values))

    async def answer_send(self, written: sending.Written) -> list[dict[str, Any]]:
        with self.speaking():
            try:
                return await sending.answer(self, written)
            except DomainError as exc:
                return [error_frame(exc.code, exc.detail, ref="send", client_id=written.client_id)]

    async def _checked(
        self, frame: object, verdict: Verdict, allowed: set[str] | None,
        handle: Callable[[str, dict[str, Any]], Awaitable[Any]],
    ) -> Any:
        """``handle(type, values)`` of a frame whose type and fields are checked; a refusal's frames else."""
        if not isinstance(frame, dict):
            return [error_frame("bad_json", "A frame must be a JSON object")]
        ftype = frame.get("type")
        # Echoed only as text a client can read back (and a socket can encode).
        client_id = frame.get("client_id") if ftype == "send" and _echoable(frame.get("client_id")) else None
        ref = ftype if _echoable(ftype) and len(ftype) <= 32 else None
        if verdict is not Verdict.OK:
            return [error_frame("rate_limited", "Too many frames; slow down", ref=ref, client_id=client_id)]
        try:
            ftype = frame_type(frame, kind=self.kind, allowed=allowed)
        except FrameError as exc:
            return [error_frame(exc.code, exc.detail, ref=ref)]
        try:
            values = check_fields(SCHEMAS[self.kind][ftype], frame)
            with self.speaking():
                try:
                    return await handle(ftype, values)
                except DomainError as exc:
                    # Read here: a refusal's detail may be lazy (a batch's refusals are raised for
                    # senders of several languages) and is written in this side's language.
                    return [error_frame(exc.code, exc.detail, ref=ftype, client_id=client_id)]
        except FrameError as exc:
            return [error_frame(exc.code, exc.detail, ref=ftype, client_id=exc.client_id or client_id)]

    # --- frame handlers (values checked by frames.SCHEMAS) ----------------------------------------------
    async def _on_ping(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        await self.heartbeat()
        return [{"type": "pong"}]

    async def _on_send(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        return await sending.send(self, **values)

    async def _on_typing(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        on = values["on"]
        follow = await self._resolve(values["conversation"])
        if on and not self._typing_allowed(follow.pk):
            return []  # throttled: the indicator is already showing on the other side
        event = {
            "type": "conversation.typing", "conversation": follow.pk, "author": self.author(),
            "on": on, "origin": self.connection_id,
        }
        get_hub().publish(fanout.conversation_group(self.tenant.pk, follow.pk), event)  # never raises
        return []

    def _typing_allowed(self, conv_pk: int) -> bool:
        interval = settings.RT_TYPING_INTERVAL_SECONDS
        if not self.persistent:
            return once_per(
                tenant_key=self.tenant.public_id, name="typing", subject=f"{self.subject_public_id}.{conv_pk}",
                seconds=interval,
            )
        now = time.monotonic()
        if now - self._typing_at.get(conv_pk, -interval) < interval:
            return False
        self._typing_at[conv_pk] = now
        return True

    async def _on_read(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        seq = values["seq"]
        follow = await self._resolve(values["conversation"])
        reader = self.party

        def mark() -> None:
            with scope(tenant=self.tenant):
                conv = Conversation.objects.get(pk=follow.pk)
                mark_read(conversation=conv, reader=reader, seq=seq, origin=self.connection_id)

        await on_db_thread(mark)()
        return []

    async def _on_subscribe(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        follow = await self._resolve(values["conversation"], follow=True)
        # The client says what it has: replay from there, even if this connection sent more
        # (it asks because it saw a gap).
        follow.seen = follow.sent = min(values["last_seq"], await on_db_thread(self._last_seq)(follow.pk))
        return await self.catch_up([follow])

    async def _resolve(self, public_id: str, *, follow: bool = False) -> Follow:
        """The conversation a frame names, if this client may see it (else ``not_found``)."""
        for known in self.follows.values():
            if known.public_id == public_id:
                return known
        conv = await on_db_thread(self.look_up)(public_id)
        found = Follow(conv.public_id, conv.pk, conv.last_seq, conv.last_seq)
        if follow:
            limit = FOLLOW_MAX[self.kind]
            if len(self.follows) >= limit:
                raise FrameError("invalid_field", f"A connection follows at most {limit} conversations")
            self.follows[conv.pk] = found
        return found

    @abstractmethod
    def look_up(self, public_id: str) -> Conversation:
        """On the database thread: the conversation, if this side may see it (else ``NotFound``)."""

    def _last_seq(self, conv_pk: int) -> int:
        with scope(tenant=self.tenant):
            return Conversation.objects.filter(pk=conv_pk).values_list("last_seq", flat=True).first() or 0

    # --- delivery -------------------------------------------------------------------------------------
    async def catch_up(
        self, follows: list[Follow], *, ack_message_pk: int | None = None, ack_client_id: str | None = None,
        until: int | None = None,
    ) -> list[dict[str, Any]]:
        """Everything after each follow's ``seen`` (up to ``until``), from the database, in seq order."""
        if not follows:
            return []
        return await on_db_thread(self.replay)(follows, ack_message_pk, ack_client_id, until)

    def replay(
        self, follows: list[Follow], ack_pk: int | None, ack_client_id: str | None, until: int | None = None
    ) -> list[dict[str, Any]]:
        """``catch_up`` in this (database) thread."""
        return delivery.replay(
            tenant=self.tenant, follows=follows, contact_only=self.contact_only, ack_pk=ack_pk,
            ack_client_id=ack_client_id, until=until,
        )

    # --- wake-ups from the bus (push/hub.py) ----------------------------------------------------------------
    async def on_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        frames = self.frames_now(event)
        if frames is not None:
            return frames
        etype = event.get("type")
        if etype == "conversation.seq":  # a gap, or a message too big to carry: read the database
            return await self.catch_up([self.follows[event["conversation"]]])
        if etype == "presence.changed":
            return [await self._shared_presence_frame(event)]
        return await self.on_own_event(event)

    def delivered(self, event: dict[str, Any]) -> bool:
        """Whether a wake-up is of a message this connection already has (its frames are none)."""
        if event.get("type") != "conversation.seq":
            return False
        follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
        seq = event.get("seq")
        return follow is not None and isinstance(seq, int) and seq <= follow.seen

    def frames_now(self, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        """A wake-up's frames when they need nothing awaited (no database read), else None: a socket
        sends them at once, without starting a task (``on_event`` does the rest)."""
        etype = event.get("type")
        if etype == "conversation.seq":
            follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
            if follow is None:
                return []
            return delivery.on_wake_up(follow, event, contact_only=self.contact_only)
        if etype == "conversation.typing":
            follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
            author = event.get("author") or {}
            if follow is None or event.get("origin") == self.connection_id:
                return []
            if self.contact_only and author.get("type") != "agent":
                return []
            return [{"type": "typing", "conversation": follow.public_id, "author": author, "on": bool(event.get("on"))}]
        if etype == "conversation.read":
            follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
            if follow is None or event.get("origin") == self.connection_id:
                return []
            if self.contact_only and event.get("reader") != "agent":
                return []
            return [{"type": "read", "conversation": follow.public_id, "reader": event.get("reader"),
                     "seq": event.get("seq")}]
        return None

    async def _shared_presence_frame(self, event: dict[str, Any]) -> dict[str, Any]:
        """The presence frame for this wake-up, read once per process and kind of session.

        The hub hands one decoded event to every connection of the process, so the first
        connection to handle it starts the read and the others await the same one: 100 agents
        online cost one presence read per change, not 100 (each change would otherwise cost
        a read per connection, N² reads while a team comes online).
        """
        key = f"_presence_frame.{self.kind}.{self.tenant.pk}"
        shared = event.get(key)
        if shared is None:
            shared = event[key] = asyncio.ensure_future(self.presence_frame())
        # Shielded: one connection closing while it waits must not cancel the read for the others.
        return dict(await asyncio.shield(shared))

    @abstractmethod
    async def on_own_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """A wake-up from ``own_group`` (or one this side ignores: answer ``[]``)."""

    @abstractmethod
    async def presence_frame(self) -> dict[str, Any]:
        """Who is online, as this side sees it."""

    # --- presence -------------------------------------------------------------------------------------
    async def opened(self) -> None:
        await self._presence(presence.connection_opened, transport=self.transport)

    async def heartbeat(self) -> None:
        await self._presence(presence.connection_heartbeat)

    async def closed(self) -> None:
        await self._presence(presence.connection_closed)

    async def _presence(self, fn: Any, **extra: Any) -> None:
        await on_db_thread(self.presence_now)(fn, **extra)

    def presence_now(self, fn: Any, **extra: Any) -> bool:
        """A presence update in this (database) thread, e.g. within a long-poll's one trip there."""
        try:
            fn(
                tenant_id=self.tenant.pk, kind=self.presence_kind, subject_id=self.subject_id,
                connection_id=self.connection_id, **extra,
            )
        except Exception:  # noqa: BLE001 - presence is advisory; chat goes on without it
            log.warning("presence update failed", exc_info=True)
            return False
        return True


def _echoable(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and clean_text(value)
