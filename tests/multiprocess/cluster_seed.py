"""Seeds a deploy/local-cluster database for the cluster tests, run with the cluster's environment:
the demo (``seed_demo``) and a signed-in session per demo agent; prints one JSON line. With the
fault handlers configured (OUTBOX_EXTRA_HANDLER_MODULES) their tables are made first, before any
message is stored."""
from __future__ import annotations

import json
import os
from io import StringIO

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django_scopes import scopes_disabled  # noqa: E402

from bench.realtime.setup_db import login_session  # noqa: E402
from support.models import Membership, Tenant  # noqa: E402


def main() -> None:
    if "tests.outbox.fault_handlers" in settings.OUTBOX_EXTRA_HANDLER_MODULES:
        from tests.outbox.fault_handlers import create_tables

        create_tables()
    call_command("seed_demo", stdout=StringIO())
    with scopes_disabled():
        tenant = Tenant.objects.get(slug="demo")
        agents = Membership.objects.filter(tenant=tenant, role=Membership.Role.AGENT).select_related("user")
        sessions = [login_session(m.user) for m in agents.order_by("pk")]
    print(json.dumps({"widget_key": tenant.widget_key, "session_cookie": settings.SESSION_COOKIE_NAME,
                      "agent_sessions": sessions}))


if __name__ == "__main__":
    main()
