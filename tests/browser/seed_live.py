"""Seeds the browser tests' live server database and prints what the tests need as JSON.

Run inside the live server's environment: ``python -m tests.browser.seed_live <origin>...``.
"""
from __future__ import annotations

import json
import sys

import django


def agent_session(user) -> str:  # type: ignore[no-untyped-def]
    """A signed-in session for ``user``, as Django's login() would make it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils.module_loading import import_string

    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def main(origins: list[str]) -> dict:
    from django_scopes import scopes_disabled

    from support.models import Membership, Team, Tenant, User

    password = "browser-Secret-1"
    # Seeding is platform-level setup across tenants, so it runs unscoped on purpose.
    with scopes_disabled():
        tenant, _ = Tenant.objects.get_or_create(
            slug="demo",
            defaults={"name": "Acme Rockets", "team_name": "Acme Support",
                      "greeting": "Hi there! Ask us anything about rockets."},
        )
        tenant.allowed_origins = sorted(set(tenant.allowed_origins or []) | set(origins))
        tenant.save(update_fields=["allowed_origins"])
        people = {}
        roles = (("owner", "Olivia Owner", Membership.Role.OWNER), ("agent", "Alice Agent", Membership.Role.AGENT))
        for key, name, role in roles:
            email = f"{key}@browser.example"
            user = User.objects.filter(email=email).first()
            user = user or User.objects.create_user(email, password, display_name=name)
            membership, _ = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
            people[key] = {
                "email": email, "password": password, "id": membership.public_id, "session": agent_session(user),
            }
        team, _ = Team.objects.get_or_create(tenant=tenant, name="Support")
        team.members.add(*Membership.objects.filter(tenant=tenant))
    return {"tenant": {"slug": tenant.slug, "widget_key": tenant.widget_key, "id": tenant.public_id}, **people}


if __name__ == "__main__":
    django.setup()
    print(json.dumps(main(sys.argv[1:])))
