"""An agent's session: follows what it resumes or subscribes to, and keeps the tenant's inbox current."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django_scopes import scope

from push import presence
from push.protocol.dbthread import on_db_thread
from push.protocol.delivery import Follow
from push.protocol.frames import AGENT, INBOX_FRAME_KINDS, error_frame
from push.protocol.inbox import InboxCursor
from push.protocol.inbox_frames import catch_up_frames
from push.protocol.session import Session
from support.access import access_conversation
from support.errors import NotFound
from support.events import fanout
from support.models import Conversation, Membership, Tenant
from support.payloads import agent_payload


class AgentSession(Session):
    kind = AGENT
    party = "agent"
    contact_only = False
    inbox: InboxCursor

    def __init__(self, *, tenant: Tenant, membership: Membership, **kwargs: Any) -> None:
        super().__init__(tenant=tenant, **kwargs)
        self.membership = membership
        self.inbox = InboxCursor(tenant)

    @property
    def subject(self) -> Membership:
        assert self.membership is not None
        return self.membership

    def author(self) -> dict[str, Any]:
        return {"type": "agent", "id": self.subject.public_id, "name": self.subject.user.name}

    def own_group(self) -> str:
        return fanout.inbox_group(self.tenant.pk)

    async def hello(self, frame: dict[str, Any]) -> list[dict[str, Any]]:
        # Checked with the rest of the hello (frames.HELLO); read first: the welcome's rows use it.
        if frame.get("inbox_frame") in INBOX_FRAME_KINDS:
            self.inbox_frame = frame["inbox_frame"]
        return await super().hello(frame)

    def inbox_frames(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return catch_up_frames(self.inbox, rows, kind=self.inbox_frame, limit=settings.RT_FRAME_MAX_BYTES)

    async def welcome(self, *, resume: dict[str, int], inbox_since: str | None) -> list[dict[str, Any]]:
        inbox = self.inbox
        unknown = await on_db_thread(self._follow_resume)(resume)
        rows, complete = await on_db_thread(inbox.catch_up)(int(inbox_since) if inbox_since else None)
        welcome = {
            "type": "welcome", "you": agent_payload(self.subject), "connection": self.connection_id,
            "agents": await on_db_thread(presence.agents_presence)(self.tenant.pk),
            "inbox_since": str(inbox.since), "inbox_resync": not complete,
        }
        errors = [error_frame("not_found", "No such conversation", ref="hello") for _ in unknown]
        return [welcome, *errors, *self.inbox_frames(rows)]

    def _follow_resume(self, resume: dict[str, int]) -> list[str]:
        unknown = []
        with scope(tenant=self.tenant):
            for public_id, seq in resume.items():
                try:
                    conv = access_conversation(self.tenant, public_id)
                except NotFound:
                    unknown.append(public_id)
                    continue
                start = min(seq, conv.last_seq)
                self.follows[conv.pk] = Follow(conv.public_id, conv.pk, start, start)
        return unknown

    def behind(self) -> list[dict[str, Any]]:
        # Inbox changes after the watermark (or a resync when there are too many), then messages.
        rows, complete = self.inbox.catch_up(self.inbox.since)
        frames = self.inbox_frames(rows)
        if not complete:
            frames.append({"type": "inbox_resync"})
        if self.follows:
            frames += self.replay(list(self.follows.values()), None, None)
        return frames

    def look_up(self, public_id: str) -> Conversation:
        with scope(tenant=self.tenant):
            return access_conversation(self.tenant, public_id)

    async def _on_unsubscribe(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        follow = await self._resolve(values["conversation"])
        self.follows.pop(follow.pk, None)
        return []

    async def _on_presence(self, values: dict[str, Any]) -> list[dict[str, Any]]:
        await on_db_thread(presence.set_availability)(membership=self.subject, status=values["status"])
        return []

    async def on_own_event(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        if event.get("type") != "inbox.changed":
            return []
        carried = event.get("payload")
        if isinstance(carried, dict):
            payload = self.inbox.carried(carried)
        else:  # a publisher that sends no row: read it
            payload = await on_db_thread(self.inbox.one)(event.get("conversation"))
        return [] if payload is None else [self.inbox.conversation_frame(payload)]

    async def presence_frame(self) -> dict[str, Any]:
        return {"type": "presence", "agents": await on_db_thread(presence.agents_presence)(self.tenant.pk)}
