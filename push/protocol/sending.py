"""The ``send`` frame: rate limits, the write, and the ack (with what came before it, if missed).

Every message into an existing conversation is written by one call, ``queue_message``, through
the group-commit queue (``push.group_commit``: with the sends that arrive beside it, one
transaction); a visitor's first message starts its conversation under the contact's row lock
instead.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django_scopes import scope

from push import group_commit, presence
from push.protocol.dbthread import on_db_thread
from push.protocol.delivery import Follow
from push.protocol.frames import VISITOR, FrameError
from push.ratelimit import within_limits_async
from support.access import ConversationRef, access_attachment
from support.errors import NotFound
from support.models import Attachment, Conversation, Message, Tenant
from support.payloads import message_payload
from support.plan_limits import live_chat_allowed
from support.services.conversations import replying_takes, start_visitor_conversation, take_on_reply
from support.services.message_batch import PostResult, SendRequest
from support.services.visitors import require_chat_allowed

if TYPE_CHECKING:
    from push.protocol.session import Session


async def send(
    session: Session, *, client_id: str, conversation: str | None, body: str, kind: str, attachment: str | None
) -> list[dict[str, Any]]:
    """Store the message (once per ``client_id``) and answer its ``ack``."""
    written = await write(
        session, client_id=client_id, conversation=conversation, body=body, kind=kind, attachment=attachment
    )
    return await answer(session, written)


@dataclass(frozen=True, slots=True)
class Written:
    """A send's message as stored (new, or the original of a repeated ``client_id``), to answer."""

    client_id: str
    message: Message
    conv: Conversation
    payload: dict[str, Any]


async def write(
    session: Session, *, client_id: str, conversation: str | None, body: str, kind: str, attachment: str | None
) -> Written:
    """Store the message (once per ``client_id``); a refusal raises.

    A socket may have several sends of a session in flight (push/consumers.py, ``_Sends``): each
    takes its place in the session's order before its first wait, and is queued for writing only
    after the one before it, so their messages get seqs in the order their frames came. Their
    answers are the socket's to make, in that order (``answer``).
    """
    place = _Place(session)
    try:
        if session.kind == VISITOR and not await _visitor_send_allowed(session):
            raise FrameError("rate_limited", "Too many messages; wait a minute", client_id=client_id)
        await place.turn()
        if conversation is None:  # frames.SCHEMAS: only a visitor may start one
            started = await on_db_thread(_start)(session, client_id, body, attachment)
        else:
            writing = queue_message(
                session, conversation=conversation, body=body, kind=kind, client_id=client_id, attachment=attachment
            )
    finally:
        place.leave()
    if conversation is None:
        message, conv = started
        return Written(client_id, message, conv, message_payload(message, conversation_public_id=conv.public_id))
    result = await writing
    message, conv = result.message, result.message.conversation
    if result.created and replying_takes(message) and session.membership is not None:
        # Rare (once per conversation): a reply takes a conversation nobody has.
        await on_db_thread(_take_on_reply)(session, conv)
    return Written(client_id, message, conv, result.message_payload())  # built once by the batch, for its wake-up too


async def answer(session: Session, written: Written) -> list[dict[str, Any]]:
    """The ``ack`` of a stored send, with what came before it if this connection missed it.

    Reads and moves what the connection has seen of the conversation: a socket calls it in its turn,
    for one send after the other in the order they came.
    """
    message, conv, payload = written.message, written.conv, written.payload
    ack = {"type": "ack", "client_id": written.client_id}
    if session.persistent:
        follow = session.follows.get(conv.pk)
        if follow is None and session.kind == VISITOR:
            follow = session.follows[conv.pk] = Follow(conv.public_id, conv.pk, 0, 0)
        if follow is not None and message.seq == follow.seen + 1:
            # Nothing before it is missing here: the ack is the message itself, no read.
            frame = {**ack, "message": payload, "prev_seq": follow.sent}
            follow.seen = follow.sent = message.seq
            return [frame]
        if follow is not None and message.seq > follow.seen:
            # Deliver what came before it, and the message itself as the ack (not twice).
            return await session.catch_up(
                [follow], ack_message_pk=message.pk, ack_client_id=written.client_id, until=message.seq
            )
    return [{**ack, "message": payload}]


