"""Seed the demo workspace ("Demo Inc", slug ``demo``) that the README and ``serve`` point to.

Idempotent: every object is looked up by its natural key first, so a second run changes nothing.
Conversations and messages are created through ``support.services`` like any other client would.
"""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django_scopes import scope

from support.models import CannedResponse, Contact, Conversation, Label, Membership, Team, Tenant, User
from support.services.conversations import assign_conversation, set_labels, set_status, start_conversation
from support.services.messages import post_message

PASSWORD = "switchboard-demo"
ORIGINS = ["http://127.0.0.1:8000", "http://localhost:8000"]
MEMBERS = [
    ("owner@demo.example", "Olivia Owner", Membership.Role.OWNER),
    ("agent1@demo.example", "Ada Agent", Membership.Role.AGENT),
    ("agent2@demo.example", "Ben Agent", Membership.Role.AGENT),
]
LABELS = [("billing", "#0ea5e9"), ("bug", "#ef4444"), ("feature", "#22c55e")]
CANNED = [
    ("hello", "Greeting", "Hi there! Thanks for reaching out — how can I help?"),
    ("thanks", "Thanks", "Thanks for your patience. Is there anything else I can help with?"),
    ("refund", "Refund policy", "Refunds are issued to the original payment method within 5–7 business days."),
    ("bye", "Closing", "Glad I could help. Have a great day!"),
]
# (name, email, subject, [(author, body)], assignee index or None, status, labels)
CONVERSATIONS: list[tuple[str, str, str, list[tuple[str, str]], int | None, str, list[str]]] = [
    ("Grace Hopper", "grace@customer.example", "Invoice shows the wrong VAT number",
     [("contact", "Hi, my last invoice has our old VAT number on it."),
      ("agent", "Sorry about that! I'll correct it and send a new invoice today.")],
     1, Conversation.Status.OPEN, ["billing"]),
    ("Linus Example", "linus@customer.example", "Export button does nothing",
     [("contact", "When I click Export on the reports page nothing happens."),
      ("agent", "Thanks — which browser are you using?"),
      ("contact", "Firefox 128 on Linux.")],
     2, Conversation.Status.PENDING, ["bug"]),
    ("Margaret H.", "margaret@customer.example", "Dark mode?",
     [("contact", "Any plans for a dark mode? My eyes would thank you."),
      ("agent", "It's on our roadmap. I've added your vote!"),
      ("contact", "Great, thanks!")],
     1, Conversation.Status.RESOLVED, ["feature"]),
    ("", "", "",
     [("contact", "Hello? Is anyone there? I have a question about pricing.")],
     None, Conversation.Status.OPEN, []),
]


class Command(BaseCommand):
    help = "Create the demo workspace, its users and some conversations (safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            created = self._seed()
        self.stdout.write(
            f"Demo workspace 'Demo Inc' ({'created' if created else 'already there, nothing changed'}): "
            f"owner@demo.example, agent1@demo.example, agent2@demo.example, staff@demo.example "
            f"— password '{PASSWORD}'"
        )

    def _user(self, email: str, name: str, **extra: Any) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email, PASSWORD, display_name=name, **extra)
        return user

    def _seed(self) -> bool:
        self._user("staff@demo.example", "Sam Staff", is_staff=True, is_superuser=True)
        tenant, created = Tenant.objects.get_or_create(
            slug="demo", defaults={"name": "Demo Inc", "allowed_origins": ORIGINS, "team_name": "Demo Inc support"}
        )
        with scope(tenant=tenant):
            members = {}
            for email, name, role in MEMBERS:
                user = self._user(email, name)
                members[email], _ = Membership.objects.get_or_create(
                    tenant=tenant, user=user, defaults={"role": role}
                )
            agents = [members["agent1@demo.example"], members["agent2@demo.example"]]
            team, _ = Team.objects.get_or_create(tenant=tenant, name="Support")
            team.members.add(*agents)
            labels = {
                name: Label.objects.get_or_create(tenant=tenant, name=name, defaults={"color": color})[0]
                for name, color in LABELS
            }
            for shortcut, title, body in CANNED:
                CannedResponse.objects.get_or_create(
                    tenant=tenant, shortcut=shortcut, defaults={"title": title, "body": body}
                )
            if created or not Conversation.objects.filter(tenant=tenant).exists():
                self._conversations(tenant, team, agents, labels)
        return created

    def _conversations(self, tenant: Tenant, team: Team, agents: list[Membership], labels: dict[str, Label]) -> None:
        for index, (name, email, subject, lines, assignee, status, label_names) in enumerate(CONVERSATIONS):
            contact = Contact.objects.create(
                tenant=tenant, name=name, email=email, context={"page": "http://127.0.0.1:8000/demo/"}
            )
            conv = start_conversation(tenant=tenant, contact=contact, team=team, subject=subject)
            agent = agents[assignee - 1] if assignee else None
            if agent is not None:
                conv = assign_conversation(conversation=conv, assignee=agent)
            for number, (author, body) in enumerate(lines):
                post_message(
                    conversation=conv, body=body, client_id=f"seed-{index}-{number}",
                    author_type=author, author_membership=agent if author == "agent" else None,
                )
            if label_names:
                conv = set_labels(conversation=conv, labels=[labels[n] for n in label_names])
            if status != Conversation.Status.OPEN:
                set_status(conversation=conv, status=status, actor=agent)
