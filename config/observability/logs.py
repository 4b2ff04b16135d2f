"""Logs an operator can search: each line names its request or task (``request_id``), its realtime
connection (``connection_id``) and the tenant's public id (``tenant``), from web, worker and beat.

- ``LOG_FORMAT=json`` writes one JSON object per line (python-json-logger); the default ``plain``
  stays human-readable. Both get the ids from ``ContextFilter`` (support/log_context.py holds them).
- ``LogContextApp`` wraps the HTTP application: a context per request, an ``X-Request-ID`` on
  every answer, and the access log — method, path without its query string (tokens travel there)
  and without the secret of emailed links, status and duration, never a header or a body.
- ``SocketLog`` is the same for a WebSocket, begun and ended by the socket app itself
  (push/consumers.py, push/routing.py): a wrapper awaiting the app would keep its frame alive for
  as long as the socket is open.
- The code that learns who a request is for names the tenant: support/middleware.py (a signed-in
  member), support/api/authentication.py (an API token), push/protocol/session.py (a realtime session).
- ``connect_celery`` makes worker and beat log through the same configuration (Django's ``LOGGING``)
  and gives every task a context whose id is the task id.
"""
from __future__ import annotations

import logging
import logging.config
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import Token
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

from support import log_context

Scope = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]

access_log = logging.getLogger("switchboard.access")

# An id the proxy sent (nginx: proxy_set_header X-Request-ID $request_id) is kept if it looks like one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Probes and scrapes are logged at DEBUG only: every few seconds from every checker.
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
CONTEXT_FIELDS = ("request_id", "connection_id", "tenant")
UNLOGGED_EXTRAS = ("request", "scope")
# Paths whose rest is a secret (emailed links): sign-up, password reset, invitation, a visitor's
# conversation link. Logged as the prefix alone, in the access log and in Django's request warnings.
SECRET_PATH_PREFIXES = (
    "/accounts/signup/finish/", "/accounts/password/reset/", "/accounts/invite/", "/notifications/c/",
)


def redact_path(path: str) -> str:
    for prefix in SECRET_PATH_PREFIXES:
        if path.startswith(prefix) and len(path) > len(prefix):
            return prefix + "[redacted]"
    return path


class ContextFilter(logging.Filter):
    """Adds the current work's ids to every record (None outside any request, socket or task), and
    hides the secret part of the paths in ``SECRET_PATH_PREFIXES`` that a message's arguments name."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = log_context.current()
        record.request_id = context.request_id if context else None
        record.connection_id = context.connection_id if context else None
        record.tenant = context.tenant if context else None
        if isinstance(record.args, tuple) and any(type(a) is str and a.startswith(SECRET_PATH_PREFIXES)
                                                  for a in record.args):
            record.args = tuple(redact_path(a) if type(a) is str else a for a in record.args)
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context ids,
    any ``extra`` fields, and the traceback as ``exc_info`` when there is one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", ["levelname", "name", "message", *CONTEXT_FIELDS])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        # Django passes the request (and Channels the scope) as ``extra``: their text shows the
        # query string, where tokens travel. The path is in the message already.
        for key in UNLOGGED_EXTRAS:
            log_data.pop(key, None)
        task = log_data.get("data")
        if isinstance(task, dict) and ("args" in task or "kwargs" in task):
            # Celery's task lines: the id, name and runtime, not the arguments.
            log_data["data"] = {k: v for k, v in task.items() if k not in ("args", "kwargs")}


def _request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return _valid_id(value.decode("latin-1"))
    return None


def _valid_id(text: str | None) -> str | None:
    return text if text and _REQUEST_ID.fullmatch(text) else None


class LogContextApp:
    """ASGI middleware for HTTP: the log context of each request, its ``X-Request-ID`` and the access
    log. Other scopes pass through (a socket app keeps its own ``SocketLog``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = log_context.begin(request_id=_request_id(scope))
        request_id = log_context.current().request_id  # type: ignore[union-attr]
        started = time.monotonic()
        status: list[int] = []

        async def send_with_id(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _log_access(scope, status=status[0] if status else None, seconds=time.monotonic() - started)
            log_context.end(token)


class SocketLog:
    """A WebSocket's log context (its request id, then its connection and tenant once bound) and the
    access-log line when it ends, as ``LogContextApp`` gives a request. Made at the start of the socket
    app's coroutine and ended in its ``finally``: in the socket's own task, so every line of the socket
    and what its task starts carries the ids, and no wrapper frame lives as long as the socket."""

    __slots__ = ("path", "started", "token")

    def __init__(self, scope: Scope) -> None:
        self.token = log_context.begin(request_id=_request_id(scope))
        self.started = time.monotonic()
        self.path: str = scope.get("path", "")  # not the scope: the socket lets it go after its hello

    def end(self) -> None:
        try:
            _log_socket_end(self.path, seconds=time.monotonic() - self.started)
        finally:
            log_context.end(self.token)


def _log_access(scope: Scope, *, status: int | None, seconds: float) -> None:
    path = redact_path(scope.get("path", ""))
    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    duration_ms = round(seconds * 1000, 1)
    method = scope.get("method", "")
    access_log.log(level, "%s %s %s %.1f ms", method, path, status or "-", duration_ms,
                   extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms})


def _log_socket_end(path: str, *, seconds: float) -> None:
    path = redact_path(path)
    level = logging.DEBUG if path in QUIET_PATHS else logging.INFO
    if access_log.isEnabledFor(level):
        access_log.log(level, "WS %s ended after %.1f s", path, seconds,
                       extra={"path": path, "duration_ms": round(seconds * 1000, 1)})


# --- Celery ---------------------------------------------------------------------------------------
_task_tokens: dict[str, Token[log_context.LogContext | None]] = {}


def connect_celery() -> None:
    """Worker and beat log through Django's ``LOGGING`` (not Celery's own format), and each task
    runs in a log context whose ``request_id`` is the task id (tenants are named by the code that
    serves them: the outbox dispatcher, webhook delivery)."""
    from celery import signals

    signals.setup_logging.connect(_configure_logging, weak=False, dispatch_uid="switchboard-logging")
    signals.task_prerun.connect(_task_started, weak=False, dispatch_uid="switchboard-log-context")
    signals.task_postrun.connect(_task_finished, weak=False, dispatch_uid="switchboard-log-context")


def _configure_logging(**kwargs: Any) -> None:
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


def _task_started(*, task_id: str, **kwargs: Any) -> None:
    _task_tokens[task_id] = log_context.begin(request_id=task_id)


def _task_finished(*, task_id: str, **kwargs: Any) -> None:
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            log_context.end(token)
        except ValueError:  # begun in another context (cannot happen with Celery's pools; be safe)
            pass
