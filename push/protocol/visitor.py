"""A visitor's session: follows all their contact's conversations and sees only what is for them."""
from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from django_scopes import scope

from push import presence
from push.protocol.dbthread import on_db_thread
from push.protocol.delivery import Follow
from push.protocol.frames import FOLLOW_MAX, VISITOR, error_frame
from push.protocol.session import Session
from support.access import access_conversation_for_contact
from support.errors import NotFound
from support.language import contact_language
from support.models import Contact, Conversation, Tenant
from support.services.visitors import contact_group, require_chat_allowed


class VisitorSession(Session):
    kind = VISITOR
    party = "contact"
    contact_only = True

    def __init__(self, *, tenant: Tenant, contact: Contact, **kwargs: Any) -> None:
        super().__init__(tenant=tenant, **kwargs)
        self.contact = contact
        self.language = contact_language(contact)  # the widget's, as its last bootstrap reported it

    @property
    def subject(self) -> Contact:
        assert self.contact is not None
        return self.contact

    def author(self) -> dict[str, Any]:
        return {"type": "contact"}

    def own_group(self) -> str:
        return contact_group(self.tenant.pk, self.subject_id)

    async def welcome(self, *, resume: dict[str, int], inbox_since: str | None) -> list[dict[str, Any]]:
        listed, unknown = await on_db_thread(self.follow_conversations)(resume)
        welcome: dict[str, Any] = {
            "type": "welcome", "you": _visitor_you(self.subject), "connection": self.connection_id,
            "team_online": await on_db_thread(presence.team_online)(self.tenant.pk), "conversations": listed,
        }
        return [welcome, *(error_frame("not_found", gettext("No such conversation"), ref="hello") for _ in unknown)]

    def follow_conversations(self, resume: dict[str, int]) -> tuple[list[dict[str, Any]], list[str]]:
        """On the database thread: follow the contact's recent conversations (those not in
        ``resume`` replay from the start) and older ones ``resume`` names; the ids it names in vain."""
        with scope(tenant=self.tenant):
            convs = list(
                Conversation.objects.filter(contact=self.contact)
                .select_related("assignee__user")
                .order_by("-updated_at", "-pk")[: FOLLOW_MAX[VISITOR]]
            )
            for conv in convs:
                start = min(resume.get(conv.public_id, 0), conv.last_seq)
                self.follows.setdefault(conv.pk, Follow(conv.public_id, conv.pk, start, start))
            known = {c.public_id for c in convs}
            unknown = []
            for public_id in (k for k in resume if k not in known):
                # An older conversation of theirs that the client still shows: follow it too.
                try:
                    conv = access_conversation_for_contact(self.subject, public_id)
                except NotFound:
                    unknown.append(public_id)
                    continue
                start = min(resume[public_id], conv.last_seq)
                self.follows.setdefault(conv.pk, Follow(conv.public_id, conv.pk, start, start))
            return [visitor_conversation(c) for c in convs], unknown

    def behind(self) -> list[dict[str, Any]]:
        # Conversations started elsewhere are followed from their first message (as on
        # contact.changed), then everything followed replays after what the client has seen.
        self.follow_conversations({})
        return self.replay(list(self.follows.values()), None, None) if self.follows else []

    def look_up(self, public_id: str) -> Conversation:
        with scope(tenant=self.tenant):
            require_chat_allowed(self.subject)
            return access_conversation_for_contact(self.subject, public_id)

    async def on_own_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if event.get("type") != "contact.changed":
            return []
        # A conversation started in another tab: follow it from its first message.
        before = set(self.follows)
        await on_db_thread(self.follow_conversations)({})
        return await self.catch_up([f for pk, f in self.follows.items() if pk not in before])

    async def presence_frame(self) -> dict[str, Any]:
        return {"type": "presence", "team_online": await on_db_thread(presence.team_online)(self.tenant.pk)}


def visitor_conversation(conv: Conversation) -> dict[str, Any]:
    """A conversation as its visitor sees it: no internal fields."""
    return {
        "id": conv.public_id,
        "status": conv.status,
        "last_seq": conv.last_seq,
        "contact_last_read_seq": conv.contact_last_read_seq,
        "agent_last_read_seq": conv.agent_last_read_seq,
        "assignee": {"name": conv.assignee.user.name} if conv.assignee_id and conv.assignee else None,
        "created": conv.created_at.isoformat(),
        "updated": conv.updated_at.isoformat(),
        "last_message_at": conv.last_message_at.isoformat() if conv.last_message_at else None,
    }


def _visitor_you(contact: Contact) -> dict[str, Any]:
    return {"id": contact.public_id, "name": contact.name, "email": contact.email,
            "verified": contact.external_id is not None}
