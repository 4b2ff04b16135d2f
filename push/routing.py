"""WebSocket routes: the visitor socket (its token is in the hello) and the agent socket (the login
session's cookie, read by the socket itself at the handshake: push/agent_auth.py).

A plain function rather than a router object: it returns the socket app's own coroutine, so a
socket's task carries no frame of ours around it (docs/performance.md, "Idle memory").
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from config.observability.logs import SocketLog
from push.consumers import AgentSocket, VisitorSocket

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]

WEBSOCKET_ROUTES: dict[str, ASGIApp] = {
    "/ws/visitor/": VisitorSocket.serve,
    # Origin and the login session are checked by the socket itself, so a refused socket gets close
    # code 4403 or 4401 (docs/protocol.md).
    "/ws/agent/": AgentSocket.serve,
}


def websocket_app(scope: dict[str, Any], receive: Any, send: Any) -> Awaitable[None]:
    """The socket app of ``scope``'s path (below the ASGI ``root_path``); an unknown path is refused
    at the handshake (HTTP 403)."""
    path, root = scope["path"], scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root):]
    app = WEBSOCKET_ROUTES.get(path)
    return (app or _refuse)(scope, receive, send)


async def _refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    logged = SocketLog(scope)
    try:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.close"})
    finally:
        logged.end()
