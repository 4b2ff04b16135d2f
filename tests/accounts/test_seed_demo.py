"""The demo seed: what it creates, and that a second run changes nothing."""
from __future__ import annotations

from io import StringIO

from django.apps import apps
from django.core.management import call_command
from django_scopes import scopes_disabled

from support.models import Conversation, Membership, Tenant, User


def row_counts() -> dict[str, int]:
    with scopes_disabled():
        return {model._meta.label: model._default_manager.count() for model in apps.get_models()
                if model._meta.app_label in ("support", "push", "billing")}


def test_seed_demo_creates_the_demo_and_is_idempotent(db):
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert out.getvalue().count("\n") == 1 and "owner@demo.example" in out.getvalue()
    tenant = Tenant.objects.get(slug="demo")
    assert tenant.name == "Demo Inc"
    assert tenant.allowed_origins == ["http://127.0.0.1:8000", "http://localhost:8000"]
    staff = User.objects.get(email="staff@demo.example")
    assert staff.is_staff and staff.is_superuser and staff.check_password("switchboard-demo")
    with scopes_disabled():
        roles = dict(Membership.objects.filter(tenant=tenant).values_list("user__email", "role"))
        assert roles == {"owner@demo.example": "owner", "agent1@demo.example": "agent",
                         "agent2@demo.example": "agent"}
        team = tenant.team_set.get(name="Support")
        assert {m.user.email for m in team.members.all()} == {"agent1@demo.example", "agent2@demo.example"}
        assert set(tenant.label_set.values_list("name", flat=True)) >= {"billing", "bug", "feature"}
        assert {"hello", "thanks", "refund"} <= set(tenant.cannedresponse_set.values_list("shortcut", flat=True))
        convs = list(Conversation.objects.filter(tenant=tenant))
        assert 3 <= len(convs) <= 4
        assert any(c.status == "resolved" for c in convs) and any(c.assignee_id is None for c in convs)
        assert all(c.messages.filter(kind="text").exists() for c in convs)
        assert all(c.last_seq == c.messages.count() for c in convs)
    before = row_counts()
    passwords = dict(User.objects.values_list("email", "password"))
    call_command("seed_demo", stdout=StringIO())
    assert row_counts() == before
    assert dict(User.objects.values_list("email", "password")) == passwords
