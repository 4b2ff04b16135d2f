"""What a web node loads at start: SDKs used only by rare requests or by workers are imported on use.

Each module here costs the server process megabytes before its first socket (docs/performance.md,
idle sockets); a module-level import of one of them in code the ASGI app or its URLs load fails this.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Imported on first use only: billing/stripe_api.py and billing/views.py (stripe), support/mail/parsing.py (bs4).
NOT_AT_START = ("stripe", "bs4")


def test_the_asgi_app_and_its_urls_do_not_import_worker_only_sdks() -> None:
    code = (
        "import sys, django; django.setup(); import config.asgi; from django.urls import get_resolver; "
        "get_resolver().url_patterns; "
        f"print(','.join(m for m in {NOT_AT_START!r} if m in sys.modules))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1:] in ([], [""]), f"imported at start: {out.stdout.strip()}"
