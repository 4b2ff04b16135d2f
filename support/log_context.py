"""What every log line says about the work it belongs to: the request or task id, the realtime
connection id and the tenant's public id (config/observability/logging.py writes them out).

The entry points ``begin`` a context (the ASGI app per HTTP request and socket, Celery per task);
code that learns who the work is for ``bind``s it. The context is one mutable object per unit of
work held in a ``ContextVar``: tasks and database threads started from that work copy the variable,
so they share the object and see what is bound later (a socket's tenant is known only after its hello).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(slots=True)
class LogContext:
    request_id: str
    connection_id: str | None = None
    tenant: str | None = None  # the tenant's public id (tn_…), never its database key


_current: ContextVar[LogContext | None] = ContextVar("switchboard_log_context", default=None)


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def begin(*, request_id: str | None = None) -> Token[LogContext | None]:
    """Start the context of one request, socket or task; ``end`` it with the returned token."""
    return _current.set(LogContext(request_id=request_id or new_id()))


def end(token: Token[LogContext | None]) -> None:
    _current.reset(token)


def current() -> LogContext | None:
    return _current.get()


def bind(*, tenant: str | None = None, connection_id: str | None = None) -> None:
    """Name the tenant (public id) and/or the realtime connection of the current work, if any."""
    context = _current.get()
    if context is None:
        return
    if tenant is not None:
        context.tenant = tenant
    if connection_id is not None:
        context.connection_id = connection_id


@contextmanager
def for_tenant(public_id: str) -> Iterator[None]:
    """Within the block the current work is for this tenant (a sweep that serves many, one at a time)."""
    context = _current.get()
    if context is None:
        yield
        return
    outer, context.tenant = context.tenant, public_id
    try:
        yield
    finally:
        context.tenant = outer
