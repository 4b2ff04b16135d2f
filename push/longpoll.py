"""Long-poll transport: the same frames as the sockets, over plain HTTP POSTs (docs/protocol.md).

Requests come through push/longpoll_app.py (not Django's middleware), which calls ``answer``.
``send`` answers at once with acks/errors. ``poll`` rebuilds the client's Session from its signed
cursor (so any node can answer), returns at once when the client is behind, and otherwise waits
for a wake-up from the process's hub (push/hub.py) for up to ``LONGPOLL_TIMEOUT_SECONDS``. Between
two polls the connection stays "parked" in the process that answered, still listening: its next
poll is answered from memory, without a database trip ("parked connections" below). Errors
of the request itself are ``{"error": {"code", "detail"}}`` with an HTTP status; errors of single
frames are ``error`` frames.
"""
from __future__ import annotations

import asyncio
import contextvars
import hmac
import logging
import secrets
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_scopes import scope

from push import draining, metrics, presence
from push.agent_auth import agent_membership
from push.cursor import CursorInvalid, CursorState, decode_cursor, encode_cursor, load_cursor
from push.hub import Hub, encode_frame, encode_json, get_hub
from push.inbox_feed import InboxFeed, feed_of
from push.json_body import BadRequest, error_response, read_json
from push.protocol import (
    VISITOR,
    AgentSession,
    Follow,
    FrameError,
    Refused,
    Session,
    VisitorSession,
    on_db_thread,
)
from push.protocol.frames import INBOX_FRAME_KINDS
from push.protocol.inbox_frames import SINGLE, InboxBatch
from push.protocol.opening import visitor_session
from push.ratelimit import within_limit_async
from push.timers import Timers
from push.visitor_auth import request_own_origins
from support import log_context
from support.client_address import request_address_group
from support.models import Contact, Conversation
from support.rate_limits import within_limit

log = logging.getLogger(__name__)

SEND_FRAMES = {"send", "typing", "read", "presence", "ping"}
# Polls of this process that are waiting with nothing to do (an operations gauge; tests wait
# for it instead of sleeping).
idle_polls = 0
# When this process last refreshed each long-poll connection's presence (monotonic seconds).
_beats: dict[str, float] = {}
_BEATS_MAX = 50_000
POLL_FRAMES = {"subscribe", "unsubscribe", "ping"}


# A poll that has nothing to answer and cannot wait (the bus's Redis is down) asks the client to
# come back after this long (docs/protocol.md, "Failures and retries").
UNAVAILABLE_RETRY_AFTER_SECONDS = 2


class Unavailable(BadRequest):
    """503 with Retry-After: a part other than the database is down; the same request may be retried."""

    def __init__(self, detail: str) -> None:
        super().__init__(503, "unavailable", detail)
        self.response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)


