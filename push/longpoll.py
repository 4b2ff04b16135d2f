"""Long-poll transport: the same frames as the sockets, over plain HTTP POSTs (docs/protocol.md).

``send`` answers at once with acks/errors. ``poll`` rebuilds the client's Session from its signed
cursor (so any node can answer), returns at once when the client is behind, and otherwise waits
on the channel layer for up to ``LONGPOLL_TIMEOUT_SECONDS``. Errors of the request itself are
``{"error": {"code", "detail"}}`` with an HTTP status; errors of single frames are ``error`` frames.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from push.cursor import CursorInvalid, CursorState, decode_cursor, encode_cursor
from push.protocol import AGENT, VISITOR, Follow, FrameError, Refused, Session, open_visitor
from push.ratelimit import within_limit
from support.models import Conversation

SEND_FRAMES = {"send", "typing", "read", "presence", "ping"}
# Polls of this process that are waiting with nothing to do (an operations gauge; tests wait
# for it instead of sleeping).
idle_polls = 0
POLL_FRAMES = {"subscribe", "unsubscribe", "ping"}


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "detail": detail}}, status=status)


class BadRequest(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.response = error_response(status, code, detail)


def client_ip(request: HttpRequest) -> str:
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def own_origins(request: HttpRequest) -> set[str]:
    return {settings.SITE_URL, f"{request.scheme}://{request.get_host()}"}


def read_json(request: HttpRequest, *, limit: int | None = None) -> dict[str, Any]:
    body = request.body
    if len(body) > (limit or settings.RT_LONGPOLL_BODY_MAX_BYTES):
        raise BadRequest(413, "too_large", "The request body is too large")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise BadRequest(400, "bad_json", "The body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "bad_json", "The body must be a JSON object")
    return data


def _frames(data: dict[str, Any]) -> list[Any]:
    frames = data.get("frames", [])
    if not isinstance(frames, list):
        raise BadRequest(400, "invalid_field", "frames must be a list")
    if len(frames) > settings.RT_LONGPOLL_FRAMES_MAX:
        raise BadRequest(413, "too_large", f"At most {settings.RT_LONGPOLL_FRAMES_MAX} frames per request")
    return frames


async def _visitor_session(request: HttpRequest, data: dict[str, Any]) -> Session:
    try:
        return await open_visitor(
            token=data.get("token"), origin=request.headers.get("Origin"), own_origins=own_origins(request),
            connection_id=uuid.uuid4().hex, transport="longpoll", ip=client_ip(request), persistent=False,
        )
    except Refused as exc:
        raise BadRequest(exc.http_status, exc.code, exc.detail) from None


async def _agent_session(request: HttpRequest) -> Session:
    # TenantScopeMiddleware resolved the membership from the login session (and its tenant choice).
    membership = getattr(request, "membership", None)
    if membership is None:
        raise BadRequest(401, "unauthenticated", "Sign in first")
    return Session(
        kind=AGENT, tenant=membership.tenant, membership=membership, connection_id=uuid.uuid4().hex,
        transport="longpoll", ip=client_ip(request), persistent=False,
    )


async def _handle(request: HttpRequest, kind: str, endpoint: str) -> JsonResponse:
    try:
        return await _answer(request, kind, endpoint)
    finally:
        # Django runs an HTTP request's sync work on a thread of its own that ends with the
        # request. A connection that thread kept open (DB_CONN_MAX_AGE > 0) would linger until
        # garbage collection: under load that exhausted PostgreSQL's connection slots ("too many
        # clients", 500s on polls). Close it here, in that thread.
        await sync_to_async(connections.close_all)()


async def _answer(request: HttpRequest, kind: str, endpoint: str) -> JsonResponse:
    try:
        data = read_json(request)
        session = await (_visitor_session(request, data) if kind == VISITOR else _agent_session(request))
        if not within_limit(
            tenant_key=session.tenant.public_id, name=f"{endpoint}.ip", subject=session.ip,
            limit=settings.RT_IP_POLLS_PER_MINUTE,
        ):
            raise BadRequest(429, "rate_limited", "Too many requests; slow down")
        if endpoint == "send":
            out: list[dict[str, Any]] = []
            for frame in _frames(data):
                out += await session.receive_frame(frame, allowed=SEND_FRAMES)
            return JsonResponse({"frames": out})
        return JsonResponse(await _poll(session, data))
    except BadRequest as exc:
        return exc.response


async def _poll(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    frames_in = _frames(data)
    cursor = data.get("cursor")
    out: list[dict[str, Any]] = []
    if cursor is None:
        hello = data.get("hello") or {"type": "hello"}
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            raise BadRequest(400, "invalid_field", "hello must be a hello frame")
        try:
            out += await session.hello(hello)
        except FrameError as exc:
            raise BadRequest(400, exc.code, exc.detail) from None
    else:
        try:
            state = decode_cursor(cursor, kind=session.kind, tenant=session.tenant.public_id,
                                  subject=session.subject_public_id)
        except CursorInvalid as exc:
            raise BadRequest(400, "bad_cursor", f"{exc}; start again with cursor null and a hello") from None
        await database_sync_to_async(_restore)(session, state)
        await session.heartbeat()
        out += await _refresh(session)
    for frame in frames_in:
        out += await session.receive_frame(frame, allowed=POLL_FRAMES)
    if not out:
        out = await _wait(session)
    return {"frames": out, "cursor": encode_cursor(_cursor_of(session))}


def _restore(session: Session, state: CursorState) -> None:
    session.connection_id = state.connection_id
    session.inbox_since = state.inbox_since
    session.inbox_recent = dict(state.inbox_recent)
    with scope(tenant=session.tenant):
        convs = Conversation.objects.filter(public_id__in=list(state.follows))
        if session.kind == VISITOR:
            convs = convs.filter(contact=session.contact)
        for pk, public_id in convs.values_list("pk", "public_id"):
            seen, sent = state.follows[public_id]
            session.follows[pk] = Follow(public_id, pk, seen, sent)


async def _refresh(session: Session) -> list[dict[str, Any]]:
    """What the client is behind on: new conversations (visitor), inbox changes (agent), messages."""
    if session.kind == VISITOR:
        return await session.on_event({"type": "contact.changed"}) + await session.catch_up(
            list(session.follows.values())
        )
    inbox, complete = await database_sync_to_async(session.inbox_catch_up)(session.inbox_since)
    frames = [session.conversation_frame(c) for c in inbox]
    if not complete:
        frames.append({"type": "inbox_resync"})
    return frames + await session.catch_up(list(session.follows.values()))


async def _wait(session: Session) -> list[dict[str, Any]]:
    """Wait on the channel layer for something this client should get, up to the timeout."""
    layer = get_channel_layer()
    if layer is None:
        await asyncio.sleep(settings.LONGPOLL_TIMEOUT_SECONDS)
        return []
    channel = await layer.new_channel()
    groups = session.groups()
    events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump() -> None:
        while True:
            events.put_nowait(await layer.receive(channel))

    reader = asyncio.create_task(pump())
    try:
        for group in groups:
            await layer.group_add(group, channel)
        # Read again now that we listen: a change between the first read and the joins would
        # otherwise wait for the next poll.
        out = await _refresh(session)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + settings.LONGPOLL_TIMEOUT_SECONDS
        while not out:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            global idle_polls
            idle_polls += 1
            try:
                event = await asyncio.wait_for(events.get(), remaining)
            except TimeoutError:
                break
            finally:
                idle_polls -= 1
            out = await session.on_event(event)
        return out
    finally:
        # Cancelling the reader is what makes pub/sub layers unsubscribe the channel.
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        for group in groups:
            await layer.group_discard(group, channel)


def _cursor_of(session: Session) -> CursorState:
    return CursorState(
        kind=session.kind, tenant=session.tenant.public_id, subject=session.subject_public_id,
        connection_id=session.connection_id,
        follows={f.public_id: [f.seen, f.sent] for f in session.follows.values()},
        inbox_since=session.inbox_since, inbox_recent=session.inbox_recent,
    )


@csrf_exempt  # token-authenticated, no cookies: nothing for a cross-site request to ride on
@require_POST
async def visitor_send(request: HttpRequest) -> JsonResponse:
    return await _handle(request, VISITOR, "send")


@csrf_exempt
@require_POST
async def visitor_poll(request: HttpRequest) -> JsonResponse:
    return await _handle(request, VISITOR, "poll")


@require_POST
async def agent_send(request: HttpRequest) -> JsonResponse:
    return await _handle(request, AGENT, "send")


@require_POST
async def agent_poll(request: HttpRequest) -> JsonResponse:
    return await _handle(request, AGENT, "poll")
