"""Create the schema of a scratch database from the models and seed one tenant for load runs.

Run as a subprocess with DATABASE_URL pointing at an empty database:
``python bench/realtime/setup_db.py --agents 2 --origin http://127.0.0.1:9000``.
The schema is built from the current models (migrations disabled, as pytest's --nomigrations
does), so a scratch run never depends on committed migrations being up to date.
Prints one JSON object: per tenant its widget key and one login session per agent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.scratch_schema import NoMigrations  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=1)
    parser.add_argument("--agents", type=int, default=1, help="agents per tenant")
    parser.add_argument("--capacity", type=int, default=10_000)
    parser.add_argument("--origin", required=True)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    settings.MIGRATION_MODULES = NoMigrations()
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    call_command("migrate", run_syncdb=True, verbosity=0)
    # A scratch database seeded by a platform operator script, not a tenant request.
    with scopes_disabled():
        tenants = [_seed_tenant(n, args) for n in range(args.tenants)]
    print(json.dumps({
        "origin": args.origin, "session_cookie": settings.SESSION_COOKIE_NAME, "tenants": tenants,
        # The first tenant's, for callers that use one.
        "widget_key": tenants[0]["widget_key"], "agent_sessions": tenants[0]["agent_sessions"],
    }))


def login_session(user) -> str:  # type: ignore[no-untyped-def]
    """The key of a new signed-in session of ``user``, as the login view would leave it."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return str(session.session_key)


def _seed_tenant(n: int, args: argparse.Namespace) -> dict:
    from support.models import Membership, Tenant, User

    tenant = Tenant.objects.create(
        name=f"Bench {n}", slug=f"bench-{n}", allowed_origins=[args.origin], identity_verification="off"
    )
    sessions = []
    for i in range(args.agents):
        user = User.objects.create_user(f"agent{i}@bench-{n}.example", None, display_name=f"Agent {n}.{i}")
        Membership.objects.create(
            tenant=tenant, user=user, role=Membership.Role.AGENT, capacity=min(args.capacity, 32_000)
        )
        sessions.append(login_session(user))
    return {"id": tenant.pk, "widget_key": tenant.widget_key, "agent_sessions": sessions}

if __name__ == "__main__":
    main()
