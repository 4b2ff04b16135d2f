"""The four long-poll endpoints (``POST /rt/{visitor,agent}/{send,poll}``) as an ASGI app in front of Django.

Django's middleware chain cost more CPU than the polls themselves. This app does only what these
JSON endpoints need: the method, the host (``ALLOWED_HOSTS``), HTTPS, the body limit, the agents'
CSRF check and login session, the security headers. The protocol is push/longpoll.py's; every
other request goes to Django (docs/architecture.md, "Long-poll path").
"""
from __future__ import annotations

import io
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.core.signals import setting_changed
from django.db import connections
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware

from push import longpoll
from push.agent_auth import cookie_headers, csrf_passes, set_renewed_cookie
from push.json_body import NotJson, error_response, sends_json
from push.protocol import AGENT, VISITOR, on_db_thread

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]  # Django's handler types its arguments a little differently

ROUTES: dict[str, tuple[str, str]] = {
    "/rt/visitor/send": (VISITOR, "send"),
    "/rt/visitor/poll": (VISITOR, "poll"),
    "/rt/agent/send": (AGENT, "send"),
    "/rt/agent/poll": (AGENT, "poll"),
}


def _unused(request: HttpRequest) -> HttpResponse:  # pragma: no cover - only response hooks are used
    raise AssertionError("only the response hooks of these middlewares run here")


class _Hooks:
    """Their process_response hooks add what matters for a JSON answer: HSTS over HTTPS, the
    Referrer-Policy, Cross-Origin-Opener-Policy, X-Frame-Options. They read settings when built."""

    def __init__(self) -> None:
        self.security = SecurityMiddleware(_unused)
        self.frame_options = XFrameOptionsMiddleware(_unused)


_hooks = _Hooks()


@receiver(setting_changed)
def _rebuild_hooks(**kwargs: Any) -> None:  # tests override settings
    global _hooks
    _hooks = _Hooks()


class _Disconnected(Exception):
    """The client went away before its request body was complete: nobody to answer."""


class LongPollApp:
    """Serves ``ROUTES`` itself and hands every other HTTP request (and lifespan) to ``django``."""

    def __init__(self, *, django: ASGIApp) -> None:
        self.django = django

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = ROUTES.get(_path(scope)) if scope["type"] == "http" else None
        if route is None:
            await self.django(scope, receive, send)
            return
        try:
            request, response = await _answer(scope, receive, kind=route[0], endpoint=route[1])
        except _Disconnected:
            return
        await _send(send, _with_headers(request, response))


def _path(scope: Scope) -> str:
    path: str = scope.get("path", "")
    root = scope.get("root_path", "")
    return path.removeprefix(root) if root else path


async def _answer(scope: Scope, receive: Receive, *, kind: str, endpoint: str) -> tuple[HttpRequest, HttpResponse]:
    too_large = False
    body = b""
    if scope["method"] == "POST":
        body, too_large = await _read_body(scope, receive, limit=settings.RT_LONGPOLL_BODY_MAX_BYTES)
    request = ASGIRequest(scope, io.BytesIO(body))
    try:
        request.get_host()  # ALLOWED_HOSTS, as Django checks every request
    except DisallowedHost:
        return request, error_response(400, "bad_host", "This host is not served here")
    if request.method != "POST":
        response = error_response(405, "method_not_allowed", "Use POST")
        response["Allow"] = "POST"
        return request, response
    if settings.SECURE_SSL_REDIRECT and not request.is_secure():
        # Django would redirect; a redirected POST loses its body or its method, and the
        # credentials already crossed in clear. Redirecting http to https is the proxy's job.
        return request, error_response(403, "https_required", "Use https")
    if too_large:
        return request, error_response(413, "too_large", "The request body is too large")
    if not sends_json(request):
        # Before the CSRF check, which would otherwise parse a form or multipart body.
        return request, NotJson().response
    if kind == AGENT:
        if not csrf_passes(request):
            return request, error_response(
                403, "csrf_failed", "CSRF check failed: send the csrftoken cookie's value as X-CSRFToken "
                "from a page of this site")
    thread = _Borrowed()
    try:
        # As Django does per request: the request's database work runs on a thread of its own, so
        # concurrent requests (sends, restores) do not queue one by one on the process's database
        # thread. The thread is one of a reusable set, not started for the request, and borrowed
        # only by a request that makes a trip: a poll answered from memory, or a known visitor's
        # send, takes none.
        async with ThreadSensitiveContext(executor=thread):
            try:
                return request, await longpoll.answer(request, kind=kind, endpoint=endpoint)
            finally:
                if thread.executor is not None and any(db.get("CONN_MAX_AGE") for db in settings.DATABASES.values()):
                    # A connection that thread kept open (DB_CONN_MAX_AGE > 0, no pool) would linger
                    # and exhaust PostgreSQL's slots under load: close it there. With the pool
                    # (CONN_MAX_AGE 0) each trip already returned it.
                    await on_db_thread(connections.close_all)()
    except Exception:
        log.exception("long-poll %s %s failed", kind, endpoint)
        return request, longpoll.internal_error()
    finally:
        thread.give_back()


class _Threads:
    """Single-thread executors for the requests' database work, handed from request to request.

    A thread started per request cost a thread start on the event loop (and a hand-over of the GIL
    to the new thread) every time. A request borrows one for its duration (a trip still running
    when it is given back only delays the next borrower's first trip); more are started when all are
    lent, and at most ``keep`` idle ones are kept.
    """

    def __init__(self, *, keep: int) -> None:
        self.keep = keep
        self.idle: list[ThreadPoolExecutor] = []

    def take(self) -> ThreadPoolExecutor:
        return self.idle.pop() if self.idle else ThreadPoolExecutor(max_workers=1, thread_name_prefix="longpoll")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        if len(self.idle) < self.keep:
            self.idle.append(executor)
        else:
            executor.shutdown(wait=False)


_threads = _Threads(keep=16)


class _Borrowed(Executor):
    """A request's database thread: one of ``_threads``, taken at the request's first trip there."""

    def __init__(self) -> None:
        self.executor: ThreadPoolExecutor | None = None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if self.executor is None:
            self.executor = _threads.take()
        return self.executor.submit(fn, *args, **kwargs)

    def give_back(self) -> None:
        if self.executor is not None:
            _threads.give_back(self.executor)
            self.executor = None


async def _read_body(scope: Scope, receive: Receive, *, limit: int) -> tuple[bytes, bool]:
    """The request body, or ``(b"", True)`` as soon as it is known to exceed ``limit`` (the rest is not read)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return b"", True
            except ValueError:
                pass
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _with_headers(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    response = _hooks.security.process_response(request, response)
    response = _hooks.frame_options.process_response(request, response)
    response["X-Content-Type-Options"] = "nosniff"  # every answer, not only where SECURE_CONTENT_TYPE_NOSNIFF
    response["Cache-Control"] = "no-store"  # an answer is one client's, once
    session = getattr(request, "session", None)  # an agent's, once their request read it
    if session is not None:
        # Its key changes when the session was verified by a fallback secret: the browser needs the new one.
        set_renewed_cookie(response, request.COOKIES.get(settings.SESSION_COOKIE_NAME), session)
    return response


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    headers += cookie_headers(response)
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": response.content})