def internal_error() -> JsonResponse:
    """The answer when something failed that the checks did not foresee (a bug, or a part down)."""
    response = error_response(503, "internal", "The server failed on this request; retry it later")
    response["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


def _frames(data: dict[str, Any]) -> list[Any]:
    frames = data.get("frames", [])
    if not isinstance(frames, list):
        raise BadRequest(400, "invalid_field", "frames must be a list")
    if len(frames) > settings.RT_LONGPOLL_FRAMES_MAX:
        raise BadRequest(413, "too_large", f"At most {settings.RT_LONGPOLL_FRAMES_MAX} frames per request")
    return frames


# Visitors whose token and Origin this process verified, and when (monotonic seconds): their
# requests within REVERIFY_SECONDS skip the two look-ups (the same bound as a parked poll's identity).
_visitors: dict[tuple[str, str], tuple[Contact, float]] = {}
_VISITORS_MAX = 10_000


def _visitor_key(request: HttpRequest, data: dict[str, Any]) -> tuple[str, str] | None:
    token, origin = data.get("token"), request.headers.get("Origin")
    return (token, origin) if isinstance(token, str) and origin else None


def _known_visitor(request: HttpRequest, data: dict[str, Any]) -> VisitorSession | None:
    """The visitor's session without a look-up, if this process verified their token and Origin
    less than ``REVERIFY_SECONDS`` ago (on the event loop or the database thread)."""
    key = _visitor_key(request, data)
    known = _visitors.get(key) if key else None
    if known is None or time.monotonic() - known[1] >= REVERIFY_SECONDS:
        return None
    contact = known[0]
    return VisitorSession(tenant=contact.tenant, contact=contact, connection_id=uuid.uuid4().hex,
                          transport="longpoll", ip=request_address_group(request), persistent=False)


def _session(request: HttpRequest, kind: str, data: dict[str, Any]) -> Session:
    """Who is asking (on the database thread): the visitor's token and Origin, or the agent's login session."""
    ip = request_address_group(request)
    if kind == VISITOR:
        known = _known_visitor(request, data)
        if known is not None:
            return known
        token, origin = data.get("token"), request.headers.get("Origin")
        key = _visitor_key(request, data)
        now = time.monotonic()
        try:
            session = visitor_session(
                token=token, origin=origin, own_origins=request_own_origins(request),
                connection_id=uuid.uuid4().hex, transport="longpoll", ip=ip, persistent=False,
            )
        except Refused as exc:
            raise BadRequest(exc.http_status, exc.code, exc.detail) from None
        if key is not None:
            if len(_visitors) >= _VISITORS_MAX:
                _visitors.clear()
            _visitors[key] = (session.subject, now)
        return session
    # push.longpoll_app checked the CSRF token; the session cookie says who it is.
    membership = agent_membership(request)
    if membership is None:
        raise BadRequest(401, "unauthenticated", "Sign in first")
    return AgentSession(
        tenant=membership.tenant, membership=membership, connection_id=uuid.uuid4().hex,
        transport="longpoll", ip=ip, persistent=False,
    )


@dataclass
class _Started:
    session: Session
    frames: list[dict[str, Any]] = field(default_factory=list)  # what a resumed poll is behind on
    beaten: bool = False  # whether the resume refreshed the connection's presence


def _rate_limited() -> BadRequest:
    return BadRequest(429, "rate_limited", "Too many requests; slow down")


def _ip_limit(session: Session, endpoint: str) -> dict[str, Any]:
    """The per-IP window every request counts in (``within_limit``'s arguments)."""
    return {"tenant_key": session.tenant.public_id, "name": f"{endpoint}.ip", "subject": session.ip,
            "limit": settings.RT_IP_POLLS_PER_MINUTE}


def _who(request: HttpRequest, kind: str, endpoint: str, data: dict[str, Any]) -> Session:
    """On the database thread: who is asking (``_session``), counted in the per-IP limit."""
    session = _session(request, kind, data)
    if not within_limit(**_ip_limit(session, endpoint)):
        raise _rate_limited()
    return session


def _start(request: HttpRequest, kind: str, endpoint: str, data: dict[str, Any]) -> _Started:
    """Everything a request needs from the database before it can answer or wait, in one trip there:
    who is asking, the per-IP limit, and for a poll with a cursor the session it left and what it is behind on.

    Each trip to a thread waits for that thread and then for the event loop in turn; a poll woken
    by a wake-up that carries its answer makes no further trip.
    """
    session = _who(request, kind, endpoint, data)
    cursor = data.get("cursor")
    if endpoint != "poll" or cursor is None:
        return _Started(session)
    try:
        state = decode_cursor(cursor, kind=session.kind, tenant=session.tenant.public_id,
                              subject=session.subject_public_id)
    except CursorInvalid as exc:
        raise BadRequest(400, "bad_cursor", f"{exc}; start again with cursor null and a hello") from None
    frames, beaten = _resume(session, state, _heartbeat_due(state.connection_id))
    return _Started(session, frames, beaten)


async def answer(request: HttpRequest, *, kind: str, endpoint: str) -> HttpResponse:
    """The answer to one long-poll request that push.longpoll_app admitted (method, host, body size, CSRF)."""
    try:
        data = read_json(request)
        frames_in = _frames(data)
        metrics.frames_received("longpoll", len(frames_in))
        if endpoint == "send":
            session = await _sender(request, kind, data)
            out: list[dict[str, Any]] = []
            if all(isinstance(frame, dict) and frame.get("type") == "send" for frame in frames_in):
                # A client's queue flushed at once: the sends reach the write queue together, in
                # their order (push/protocol/sending.py, ``_Place``), and share a batch.
                for answer in await asyncio.gather(
                    *(session.receive_frame(frame, allowed=SEND_FRAMES) for frame in frames_in)
                ):
                    out += answer
            else:
                for frame in frames_in:
                    out += await session.receive_frame(frame, allowed=SEND_FRAMES)
            metrics.frames_sent("longpoll", len(out))
            return JsonResponse({"frames": out})
        credential = _credential(request, kind, data)
        if not frames_in:
            parked = _unpark(kind, data, credential)
            if parked is not None:  # the answer is in this process's memory: no trip to the database
                answered = await _poll_parked(request, kind, data, parked)
                if answered is not None:
                    return answered
        verified_at = time.monotonic()
        mark = get_hub().clock  # before the first read: what the hub sees after it, the read may miss
        started: _Started = await on_db_thread(_start)(request, kind, endpoint, data)
        return await _poll(started, data, frames_in, mark=mark, credential=credential, verified_at=verified_at)
    except BadRequest as exc:
        return exc.response


async def _sender(request: HttpRequest, kind: str, data: dict[str, Any]) -> Session:
    """Who sends: a visitor verified here less than ``REVERIFY_SECONDS`` ago without a thread hop
    (the per-IP limit counted on the event loop), anyone else in a trip to the database thread."""
    session = _known_visitor(request, data) if kind == VISITOR else None
    if session is None:
        return (await on_db_thread(_start)(request, kind, "send", data)).session
    _renew_if_due(request, data)
    if not await within_limit_async(**_ip_limit(session, "send")):
        raise _rate_limited()
    return session


# Visitors whose verification is being renewed (``_renew``), so that a burst of sends starts one renewal.
_renewing: set[tuple[str, str]] = set()


def _renew_if_due(request: HttpRequest, data: dict[str, Any]) -> None:
    """Renew a known visitor's verification in the background once it is half ``REVERIFY_SECONDS``
    old, while their requests go on with it: a visitor who keeps sending is not verified on their
    sends' path (visitors who started together fell due together, and their sends waited for twenty
    verifications at once). One refused since is dropped by the renewal: refused within
    ``REVERIFY_SECONDS`` of the last verification, as before."""
    key = _visitor_key(request, data)
    known = _visitors.get(key) if key else None
    if key is None or known is None or key in _renewing or time.monotonic() - known[1] < REVERIFY_SECONDS / 2:
        return
    _renewing.add(key)
    # In a context of its own: it may outlive the request (and its request thread).
    asyncio.get_running_loop().create_task(_renew(key, request_own_origins(request)), context=contextvars.Context())


async def _renew(key: tuple[str, str], own_origins: set[str]) -> None:
    started = time.monotonic()
    try:
        session = await database_sync_to_async(visitor_session, thread_sensitive=False)(
            token=key[0], origin=key[1], own_origins=own_origins, connection_id=uuid.uuid4().hex,
            transport="longpoll", ip="", persistent=False,
        )
    except Refused:
        _visitors.pop(key, None)  # their next request is verified in full, and refused
    except Exception:  # noqa: BLE001 - the entry then expires as it would have: the next request verifies in full
        log.warning("renewing a visitor's verification failed", exc_info=True)
    else:
        if key in _visitors and _visitors[key][1] < started:
            _visitors[key] = (session.subject, started)
    finally:
        _renewing.discard(key)


async def _poll(
    started: _Started, data: dict[str, Any], frames_in: list[Any], *, mark: int, credential: str, verified_at: float
) -> HttpResponse:
    session, out = started.session, started.frames
    if data.get("cursor") is None:
        hello = data.get("hello") or {"type": "hello"}
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            raise BadRequest(400, "invalid_field", "hello must be a hello frame")
        try:
            out += await session.hello(hello)
        except FrameError as exc:
            raise BadRequest(400, exc.code, exc.detail) from None
        _beaten(session.connection_id)  # the hello's presence update counts as one
    elif started.beaten:
        _beaten(session.connection_id)  # here, not on the database thread: _beats is the event loop's
    for frame in frames_in:
        out += await session.receive_frame(frame, allowed=POLL_FRAMES)
    keep = _Keep(credential, verified_at)
    texts: list[str] = []
    if out:
        parked = await _park_answered(session, mark=mark, keep=keep)
    else:
        out, texts, parked = await _wait(session, mark=mark, keep=keep)
    return _answer_of(session, out, texts, parked)


def _answer_of(
    session: Session, frames: list[dict[str, Any]], texts: list[str], parked: _Parked | None
) -> HttpResponse:
    """A poll's answer: ``frames``, then ``texts`` (frames of an inbox batch, encoded once for every
    agent of the tenant in this process: pasted in, not encoded again), and the cursor."""
    metrics.frames_sent("longpoll", len(frames) + len(texts))
    cursor = encode_json(encode_cursor(_cursor_of(session, parked=parked)))
    body = ",".join([*map(encode_frame, frames), *texts])
    return HttpResponse(f'{{"frames":[{body}],"cursor":{cursor}}}', content_type="application/json")


def _resume(session: Session, state: CursorState, heartbeat: bool) -> tuple[list[dict[str, Any]], bool]:
    """The session as the cursor left it, what it is behind on, and whether presence was refreshed."""
    _restore(session, state)
    beaten = heartbeat and session.presence_now(presence.connection_heartbeat)
    return session.behind(), beaten


def _heartbeat_window() -> float:
    return min(
        settings.PRESENCE_HEARTBEAT_SECONDS,
        settings.PRESENCE_TTL_SECONDS - settings.LONGPOLL_TIMEOUT_SECONDS - 5,
    )


def _heartbeat_due(connection_id: str) -> bool:
    """Whether this poll must refresh its connection's presence (a Redis script and a query).

    A socket does it every ``PRESENCE_HEARTBEAT_SECONDS``; a poll used to do it every time. It is
    skipped when this process last did it (successfully) within that interval, or within less
    when a poll's wait would otherwise carry the gap past ``PRESENCE_TTL_SECONDS``. Another node
    has no entry and refreshes it (no sticky sessions). ``_beats`` is written on the event loop only
(read on the database thread).
    """
    last = _beats.get(connection_id)
    return last is None or time.monotonic() - last >= _heartbeat_window()


def _beaten(connection_id: str) -> None:
    """Note that this connection's presence was just refreshed."""
    now = time.monotonic()
    if len(_beats) >= _BEATS_MAX:
        window = _heartbeat_window()
        for key, at in list(_beats.items()):
            if now - at >= window:
                del _beats[key]
        if len(_beats) >= _BEATS_MAX:
            _beats.clear()
    _beats[connection_id] = now


def _restore(session: Session, state: CursorState) -> None:
    session.connection_id = state.connection_id
    log_context.bind(connection_id=state.connection_id)
    if session.inbox is not None:
        session.inbox.since = state.inbox_since
        session.inbox.recent = dict(state.inbox_recent)
        if state.inbox_frame in INBOX_FRAME_KINDS:
            session.inbox_frame = state.inbox_frame
    with scope(tenant=session.tenant):
        convs = Conversation.objects.filter(public_id__in=list(state.follows))
        if session.kind == VISITOR:
            convs = convs.filter(contact=session.contact)
        for pk, public_id in convs.values_list("pk", "public_id"):
            seen, sent = state.follows[public_id]
            session.follows[pk] = Follow(public_id, pk, seen, sent)


class _Waiter:
    """A poll as a subscriber of the loop's hub: wake-ups and resyncs go in its queue (also while
    its connection is parked between two polls). An agent's poll gets its tenant's inbox rows from
    the process's inbox feed (push/inbox_feed.py), as the agent sockets do: one ``InboxBatch`` per
    ``RT_INBOX_COALESCE_MS`` interval, not a wake-up per change."""

    __slots__ = ("events", "feed", "parked")

    def __init__(self) -> None:
        self.events: asyncio.Queue[dict[str, Any] | InboxBatch] = asyncio.Queue()
        self.parked: _Parked | None = None
        self.feed: InboxFeed | None = None  # the feed it joined instead of the inbox group

    def wake(self, event: dict[str, Any]) -> None:
        self._put(event)

    def inbox_batch(self, batch: InboxBatch) -> None:
        self._put(batch)

    def _put(self, item: dict[str, Any] | InboxBatch) -> None:
        if self.parked is not None and self.events.qsize() >= PARKED_EVENTS_MAX:
            self.parked.drop()  # too much to keep for a client that may not come back: it reads the database
            return
        self.events.put_nowait(item)

    def resync(self) -> None:
        self.events.put_nowait(_RESYNC)


def _feed_for(hub: Hub, session: Session) -> InboxFeed | None:
    """The process's inbox feed of an agent's tenant (None: a visitor, or rows are not paced)."""
    interval = settings.RT_INBOX_COALESCE_MS / 1000
    if session.inbox is None or interval <= 0:
        return None
    return feed_of(hub, group=session.own_group(), tenant_id=session.tenant.pk, interval=interval,
                   scheduler=Timers.of_running_loop())


async def _join(hub: Hub, session: Session, groups: set[str], waiter: _Waiter) -> None:
    """``waiter`` listens to ``groups``: the inbox group through the tenant's feed, the rest on the hub."""
    feed = _feed_for(hub, session)
    if feed is not None and feed.group in groups:
        waiter.feed = feed
        await feed.join(waiter)
        groups = groups - {feed.group}
    await hub.join(groups, waiter)


def _leave(hub: Hub, groups: set[str], waiter: _Waiter) -> None:
    feed, waiter.feed = waiter.feed, None
    if feed is not None:
        feed.leave(waiter)
        groups = groups - {feed.group}
    hub.leave(groups, waiter)


_RESYNC: dict[str, Any] = {"type": "_resync"}


async def _on_wake(
    session: Session, event: dict[str, Any] | InboxBatch, batches: list[InboxBatch]
) -> list[dict[str, Any]]:
    """The frames of one item of a waiter's queue; an inbox batch with rows this client lacks goes
    in ``batches`` (framed when the answer is complete: ``_inbox_texts``)."""
    if isinstance(event, InboxBatch):
        assert session.inbox is not None  # only agents' waiters join a feed
        if event.has_fresh(session.inbox):
            batches.append(event)
        return []
    if event is draining.DRAIN_EVENT:
        return []
    if event is _RESYNC:
        return await on_db_thread(session.behind)()
    return await session.on_event(event)


async def _wait(
    session: Session, *, mark: int, keep: _Keep, parked: _Parked | None = None
) -> tuple[list[dict[str, Any]], list[str], _Parked | None]:
    """Wait on the hub for something this client should get, up to the timeout; the frames, the
    inbox frames' texts, and the connection parked until its next poll (None: that poll starts afresh).

    The hub listens to each group once for all of this process's polls and stays in it a while
    after the last one left (``REALTIME_BUS_LINGER_SECONDS``): a client's next poll normally follows
    at once. A wake-up that comes while no poll of that client waits and the client is not parked
    here is not kept: the client's next poll reads the database after its cursor.

    ``parked``: the connection as its previous poll left it, listening ever since; what reached it
    meanwhile is in its queue, so nothing is read again.
    """
    hub = get_hub()
    if parked is None:
        groups, waiter = session.groups(), _Waiter()
    else:
        groups, waiter = parked.groups, parked.waiter
    events = waiter.events
    draining.polls.add(events)
    answered: _Parked | None = None
    metrics.poll_waiting(session.kind, 1)
    try:
        if parked is None:
            await _join(hub, session, groups, waiter)
            if not hub.reachable():
                # Nothing to answer from the database (the caller read it), and no wake-up can come.
                log.warning("long-poll cannot wait: the wake-up bus is unreachable")
                raise Unavailable("Live updates are briefly unavailable; poll again after Retry-After")
            # Read again now that we listen: a change between the first read and the joins would
            # otherwise wait for the next poll. Not needed when every group was already subscribed
            # (a previous poll's, lingering) before the first read began (``mark``) and no wake-up
            # reached them since: such a change would have reached the hub.
            out = [] if hub.quiet_since(groups, mark) else await on_db_thread(session.behind)()
        else:
            out = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.LONGPOLL_TIMEOUT_SECONDS
        batches: list[InboxBatch] = []
        while not out and not batches:
            remaining = deadline - loop.time()
            if remaining <= 0 or draining.draining:  # the node is stopping: answer now, poll elsewhere
                break
            global idle_polls
            idle_polls += 1
            try:
                event = await asyncio.wait_for(events.get(), remaining)
            except TimeoutError:
                break
            finally:
                idle_polls -= 1
            out = await _on_wake(session, event, batches)
        # Wake-ups that came in meanwhile go in the same answer, not each in a poll of its own.
        while (out or batches) and not events.empty():
            out += await _on_wake(session, events.get_nowait(), batches)
        texts = _inbox_texts(session, batches)
        if out or texts:
            # Nothing awaited since the queue was found empty: every wake-up so far is in the answer.
            answered = _park(hub, session, waiter, groups, keep)
        return _latest_rows(out), texts, answered
    finally:
        metrics.poll_waiting(session.kind, -1)
        draining.polls.discard(events)
        if answered is None:
            _leave(hub, groups, waiter)


def _inbox_texts(session: Session, batches: list[InboxBatch]) -> list[str]:
    """The inbox frames of the batches that reached an answer: each conversation once, its latest
    row, as the client asked (``hello.inbox_frame``); one batch's texts are those every agent
    connection of the tenant behind its rows gets."""
    if not batches:
        return []
    assert session.inbox is not None
    return InboxBatch.joined(batches).texts_for(session.inbox, kind=session.inbox_frame,
                                                limit=settings.RT_FRAME_MAX_BYTES)


async def _poll_parked(
    request: HttpRequest, kind: str, data: dict[str, Any], parked: _Parked
) -> HttpResponse | None:
    """A poll of a parked connection: what reached it since its last answer, else wait as usual.

    When its identity was verified ``REVERIFY_SECONDS`` ago or more, or its presence is due for a
    refresh, one trip to the database does just that (``_recheck``) and the connection goes on
    from memory: what reached it meanwhile is not read again. None: that trip found another
    subject behind the credentials (the poll is served in full).
    """
    session = parked.session
    log_context.bind(tenant=session.tenant.public_id, connection_id=session.connection_id)
    identity = time.monotonic() - parked.keep.verified_at >= REVERIFY_SECONDS
    heartbeat = _heartbeat_due(session.connection_id)
    if identity or heartbeat:
        verified_at = time.monotonic()
        try:
            fresh, beaten = await on_db_thread(_recheck)(request, kind, data, session, identity, heartbeat)
        except BaseException:
            _leave(get_hub(), parked.groups, parked.waiter)  # refused: nobody holds it any more
            raise
        if beaten:
            _beaten(session.connection_id)
        if fresh is not None:
            if not _same_subject(session, fresh):
                _leave(get_hub(), parked.groups, parked.waiter)
                return None
            _adopt(session, fresh)
            parked.keep.verified_at = verified_at
    elif time.monotonic() - parked.keep.verified_at >= REVERIFY_SECONDS / 2 and not parked.keep.checking:
        parked.keep.checking = True
        # In a context of its own: it may outlive this request (and its request thread).
        asyncio.get_running_loop().create_task(
            _check_ahead(request, kind, data, session, parked.keep), context=contextvars.Context())
    out, texts, again = await _wait(session, mark=0, keep=parked.keep, parked=parked)
    return _answer_of(session, out, texts, again)


def _recheck(
    request: HttpRequest, kind: str, data: dict[str, Any], session: Session, identity: bool, heartbeat: bool
) -> tuple[Session | None, bool]:
    """On the database thread, for a parked connection: who is asking now, checked and counted as
    ``_start`` does (refusals raise ``BadRequest``), when ``identity`` is due; the presence refresh
    when ``heartbeat`` is. The fresh session (None if not checked), and whether presence was refreshed."""
    fresh = _who(request, kind, "poll", data) if identity else None
    if fresh is not None and not _same_subject(session, fresh):
        return fresh, False
    return fresh, heartbeat and session.presence_now(presence.connection_heartbeat)


async def _check_ahead(request: HttpRequest, kind: str, data: dict[str, Any], session: Session, keep: _Keep) -> None:
    """The identity check of a parked connection, made in the background once half ``REVERIFY_SECONDS``
    old while its polls go on from memory: connections opened together fall due together, and
    their polls then waited for all the checks at once. Refused (or another subject, or the per-IP
    limit reached), the connection's next poll is served in full and answers accordingly."""
    started = time.monotonic()
    try:
        fresh, _ = await database_sync_to_async(_recheck, thread_sensitive=False)(
            request, kind, data, session, True, False)
    except BadRequest:
        keep.refused = True
    except Exception:  # noqa: BLE001 - unchecked, the poll due at REVERIFY_SECONDS checks in its own trip
        log.warning("checking a parked long-poll's identity failed", exc_info=True)
    else:
        if fresh is None or not _same_subject(session, fresh):
            keep.refused = True
        else:
            _adopt(session, fresh)
            keep.verified_at = max(keep.verified_at, started)
    finally:
        keep.checking = False


def _same_subject(session: Session, fresh: Session) -> bool:
    return (fresh.kind, fresh.tenant.pk, fresh.subject_id) == (session.kind, session.tenant.pk, session.subject_id)


def _adopt(session: Session, fresh: Session) -> None:
    """The rows just read for the same subject replace those the connection held (a change of the
    tenant's settings or of the subject is seen as a fresh poll would see it)."""
    session.tenant, session.contact, session.membership = fresh.tenant, fresh.contact, fresh.membership
    if session.inbox is not None:
        session.inbox.tenant = fresh.tenant


# --- parked connections --------------------------------------------------------------------------
# After answering, a poll's connection stays in this process, still listening to its groups, until
# its next poll comes (normally at once) or PARKED_SECONDS pass. That poll, if it carries the
# cursor of that answer, the same credentials and no frames, is answered from the process's memory:
# no trip to the database thread, no query — what reached the connection meanwhile is in its queue.
# Its identity was verified at most REVERIFY_SECONDS ago (a signed-out agent or a blocked visitor
# is refused within that, as a socket would be at its next reconnect); after that, or when its
# presence is due for a refresh, the poll makes one trip for just that (``_recheck``: who is asking,
# the per-IP limit, the heartbeat) and goes on from memory. (It used to be served in full: a restore
# and a catch-up, two trips, for every connection at once, since connections opened together fall
# due together.)
PARKED_SECONDS = 10.0
REVERIFY_SECONDS = 10.0
PARKED_EVENTS_MAX = 200  # wake-ups kept for a parked connection; beyond, its next poll reads the database
PARKED_MAX = 20_000  # parked connections per event loop


@dataclass(eq=False)
class _Keep:
    """What a parked connection must be presented with again: the credentials, and when they were
    verified. One object for the connection's whole run of parked polls (``_check_ahead`` updates it)."""

    credential: str
    verified_at: float
    checking: bool = False  # a check ahead of time is under way
    refused: bool = False  # it found the credentials refused (or another subject): serve the next poll in full


@dataclass(eq=False)
class _Parked:
    # The hub weakly, and its expiry timer not at all (the loop holds it; once the connection is
    # taken over or parked anew it finds nothing to drop): the table of parked connections is
    # weakly keyed by the hub, and a value holding the hub or its loop would keep both alive.
    hub: weakref.ref[Hub]
    session: Session
    waiter: _Waiter
    groups: set[str]
    keep: _Keep
    id: str = field(default_factory=lambda: secrets.token_hex(8))

    def drop(self) -> None:
        """Stop holding this connection (its next poll is served in full)."""
        hub = self.hub()
        if hub is None:
            return
        table = _parked_of(hub)
        if table.get(self.session.connection_id) is self:
            del table[self.session.connection_id]
        self.release()

    def release(self) -> None:
        """Stop listening for it."""
        hub = self.hub()
        if self.waiter.parked is self and hub is not None:
            self.waiter.parked = None
            _leave(hub, self.groups, self.waiter)


_parked: weakref.WeakKeyDictionary[Hub, dict[str, _Parked]] = weakref.WeakKeyDictionary()


def _parked_of(hub: Hub) -> dict[str, _Parked]:
    table = _parked.get(hub)
    if table is None:
        table = _parked[hub] = {}
    return table


def _park(hub: Hub, session: Session, waiter: _Waiter, groups: set[str], keep: _Keep) -> _Parked | None:
    """Hold the connection (still a member of ``groups``) until its next poll; None when it cannot
    be held: the node is draining, the session now needs other groups, or one of them failed to
    subscribe. Call it with nothing awaited since the waiter's queue was last found empty."""
    if draining.draining or session.groups() != groups or not all(g in hub.active_at for g in groups):
        return None
    table = _parked_of(hub)
    old = table.pop(session.connection_id, None)
    if old is not None:
        old.release()
    if len(table) >= PARKED_MAX:
        return None
    parked = table[session.connection_id] = _Parked(weakref.ref(hub), session, waiter, groups, keep)
    waiter.parked = parked
    hub.loop.call_later(PARKED_SECONDS, parked.drop)
    return parked


async def _park_answered(session: Session, *, mark: int, keep: _Keep) -> _Parked | None:
    """Park a connection answered without waiting, if every group it needs is subscribed already.

    When something reached a group since the answer's read began (``mark``), the answer may lack it:
    a resync waits in the queue, so the next poll reads after this answer (one trip) instead of
    being served in full. (Not parking it made that poll a full one, whose answer was again read
    while messages came in: under load an agent's polls stayed full polls, message after message.)
    """
    hub = get_hub()
    groups = session.groups()
    if not hub.reachable() or not all(group in hub.active_at for group in groups):
        return None  # joining would wait for a subscription: the next poll starts afresh
    waiter = _Waiter()
    # Every group is subscribed already, so this join awaits nothing: no wake-up slips in between.
    await _join(hub, session, groups, waiter)
    if not hub.quiet_since(groups, mark):
        waiter.resync()
    parked = _park(hub, session, waiter, groups, keep)
    if parked is None:
        _leave(hub, groups, waiter)
    return parked


def _credential(request: HttpRequest, kind: str, data: dict[str, Any]) -> str:
    """What authenticated the request: the visitor's token and Origin, or the agent's session cookie."""
    if kind == VISITOR:
        token = data.get("token")
        return f"{token if isinstance(token, str) else ''}\n{request.headers.get('Origin', '')}"
    return request.COOKIES.get(settings.SESSION_COOKIE_NAME, "")


def _unpark(kind: str, data: dict[str, Any], credential: str) -> _Parked | None:
    """The parked connection this poll continues, if it may be answered from memory (else None:
    the poll is served in full, which also reports a bad cursor)."""
    if data.get("hello") is not None or draining.draining:
        return None
    try:
        state = load_cursor(data.get("cursor"))
    except CursorInvalid:
        return None
    if state.parked is None:
        return None
    hub = get_hub()
    table = _parked_of(hub)
    parked = table.get(state.connection_id)
    if parked is None or not hmac.compare_digest(parked.id, state.parked):
        return None
    session = parked.session
    if (
        (state.kind, state.tenant, state.subject) != (kind, session.tenant.public_id, session.subject_public_id)
        or not hmac.compare_digest(parked.keep.credential.encode(), credential.encode())
        or not hub.reachable()
    ):
        return None
    if parked.keep.refused:
        parked.drop()  # nobody may continue it
        return None
    del table[state.connection_id]
    parked.waiter.parked = None  # a poll's waiter again (and still a member of its groups)
    return parked


def _latest_rows(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ``conversation`` frame per conversation in an answer: the last (latest) one, in its place."""
    last: dict[Any, int] = {}
    for i, frame in enumerate(frames):
        if frame.get("type") == "conversation":
            last[frame["conversation"].get("id")] = i
    if len(last) == sum(1 for f in frames if f.get("type") == "conversation"):
        return frames
    return [
        f for i, f in enumerate(frames) if f.get("type") != "conversation" or last[f["conversation"].get("id")] == i
    ]


def _cursor_of(session: Session, *, parked: _Parked | None = None) -> CursorState:
    return CursorState(
        kind=session.kind, tenant=session.tenant.public_id, subject=session.subject_public_id,
        connection_id=session.connection_id,
        follows={f.public_id: [f.seen, f.sent] for f in session.follows.values()},
        inbox_since=session.inbox.since if session.inbox else None,
        inbox_recent=session.inbox.recent if session.inbox else {},
        parked=parked.id if parked is not None else None,
        inbox_frame=session.inbox_frame if session.inbox is not None and session.inbox_frame != SINGLE else None,
    )
