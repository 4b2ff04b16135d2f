"""Serve HTTP and WebSocket from one ASGI server (uvicorn), printing where everything is."""
from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the whole product in one process (embedded default) or one ASGI node (production)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, host: str, port: int, **options: Any) -> None:
        base = f"http://{host}:{port}"
        mode = "embedded default (SQLite, in-memory channel layer, in-process Celery worker)" if settings.EMBEDDED \
            else "production settings"
        self.stdout.write(
            f"\nSwitchboard — {mode}\n"
            f"  Agent dashboard   {base}/app/\n"
            f"  Admin             {base}/admin/\n"
            f"  Demo host page    {base}/demo/   (embeds the visitor widget)\n"
            f"  API docs          {base}/api/docs/\n"
            f"  Sign up           {base}/accounts/signup/\n"
        )
        if settings.EMBEDDED:
            self.stdout.write(
                "  Demo logins       owner@demo.example / agent1@demo.example / agent2@demo.example,"
                " password 'switchboard-demo'\n"
                "                    staff@demo.example (platform staff), same password\n"
            )
        self.stdout.flush()
        if settings.CELERY_EMBEDDED_WORKER:
            from push.embedded import start_embedded_worker

            start_embedded_worker()
        uvicorn.run(
            "config.asgi:application", host=host, port=port, log_level="info", lifespan="off",
            # The client address (rate limits, sign-in throttling) comes from X-Forwarded-For only
            # when the peer is a trusted proxy (settings.FORWARDED_ALLOW_IPS, docs/operations.md).
            proxy_headers=True, forwarded_allow_ips=settings.FORWARDED_ALLOW_IPS,
            **websocket_options(),
        )


def websocket_options() -> dict[str, Any]:
    """How uvicorn serves WebSockets here (also used by the tests that run a real server)."""
    return {
        # Per-message deflate keeps a compressor and a decompressor per socket: 80 KB instead of
        # 38 KB per idle socket (docs/performance.md, "Realtime"), for ~100-byte frames that
        # barely compress.
        "ws_per_message_deflate": False,
        # uvicorn's own WebSocket protocol, keeping less per open socket (push/uvicorn_ws.py).
        "ws": "push.uvicorn_ws:SlimWebSocketProtocol",
        # The largest frame uvicorn will buffer at all (its default is 16 MiB). Frames above
        # RT_FRAME_MAX_BYTES but below this get a `too_large` error frame and the socket goes on;
        # above it the socket is closed with 1009 (docs/protocol.md).
        "ws_max_size": settings.RT_WS_MAX_BYTES,
    }
