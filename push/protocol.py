"""The realtime protocol, independent of transport (docs/protocol.md is its contract).

A ``Session`` is one client connection (a socket, or one long-poll request rebuilt from its
cursor). Transports hand it client frames and channel-layer wake-ups; it validates, calls the
services, reads from the database and returns the server frames to send. The channel layer is
only a wake-up: a message reaches a client either as the very next seq after the last one this
connection delivered (carried by its after-commit wake-up, or the sender's own ack), or read from
the database after that seq. So a lost wake-up costs latency, never data, and nothing is sent twice.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_scopes import scope

from billing.subscriptions import live_chat_allowed
from push import fanout, presence
from push.ratelimit import FloodGuard, Verdict, once_per, within_limit
from support.access import access_conversation, access_conversation_for_contact, access_membership
from support.errors import DomainError, NotFound
from support.models import Attachment, Contact, Conversation, Membership, Message, Tenant, User
from support.payloads import CONVERSATION_RELATED, agent_payload, conversation_payload, message_payload
from support.services.conversations import start_conversation
from support.services.messages import CLIENT_ID_MAX, post_message, post_message_to
from support.services.reads import mark_read
from support.services.visitors import (
    Unauthenticated,
    check_origin,
    contact_from_token,
    contact_group,
    require_chat_allowed,
)

log = logging.getLogger(__name__)

VISITOR, AGENT = "visitor", "agent"

CLOSE_BAD_HELLO = 4400
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_HELLO_TIMEOUT = 4408
CLOSE_FLOODING = 4429

REPLAY_BATCH = 200
VISITOR_FOLLOW_MAX = 20
AGENT_FOLLOW_MAX = 100
INBOX_CATCHUP_MAX = 200
# Conversations updated this close to the watermark are re-checked: a transaction that stamped
# updated_at earlier may commit later than one we already saw.
INBOX_OVERLAP_US = 5_000_000
INBOX_RECENT_MAX = 300
# System events a visitor sees; the rest (team changes, …) are for agents only.
VISITOR_EVENTS = ("assigned", "status_changed")

_FRAME_TYPES = {
    # Visitors always follow all their conversations, so they have no unsubscribe.
    VISITOR: {"send", "typing", "read", "subscribe", "ping"},
    AGENT: {"send", "typing", "read", "subscribe", "unsubscribe", "presence", "ping"},
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


@dataclass
class Follow:
    """One followed conversation: every message with ``seq <= seen`` this side may see has been
    delivered; ``sent`` is the seq of the last one delivered (the next one's ``prev_seq``)."""

    public_id: str
    pk: int
    seen: int
    sent: int


def _db(fn: Any) -> Any:
    """``fn`` on the database thread; its channel-layer sends go to this event loop, not wait there."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()

        def call() -> Any:
            with fanout.sending_on(loop):
                return fn(*args, **kwargs)

        return await database_sync_to_async(call)()

    return run


class Session:
    def __init__(
        self,
        *,
        kind: str,
        tenant: Tenant,
        connection_id: str,
        transport: str,
        contact: Contact | None = None,
        membership: Membership | None = None,
        ip: str = "",
        persistent: bool = True,
    ) -> None:
        self.kind = kind
        self.tenant = tenant
        self.contact = contact
        self.membership = membership
        self.connection_id = connection_id
        self.transport = transport
        self.ip = ip or "unknown"
        self.persistent = persistent
        self.follows: dict[int, Follow] = {}
        self.inbox_since: int | None = None
        self.inbox_recent: dict[str, int] = {}
        self.close_code: int | None = None
        self.guard = FloodGuard() if persistent else None
        self._typing_at: dict[int, float] = {}

    # --- identity -------------------------------------------------------------------------------
    @property
    def subject_id(self) -> int:
        subject = self.contact if self.kind == VISITOR else self.membership
        assert subject is not None
        return subject.pk

    @property
    def subject_public_id(self) -> str:
        subject = self.contact if self.kind == VISITOR else self.membership
        assert subject is not None
        return subject.public_id

    @property
    def presence_kind(self) -> str:
        return "contact" if self.kind == VISITOR else "agent"

    def author(self) -> dict[str, Any]:
        if self.kind == VISITOR:
            return {"type": "contact"}
        assert self.membership is not None
        return {"type": "agent", "id": self.membership.public_id, "name": self.membership.user.name}

    def groups(self) -> set[str]:
        """The channel-layer groups this connection must listen to right now."""
        tid = self.tenant.pk
        wanted = {fanout.presence_group(tid)} | {fanout.conversation_group(tid, pk) for pk in self.follows}
        if self.kind == VISITOR:
            wanted.add(contact_group(tid, self.subject_id))
        else:
            wanted.add(fanout.inbox_group(tid))
        return wanted

    # --- client frames ----------------------------------------------------------------------------
    async def receive_text(self, text: str, *, allowed: set[str] | None = None) -> list[dict[str, Any]]:
        """One raw text frame from a socket."""
        verdict = self._admit()
        if len(text) > settings.RT_FRAME_MAX_BYTES or len(text.encode("utf-8")) > settings.RT_FRAME_MAX_BYTES:
            return [error_frame("too_large", f"Frames are limited to {settings.RT_FRAME_MAX_BYTES} bytes")]
        try:
            frame = json.loads(text)
        except ValueError:
            return [error_frame("bad_json", "The frame is not valid JSON")]
        return await self._dispatch(frame, verdict, allowed)

    async def receive_frame(self, frame: object, *, allowed: set[str] | None = None) -> list[dict[str, Any]]:
        """One already-decoded frame (long-poll bodies carry several)."""
        verdict = self._admit()
        if len(json.dumps(frame, ensure_ascii=False)) > settings.RT_FRAME_MAX_BYTES:
            return [error_frame("too_large", f"Frames are limited to {settings.RT_FRAME_MAX_BYTES} bytes")]
        return await self._dispatch(frame, verdict, allowed)

    def _admit(self) -> Verdict:
        if self.guard is None:
            return Verdict.OK
        verdict = self.guard.admit()
        if verdict is Verdict.FLOODING:
            self.close_code = CLOSE_FLOODING
        return verdict

    async def _dispatch(self, frame: object, verdict: Verdict, allowed: set[str] | None) -> list[dict[str, Any]]:
        if not isinstance(frame, dict):
            return [error_frame("bad_json", "A frame must be a JSON object")]
        ftype = frame.get("type")
        client_id = frame.get("client_id") if ftype == "send" and isinstance(frame.get("client_id"), str) else None
        ref = ftype if isinstance(ftype, str) and len(ftype) <= 32 else None
        if verdict is not Verdict.OK:
            return [error_frame("rate_limited", "Too many frames; slow down", ref=ref, client_id=client_id)]
        if not isinstance(ftype, str):
            return [error_frame("missing_field", "A frame needs a string `type`")]
        permitted = _FRAME_TYPES[self.kind] if allowed is None else _FRAME_TYPES[self.kind] & allowed
        if ftype not in permitted:
            where = "" if allowed is None or ftype not in _FRAME_TYPES[self.kind] else " on this endpoint"
            return [error_frame("unknown_type", f"Unknown frame type{where}: {ftype[:32]!r}", ref=ref)]
        handler = getattr(self, f"_on_{ftype}")
        try:
            return await handler(frame)
        except FrameError as exc:
            return [error_frame(exc.code, exc.detail, ref=ftype, client_id=exc.client_id or client_id)]
        except DomainError as exc:
            return [error_frame(exc.code, exc.detail, ref=ftype, client_id=client_id)]

    # --- hello --------------------------------------------------------------------------------------
    async def hello(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        """Start the session: welcome, then everything missed since ``resume`` / ``inbox_since``.

        Raises ``FrameError`` when the hello itself is malformed.
        """
        resume = frame.get("resume", {})
        if resume is None:
            resume = {}
        if not isinstance(resume, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in resume.items()
        ):
            raise FrameError("invalid_field", "resume must map conversation ids to seqs (integers ≥ 0)")
        limit = VISITOR_FOLLOW_MAX if self.kind == VISITOR else AGENT_FOLLOW_MAX
        if len(resume) > limit:
            raise FrameError("invalid_field", f"resume lists more than {limit} conversations")
        since = frame.get("inbox_since")
        if since is not None and (not isinstance(since, str) or not since.isdigit() or len(since) > 20):
            raise FrameError("invalid_field", "inbox_since must be the value a previous welcome gave")
        await self.opened()
        out: list[dict[str, Any]] = []
        if self.kind == VISITOR:
            listed, unknown = await _db(self._follow_visitor_conversations)(resume)
            welcome: dict[str, Any] = {
                "type": "welcome", "you": _visitor_you(self.contact), "connection": self.connection_id,
                "team_online": await _db(presence.team_online)(self.tenant.pk), "conversations": listed,
            }
        else:
            unknown = await _db(self._follow_agent_resume)(resume)
            inbox, complete = await _db(self.inbox_catch_up)(int(since) if since else None)
            welcome = {
                "type": "welcome", "you": agent_payload(self.membership), "connection": self.connection_id,  # type: ignore[arg-type]
                "agents": await _db(presence.agents_presence)(self.tenant.pk),
                "inbox_since": str(self.inbox_since), "inbox_resync": not complete,
            }
            out.extend(self.conversation_frame(c) for c in inbox)
        errors = [error_frame("not_found", "No such conversation", ref="hello") for _ in unknown]
        return [welcome, *errors, *out, *await self.catch_up(list(self.follows.values()))]

    def _visitor_conversations(self) -> list[Conversation]:
        return list(
            Conversation.objects.filter(contact=self.contact)
            .select_related("assignee__user")
            .order_by("-updated_at", "-pk")[:VISITOR_FOLLOW_MAX]
        )

    def _follow_visitor_conversations(self, resume: dict[str, int]) -> tuple[list[dict[str, Any]], list[str]]:
        """Follow the contact's recent conversations; those not in ``resume`` replay from the start."""
        with scope(tenant=self.tenant):
            convs = self._visitor_conversations()
            for conv in convs:
                start = min(resume.get(conv.public_id, 0), conv.last_seq)
                self.follows.setdefault(conv.pk, Follow(conv.public_id, conv.pk, start, start))
            known = {c.public_id for c in convs}
            unknown = []
            for public_id in (k for k in resume if k not in known):
                # An older conversation of theirs that the client still shows: follow it too.
                try:
                    conv = access_conversation_for_contact(self.contact, public_id)  # type: ignore[arg-type]
                except NotFound:
                    unknown.append(public_id)
                    continue
                start = min(resume[public_id], conv.last_seq)
                self.follows.setdefault(conv.pk, Follow(conv.public_id, conv.pk, start, start))
            return [visitor_conversation(c) for c in convs], unknown

    def _follow_agent_resume(self, resume: dict[str, int]) -> list[str]:
        unknown = []
        with scope(tenant=self.tenant):
            for public_id, seq in resume.items():
                try:
                    conv = access_conversation(self.tenant, public_id)
                except NotFound:
                    unknown.append(public_id)
                    continue
                start = min(seq, conv.last_seq)
                self.follows[conv.pk] = Follow(conv.public_id, conv.pk, start, start)
        return unknown

    # --- frame handlers -------------------------------------------------------------------------------
    async def _on_ping(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        await self.heartbeat()
        return [{"type": "pong"}]

    async def _on_send(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        client_id = frame.get("client_id")
        if client_id is None:
            raise FrameError("missing_field", "send needs a client_id")
        if not isinstance(client_id, str) or not 0 < len(client_id) <= CLIENT_ID_MAX:
            raise FrameError("invalid_field", f"client_id must be a string of 1–{CLIENT_ID_MAX} characters")
        conversation = frame.get("conversation", _MISSING)
        if conversation is _MISSING:
            raise FrameError("missing_field", "send needs a conversation (null starts one)", client_id=client_id)
        if conversation is None and self.kind != VISITOR:
            raise FrameError("invalid_field", "agents reply in an existing conversation", client_id=client_id)
        if conversation is not None and not isinstance(conversation, str):
            raise FrameError("invalid_field", "conversation must be an id or null", client_id=client_id)
        body = frame.get("body", "")
        if not isinstance(body, str):
            raise FrameError("invalid_field", "body must be a string", client_id=client_id)
        kind = frame.get("kind", Message.Kind.TEXT)
        if kind not in (Message.Kind.TEXT, Message.Kind.NOTE):
            raise FrameError("invalid_field", "kind must be 'text' or 'note'", client_id=client_id)
        attachment = frame.get("attachment")
        if attachment is not None and not isinstance(attachment, str):
            raise FrameError("invalid_field", "attachment must be an upload id", client_id=client_id)
        if self.kind == VISITOR:
            # Cache round trips: off the event loop, and off the database thread.
            if not await sync_to_async(self._send_allowed, thread_sensitive=False)():
                raise FrameError("rate_limited", "Too many messages; wait a minute", client_id=client_id)
        message, conv, created = await _db(self._post)(conversation, client_id, body, kind, attachment)
        ack = {"type": "ack", "client_id": client_id}
        if self.persistent:
            follow = self.follows.get(conv.pk)
            if follow is None and self.kind == VISITOR:
                follow = self.follows[conv.pk] = Follow(conv.public_id, conv.pk, 0, 0)
            if follow is not None and message.seq == follow.seen + 1:
                # Nothing before it is missing here: the ack is the message itself, no read.
                frame = {**ack, "message": message_payload(message, conversation_public_id=conv.public_id),
                         "prev_seq": follow.sent}
                follow.seen = follow.sent = message.seq
                return [frame]
            if follow is not None and message.seq > follow.seen:
                # Deliver what came before it, and the message itself as the ack (not twice).
                return await self.catch_up([follow], ack_message_pk=message.pk, ack_client_id=client_id)
        return [{**ack, "message": message_payload(message, conversation_public_id=conv.public_id)}]

    def _send_allowed(self) -> bool:
        key = self.tenant.public_id
        return within_limit(
            tenant_key=key, name="send.visitor", subject=self.subject_public_id,
            limit=settings.RT_VISITOR_SENDS_PER_MINUTE,
        ) and within_limit(tenant_key=key, name="send.ip", subject=self.ip, limit=settings.RT_IP_SENDS_PER_MINUTE)

    def _post(
        self, conversation: str | None, client_id: str, body: str, kind: str, attachment_id: str | None
    ) -> tuple[Message, Conversation, bool]:
        with scope(tenant=self.tenant):
            attachment = _unused_attachment(attachment_id) if attachment_id else None
            if attachment is not None and kind == Message.Kind.TEXT:
                kind = Message.Kind.ATTACHMENT
            if self.kind == VISITOR:
                assert self.contact is not None
                require_chat_allowed(self.contact)
                if conversation is None:
                    return self._start_and_post(client_id, body, attachment)
                result = post_message_to(
                    tenant=self.tenant, public_id=conversation, contact=self.contact,
                    author_type=Message.Author.CONTACT, body=body, kind=kind, client_id=client_id,
                    attachment=attachment,
                )
            else:
                result = post_message_to(
                    tenant=self.tenant, public_id=conversation, author_type=Message.Author.AGENT, body=body,
                    kind=kind, client_id=client_id, author_membership=self.membership, attachment=attachment,
                )
            conv = result.message.conversation
            # A new message holds the author and attachment it was created with; only a repeat
            # (read back by client_id) needs them loaded.
            message = result.message if result.created else _with_relations(result.message)
            return message, conv, result.created

    def _start_and_post(
        self, client_id: str, body: str, attachment: Attachment | None
    ) -> tuple[Message, Conversation, bool]:
        """A visitor's first message: start the conversation, once per client_id even on retries."""
        assert self.contact is not None
        offline = not presence.team_online(self.tenant.pk) or not live_chat_allowed(self.tenant)
        with transaction.atomic():
            # The contact's row lock serialises concurrent first sends of one visitor, so a retry
            # racing the original finds its message instead of starting a second conversation.
            Contact.objects.select_for_update().filter(pk=self.contact.pk).first()
            existing = (
                Message.objects.filter(
                    conversation__contact=self.contact, client_id=client_id, author_type=Message.Author.CONTACT
                )
                .select_related("conversation")
                .first()
            )
            if existing is not None:
                return _with_relations(existing), existing.conversation, False
            conv = start_conversation(tenant=self.tenant, contact=self.contact, offline=offline)
            result = post_message(
                conversation=conv, author_type=Message.Author.CONTACT, body=body,
                kind=Message.Kind.ATTACHMENT if attachment else Message.Kind.TEXT,
                client_id=client_id, attachment=attachment,
            )
            tenant_id, contact_id = self.tenant.pk, self.contact.pk
            transaction.on_commit(
                lambda: fanout.publish(contact_group(tenant_id, contact_id), {"type": "contact.changed"})
            )
        return _with_relations(result.message), conv, True

    async def _on_typing(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        on = frame.get("on")
        if on is None:
            raise FrameError("missing_field", "typing needs on (true or false)")
        if not isinstance(on, bool):
            raise FrameError("invalid_field", "on must be true or false")
        follow = await self._resolve(frame.get("conversation"))
        if on and not self._typing_allowed(follow.pk):
            return []  # throttled: the indicator is already showing on the other side
        layer = get_channel_layer()
        if layer is not None:
            event = {
                "type": "conversation.typing", "conversation": follow.pk, "author": self.author(),
                "on": on, "origin": self.connection_id,
            }
            try:
                await layer.group_send(fanout.conversation_group(self.tenant.pk, follow.pk), event)
            except Exception:  # noqa: BLE001 - typing is ephemeral; a lost one is fine
                log.warning("typing relay failed", exc_info=True)
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

    async def _on_read(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        seq = frame.get("seq")
        if seq is None:
            raise FrameError("missing_field", "read needs seq")
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise FrameError("invalid_field", "seq must be an integer ≥ 0")
        follow = await self._resolve(frame.get("conversation"))
        reader = "contact" if self.kind == VISITOR else "agent"

        def mark() -> None:
            with scope(tenant=self.tenant):
                conv = Conversation.objects.get(pk=follow.pk)
                mark_read(conversation=conv, reader=reader, seq=seq, origin=self.connection_id)

        await _db(mark)()
        return []

    async def _on_subscribe(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        last_seq = frame.get("last_seq")
        if last_seq is None:
            raise FrameError("missing_field", "subscribe needs last_seq")
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise FrameError("invalid_field", "last_seq must be an integer ≥ 0")
        follow = await self._resolve(frame.get("conversation"), follow=True)
        # The client says what it has: replay from there, even if this connection sent more
        # (it asks because it saw a gap).
        follow.seen = follow.sent = min(last_seq, await _db(self._last_seq)(follow.pk))
        return await self.catch_up([follow])

    async def _on_unsubscribe(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        follow = await self._resolve(frame.get("conversation"))
        self.follows.pop(follow.pk, None)
        return []

    async def _on_presence(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        status = frame.get("status")
        if status is None:
            raise FrameError("missing_field", "presence needs status")
        if status not in Membership.Availability.values:
            raise FrameError("invalid_field", "status must be 'available' or 'away'")
        await _db(presence.set_availability)(membership=self.membership, status=status)
        return []

    async def _resolve(self, public_id: object, *, follow: bool = False) -> Follow:
        """The conversation a frame names, if this client may see it (else ``not_found``)."""
        if public_id is None:
            raise FrameError("missing_field", "conversation is required")
        if not isinstance(public_id, str):
            raise FrameError("invalid_field", "conversation must be an id")
        for known in self.follows.values():
            if known.public_id == public_id:
                return known

        def look_up() -> Conversation:
            with scope(tenant=self.tenant):
                if self.kind == VISITOR:
                    assert self.contact is not None
                    require_chat_allowed(self.contact)
                    return access_conversation_for_contact(self.contact, public_id)
                return access_conversation(self.tenant, public_id)

        conv = await _db(look_up)()
        found = Follow(conv.public_id, conv.pk, conv.last_seq, conv.last_seq)
        if follow:
            limit = VISITOR_FOLLOW_MAX if self.kind == VISITOR else AGENT_FOLLOW_MAX
            if len(self.follows) >= limit:
                raise FrameError("invalid_field", f"A connection follows at most {limit} conversations")
            self.follows[conv.pk] = found
        return found

    def _last_seq(self, conv_pk: int) -> int:
        with scope(tenant=self.tenant):
            return Conversation.objects.filter(pk=conv_pk).values_list("last_seq", flat=True).first() or 0

    # --- delivery -------------------------------------------------------------------------------------
    async def catch_up(
        self, follows: list[Follow], *, ack_message_pk: int | None = None, ack_client_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Everything after each follow's ``seen``, from the database, in seq order."""
        if not follows:
            return []
        return await _db(self._catch_up)(follows, ack_message_pk, ack_client_id)

    def _catch_up(self, follows: list[Follow], ack_pk: int | None, ack_client_id: str | None) -> list[dict[str, Any]]:
        frames: list[dict[str, Any]] = []
        with scope(tenant=self.tenant):
            # Read the high-water marks first: every message up to them is committed.
            tops = dict(
                Conversation.objects.filter(pk__in=[f.pk for f in follows]).values_list("pk", "last_seq")
            )
            for follow in follows:
                top = tops.get(follow.pk, 0)
                while follow.seen < top:
                    query = Message.objects.filter(
                        conversation_id=follow.pk, seq__gt=follow.seen, seq__lte=top
                    ).select_related("author_membership__user", "attachment").order_by("seq")
                    if self.kind == VISITOR:
                        query = query.filter(_VISIBLE_TO_CONTACT)
                    batch = list(query[:REPLAY_BATCH])
                    for message in batch:
                        payload = message_payload(message, conversation_public_id=follow.public_id)
                        if message.pk == ack_pk:
                            frames.append({"type": "ack", "client_id": ack_client_id, "message": payload,
                                           "prev_seq": follow.sent})
                        else:
                            frames.append({"type": "message", "message": payload, "prev_seq": follow.sent})
                        follow.sent = message.seq
                    follow.seen = top if len(batch) < REPLAY_BATCH else batch[-1].seq
        return frames

    # --- wake-ups from the channel layer ----------------------------------------------------------------
    async def on_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        etype = event.get("type")
        if etype == "conversation.seq":
            follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
            seq = event.get("seq")
            if follow is None or not isinstance(seq, int) or seq <= follow.seen:
                return []  # already delivered (e.g. our own ack)
            carried = event.get("message")
            if seq == follow.seen + 1 and isinstance(carried, dict) and carried.get("seq") == seq:
                return self._deliver_carried(follow, carried)
            return await self.catch_up([follow])  # a gap, or a message too big to carry
        if etype == "conversation.typing":
            follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
            author = event.get("author") or {}
            if follow is None or event.get("origin") == self.connection_id:
                return []
            if self.kind == VISITOR and author.get("type") != "agent":
                return []
            return [{"type": "typing", "conversation": follow.public_id, "author": author, "on": bool(event.get("on"))}]
        if etype == "conversation.read":
            follow = self.follows.get(event.get("conversation"))  # type: ignore[arg-type]
            if follow is None or event.get("origin") == self.connection_id:
                return []
            if self.kind == VISITOR and event.get("reader") != "agent":
                return []
            return [{"type": "read", "conversation": follow.public_id, "reader": event.get("reader"),
                     "seq": event.get("seq")}]
        if etype == "inbox.changed" and self.kind == AGENT:
            carried = event.get("payload")
            if isinstance(carried, dict):
                payload = self._inbox_carried(carried)
            else:  # a publisher that sends no row: read it
                payload = await _db(self._inbox_one)(event.get("conversation"))
            return [] if payload is None else [self.conversation_frame(payload)]
        if etype == "contact.changed" and self.kind == VISITOR:
            before = set(self.follows)
            await _db(self._follow_visitor_conversations)({})
            return await self.catch_up([f for pk, f in self.follows.items() if pk not in before])
        if etype == "presence.changed":
            return [await self.presence_frame()]
        return []

    def _deliver_carried(self, follow: Follow, message: dict[str, Any]) -> list[dict[str, Any]]:
        """The next message of a followed conversation, as its (after-commit) wake-up carried it."""
        follow.seen = message["seq"]
        if self.kind == VISITOR and not visible_to_contact(message.get("kind"), message.get("data")):
            return []  # an internal note or an agents-only event: seen, never sent
        frame = {"type": "message", "message": message, "prev_seq": follow.sent}
        follow.sent = message["seq"]
        return [frame]

    def conversation_frame(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An inbox update; ``inbox_since`` is the watermark to send in the next ``hello``."""
        return {"type": "conversation", "conversation": payload, "inbox_since": str(self.inbox_since)}

    async def presence_frame(self) -> dict[str, Any]:
        if self.kind == VISITOR:
            return {"type": "presence", "team_online": await _db(presence.team_online)(self.tenant.pk)}
        return {"type": "presence", "agents": await _db(presence.agents_presence)(self.tenant.pk)}

    def _inbox_one(self, conv_pk: object) -> dict[str, Any] | None:
        if not isinstance(conv_pk, int):
            return None
        with scope(tenant=self.tenant):
            conv = Conversation.objects.select_related(*CONVERSATION_RELATED).filter(pk=conv_pk).first()
            if conv is None:
                return None
            stamp = to_us(conv.updated_at)
            if self.inbox_recent.get(conv.public_id) == stamp:
                return None  # this version was already sent
            self._remember_inbox([conv])
            return conversation_payload(conv)

    def _inbox_carried(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The inbox row a wake-up carries, unless this version (or a later one) was already sent.

        Rows published by two processes can arrive out of order; an older one must not replace
        a newer one the client already shows.
        """
        public_id, updated = payload.get("id"), payload.get("updated")
        if not isinstance(public_id, str) or not isinstance(updated, str):
            return None
        try:
            stamp = to_us(datetime.fromisoformat(updated))
        except (ValueError, TypeError):
            return None
        known = self.inbox_recent.get(public_id)
        if known is not None and stamp <= known:
            return None
        self._remember_stamps([(public_id, stamp)])
        return payload

    def inbox_catch_up(self, since: int | None) -> tuple[list[dict[str, Any]], bool]:
        """Conversations changed after the watermark (agents), and whether that was all of them."""
        if since is None:
            # A fresh client loads the inbox over REST; remember what changed just before now so
            # the overlap window of the next catch-up does not send it again.
            now = to_us(timezone.now())
            with scope(tenant=self.tenant):
                recent = Conversation.objects.filter(updated_at__gt=from_us(now - INBOX_OVERLAP_US))
                self._remember_inbox(list(recent.order_by("updated_at")[:INBOX_RECENT_MAX]))
            self.inbox_since = max(self.inbox_since or 0, now)
            return [], True
        with scope(tenant=self.tenant):
            rows = list(
                Conversation.objects.filter(updated_at__gt=from_us(since - INBOX_OVERLAP_US))
                .select_related(*CONVERSATION_RELATED)
                .order_by("updated_at", "pk")[: INBOX_CATCHUP_MAX + 1]
            )
            complete = len(rows) <= INBOX_CATCHUP_MAX
            rows = rows[:INBOX_CATCHUP_MAX]
            fresh = [c for c in rows if self.inbox_recent.get(c.public_id) != to_us(c.updated_at)]
            self.inbox_since = since
            self._remember_inbox(rows)
            return [conversation_payload(c) for c in fresh], complete

    def _remember_inbox(self, convs: list[Conversation]) -> None:
        self._remember_stamps([(conv.public_id, to_us(conv.updated_at)) for conv in convs])

    def _remember_stamps(self, stamps: list[tuple[str, int]]) -> None:
        for public_id, stamp in stamps:
            self.inbox_recent[public_id] = stamp
            self.inbox_since = max(self.inbox_since or 0, stamp)
        floor = (self.inbox_since or 0) - INBOX_OVERLAP_US
        recent = {k: v for k, v in self.inbox_recent.items() if v > floor}
        if len(recent) > INBOX_RECENT_MAX:
            recent = dict(sorted(recent.items(), key=lambda kv: kv[1])[-INBOX_RECENT_MAX:])
        self.inbox_recent = recent

    # --- presence -------------------------------------------------------------------------------------
    async def opened(self) -> None:
        await self._presence(presence.connection_opened, transport=self.transport)

    async def heartbeat(self) -> None:
        await self._presence(presence.connection_heartbeat)

    async def closed(self) -> None:
        await self._presence(presence.connection_closed)

    async def _presence(self, fn: Any, **extra: Any) -> None:
        await _db(self.presence_now)(fn, **extra)

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


_MISSING = object()
# What a visitor sees of their conversation, as a query and as a test of a carried message: the two
# must agree.
_VISIBLE_TO_CONTACT = Q(kind__in=[Message.Kind.TEXT, Message.Kind.ATTACHMENT]) | Q(
    kind=Message.Kind.EVENT, data__event__in=VISITOR_EVENTS
)


def visible_to_contact(kind: object, data: object) -> bool:
    if kind in (Message.Kind.TEXT, Message.Kind.ATTACHMENT):
        return True
    return kind == Message.Kind.EVENT and isinstance(data, dict) and data.get("event") in VISITOR_EVENTS


def _with_relations(message: Message) -> Message:
    """The message with what ``message_payload`` reads, loaded in this (scoped) thread."""
    return Message.objects.select_related("author_membership__user", "attachment").get(pk=message.pk)


def _unused_attachment(public_id: str) -> Attachment:
    """An uploaded attachment not yet sent in any message (ids are unguessable and single-use)."""
    attachment = Attachment.objects.filter(public_id=public_id).first() if len(public_id) <= 40 else None
    if attachment is None or Message.objects.filter(attachment=attachment).exists():
        raise NotFound("No such attachment")
    return attachment


def visitor_conversation(conv: Conversation) -> dict[str, Any]:
    """A conversation as its visitor sees it: no internal fields."""
    return {
        "id": conv.public_id,
        "status": conv.status,
        "last_seq": conv.last_seq,
        "contact_last_read_seq": conv.contact_last_read_seq,
        "agent_last_read_seq": conv.agent_last_read_seq,
        "assignee": {"name": conv.assignee.user.name} if conv.assignee_id and conv.assignee else None,
        "created": conv.created_at.isoformat(),
        "updated": conv.updated_at.isoformat(),
        "last_message_at": conv.last_message_at.isoformat() if conv.last_message_at else None,
    }


def _visitor_you(contact: Contact | None) -> dict[str, Any]:
    assert contact is not None
    return {"id": contact.public_id, "name": contact.name, "email": contact.email,
            "verified": contact.external_id is not None}


# --- opening sessions -------------------------------------------------------------------------------------
def _visitor_contact(token: object) -> Contact:
    try:
        contact = contact_from_token(token)
    except Unauthenticated as exc:
        raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", exc.detail) from None
    return contact


async def open_visitor(
    *, token: object, origin: str | None, own_origins: set[str], connection_id: str, transport: str,
    ip: str, persistent: bool,
) -> Session:
    """A visitor session from a token, if the Origin is allowed and the tenant lets them chat."""
    contact = await _db(_visitor_contact)(token)
    try:
        check_origin(tenant=contact.tenant, origin=origin, own_origins=own_origins)
    except DomainError as exc:
        raise Refused(CLOSE_FORBIDDEN, exc.code, exc.detail) from None
    try:
        require_chat_allowed(contact)
    except DomainError as exc:
        raise Refused(CLOSE_UNAUTHENTICATED, exc.code, exc.detail) from None
    return Session(
        kind=VISITOR, tenant=contact.tenant, contact=contact, connection_id=connection_id,
        transport=transport, ip=ip, persistent=persistent,
    )


async def open_agent(
    *, user: User, session_tenant: str | None, connection_id: str, transport: str, ip: str, persistent: bool
) -> Session:
    """An agent session for the membership chosen in the login session (else their first)."""
    if user is None or not user.is_authenticated:
        raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "Sign in first")
    membership = await _db(access_membership)(user, session_tenant)
    if membership is None:
        raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "You are not a member of any team")
    return Session(
        kind=AGENT, tenant=membership.tenant, membership=membership, connection_id=connection_id,
        transport=transport, ip=ip, persistent=persistent,
    )
