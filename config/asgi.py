"""ASGI entry point: long-poll through its own lean app (push.longpoll_app), other HTTP through Django,
WebSockets through Channels (push.routing)."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from config.observability.logs import LogContextApp  # noqa: E402
from push.longpoll_app import LongPollApp  # noqa: E402
from push.routing import websocket_urlpatterns  # noqa: E402

# Every request and socket gets its log context (request id, then connection and tenant) and an access-log line.
application = LogContextApp(ProtocolTypeRouter(
    {
        # The four long-poll URLs skip Django's middleware chain (same checks, a fraction of the cost).
        "http": LongPollApp(django=django_asgi_app),
        # Origin checks happen per consumer: the visitor socket checks the tenant's allowed
        # origins, the agent socket checks ALLOWED_HOSTS and the session.
        "websocket": URLRouter(websocket_urlpatterns),
    }
))
