"""What a web node loads at start: SDKs used only by rare requests or by workers are imported on use.

Each module here costs the server process megabytes before its first socket (docs/performance.md,
"Idle memory"); a module-level import of one of them in code the ASGI app or its URLs load fails this.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Imported on first use only:
NOT_AT_START = (
    "stripe",  # billing/stripe_api.py, billing/views.py
    "bs4",  # support/mail/parsing.py
    "httpx",  # push/webhooks/ssrf.py, delivery.py, push/webpush.py (with rich, click, pygments)
    "rest_framework.views",  # the REST API's views: support/api/urls.py names them (support/api/lazy_views.py)
    "rest_framework.serializers",
    "drf_spectacular.views",
    "paho",  # push/mqtt/broker.py: the MQTT credentials endpoint's admin client (the bridge is a process of its own)
    "channels.generic",  # sockets are push/consumers.py's own objects, not Channels consumers
)


def run(code: str) -> str:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_the_asgi_app_and_its_urls_do_not_import_worker_only_sdks() -> None:
    out = run(
        "import sys, django; django.setup(); import config.asgi; from django.urls import get_resolver, reverse; "
        "get_resolver().url_patterns; reverse('api-me'); "
        "from django.core.management import call_command; call_command('check'); "  # as `manage.py serve`
        f"print('imported:' + ','.join(m for m in {NOT_AT_START!r} if m in sys.modules))"
    )
    assert out.splitlines()[-1] == "imported:", f"imported at start: {out}"
