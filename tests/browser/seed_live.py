"""Seeds the browser tests' live server database and prints what the tests need as JSON.

Run inside the live server's environment: ``python -m tests.browser.seed_live <origin>...``. It builds
the schema first (one Django start instead of two: the machine is shared and slow).

Seeded: tenant ``demo`` allowing the given origins; ``owner`` and ``agent`` members, and ``evil``,
an agent whose display name is markup (for the escaping tests); each with a ready session key;
``api_token``, a read-write REST API token of the tenant (to change conversations through the
server, so its channel layer wakes the clients up).
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
    from django.core.management import call_command
    from django_scopes import scopes_disabled

    from support.models import ApiToken, Membership, Team, Tenant, User
    from support.services.api_tokens import create_token

    call_command("migrate", run_syncdb=True, interactive=False, verbosity=0)

    password = "browser-Secret-1"
    # Seeding is platform-level setup across tenants, so it runs unscoped on purpose.
    with scopes_disabled():
        tenant, _ = Tenant.objects.get_or_create(
            slug="demo",
            defaults={"name": "Acme Rockets", "team_name": "Acme Support",
                      "greeting": "Hi there! Ask us anything about rockets."},
        )
        tenant.allowed_origins = sorted(set(tenant.allowed_origins or []) | set(origins))
        # The greeting in Chinese too: a zh-Hans visitor reads it (tests/browser/test_zh_hans.py).
        tenant.greetings = {"zh-hans": "您好！关于火箭的任何问题，尽管问我们。"}
        tenant.save(update_fields=["allowed_origins", "greetings"])
        people = {}
        roles = (
            ("owner", "Olivia Owner", Membership.Role.OWNER),
            ("agent", "Alice Agent", Membership.Role.AGENT),
            ("evil", '<img src=x onerror="window.__pwned=4;alert(4)">', Membership.Role.AGENT),
        )
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
        # A second tenant with other widget settings: pre-chat form, left side, another colour.
        other, _ = Tenant.objects.get_or_create(
            slug="prechat",
            defaults={"name": "Globex Helpdesk", "team_name": "Globex Helpdesk", "prechat_form": True,
                      "color": "#0f766e", "position": Tenant.Position.LEFT,
                      "greeting": "Hello! Tell us who you are and we'll be right with you."},
        )
        other.allowed_origins = sorted(set(other.allowed_origins or []) | set(origins))
        other.save(update_fields=["allowed_origins"])
        email = "helper@prechat.example"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email, password, display_name="Hannah Helper"
        )
        Membership.objects.get_or_create(tenant=other, user=user, defaults={"role": Membership.Role.AGENT})
        people["prechat_agent"] = {"email": email, "password": password, "session": agent_session(user)}
        # A tenant with no agents at all: nobody can ever be online, so the widget offers the offline form.
        quiet, _ = Tenant.objects.get_or_create(
            slug="afterhours", defaults={"name": "Initech", "team_name": "Initech Support"}
        )
        quiet.allowed_origins = sorted(set(quiet.allowed_origins or []) | set(origins))
        quiet.save(update_fields=["allowed_origins"])
        ApiToken.objects.filter(tenant=tenant, name="browser tests").delete()
        token = create_token(tenant=tenant, name="browser tests", scope=ApiToken.Scope.READ_WRITE, created_by=None)
    return {
        "tenant": {"slug": tenant.slug, "widget_key": tenant.widget_key, "id": tenant.public_id},
        "api_token": token.plaintext,
        "identity_secret": tenant.identity_secret,
        **people,
    }


if __name__ == "__main__":
    django.setup()
    print(json.dumps(main(sys.argv[1:])))
