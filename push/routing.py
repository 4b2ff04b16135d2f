"""WebSocket routes. The agent socket needs the login session; the visitor socket carries its token."""
from channels.auth import AuthMiddlewareStack
from django.urls import path

from push.consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns: list = [
    path("ws/visitor/", VisitorConsumer.as_asgi()),
    # Origin is checked by the consumer itself so a refused socket gets close code 4403.
    path("ws/agent/", AuthMiddlewareStack(AgentConsumer.as_asgi())),
]
