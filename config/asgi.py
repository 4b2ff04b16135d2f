"""ASGI entry point: long-poll through its own lean app (push.longpoll_app), other HTTP through Django,
WebSockets through our own socket apps (push.routing, push.consumers)."""
import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from collections.abc import Awaitable  # noqa: E402
from typing import Any  # noqa: E402

from asgiref.sync import markcoroutinefunction  # noqa: E402
from django.conf import settings  # noqa: E402

from config.forwarded import trusted_proxies  # noqa: E402
from config.observability.logs import LogContextApp  # noqa: E402
from push.longpoll_app import LongPollApp  # noqa: E402
from push.routing import websocket_app  # noqa: E402

# The four long-poll URLs skip Django's middleware chain (same checks, a fraction of the cost). Every
# request gets its log context (request id, then connection and tenant) and an access-log line.
http_app = LogContextApp(LongPollApp(django=django_asgi_app))


def route(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
    """By scope type. Returns the chosen app's coroutine rather than awaiting it, so that each open
    socket's task holds no frame of this function (marked as a coroutine function: servers and
    asgiref take it for an ASGI 3 app). The client address and scheme come from a trusted proxy's
    headers first (config/forwarded.py: uvicorn's proxy-headers middleware would be such a frame)."""
    trusted_proxies(tuple(settings.FORWARDED_ALLOW_IPS)).apply(scope)
    kind = scope["type"]
    if kind == "websocket":
        # Origin checks happen per socket: the visitor socket checks the tenant's allowed
        # origins, the agent socket checks ALLOWED_HOSTS and the session. Each socket app begins
        # and ends its own log context and access-log line (config.observability.logs.SocketLog).
        return websocket_app(scope, receive, send)
    if kind == "http":
        return http_app(scope, receive, send)
    raise ValueError(f"No application configured for scope type {kind!r}")


markcoroutinefunction(route)

application = route

# What is loaded by now (Django, the apps, their modules: ~100,000 objects) lives as long as the
# process: moved out of the collector's reach, a full collection no longer walks it all with the GIL
# held (30-170 ms on the 2-core machine, a stall of every request and socket of the process).
gc.freeze()