class _Place:
    """A send's place in its session's order: ``turn`` waits until every send of the session taken
    before it has been queued for writing (or refused); ``leave`` lets the next one go."""

    __slots__ = ("before", "mine", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self.before = session.last_send
        self.mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        session.last_send = self.mine

    async def turn(self) -> None:
        if self.before is not None and not self.before.done():
            await asyncio.shield(self.before)  # cancelled here, this send gives up; the one before goes on
        self.before = None

    def leave(self) -> None:
        if not self.mine.done():
            self.mine.set_result(None)
        if self.session.last_send is self.mine:
            self.session.last_send = None  # nothing in flight: an idle session keeps no future


def _take_on_reply(session: Session, conv: Conversation) -> None:
    assert session.membership is not None
    with scope(tenant=session.tenant):
        take_on_reply(conversation=conv, agent=session.membership)


async def _visitor_send_allowed(session: Session) -> bool:
    # On the event loop's own Redis client (a thread hop per send cost more than the round trips),
    # both windows in one round trip.
    return await within_limits_async(tenant_key=session.tenant.public_id, limits=[
        ("send.visitor", session.subject_public_id, settings.RT_VISITOR_SENDS_PER_MINUTE),
        ("send.ip", session.ip, settings.RT_IP_SENDS_PER_MINUTE),
    ])


def _start(
    session: Session, client_id: str, body: str, attachment_id: str | None
) -> tuple[Message, Conversation]:
    """On the database thread: a visitor's first message (new, or the one this client_id already wrote)."""
    assert session.contact is not None
    with scope(tenant=session.tenant):
        attachment = _unused_attachment(session.tenant, attachment_id) if attachment_id else None
        require_chat_allowed(session.contact)
        offline = not presence.team_online(session.tenant.pk) or not live_chat_allowed(session.tenant)
        message, conv = start_visitor_conversation(
            tenant=session.tenant, contact=session.contact, client_id=client_id, body=body, attachment=attachment,
            offline=offline,
        )
        return _with_relations(message), conv


def queue_message(
    session: Session, *, conversation: str, body: str, kind: str, client_id: str, attachment: str | None
) -> asyncio.Future[PostResult]:
    """Queue the write of a send into an existing conversation (by its contact, else by an agent)
    with the sends waiting beside it: one transaction for them all (``push.group_commit``).

    The conversation's access check, the upload (``attachment``: an unsent upload's id) and a
    repeated ``client_id`` are all settled by the batch; a refusal raises its ``DomainError``, from
    here (the contact may no longer chat) or from the future.
    """
    contact = session.contact
    if contact is not None:
        require_chat_allowed(contact)  # in memory: the session's contact holds its tenant
    if attachment is not None and kind == Message.Kind.TEXT:
        kind = Message.Kind.ATTACHMENT
    return group_commit.enqueue(SendRequest(
        to=ConversationRef(session.tenant.pk, public_id=conversation, contact_id=contact.pk if contact else None),
        author_type=Message.Author.CONTACT if contact is not None else Message.Author.AGENT,
        author_membership=None if contact is not None else session.membership,
        body=body, kind=kind, client_id=client_id, attachment_id=attachment, tenant=session.tenant,
    ))


def _with_relations(message: Message) -> Message:
    """The message with what ``message_payload`` reads, loaded in this (scoped) thread."""
    return Message.objects.select_related("author_membership__user", "attachment").get(pk=message.pk)


def _unused_attachment(tenant: Tenant, public_id: str) -> Attachment:
    """An uploaded attachment not yet sent in any message (ids are unguessable and single-use)."""
    attachment = access_attachment(tenant, public_id)
    if Message.objects.filter(attachment=attachment).exists():
        raise NotFound("No such attachment")
    return attachment
