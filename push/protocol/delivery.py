"""Delivering a conversation's messages to one connection, in seq order, each once.

A ``Follow`` is where a connection stands in one conversation. A message reaches the client
either as the very next seq (carried by its after-commit wake-up, or the sender's own ack) or
read from the database after the last seq delivered (``replay``), in pages of ``REPLAY_BATCH``.
Visitors never see notes or agent-only events: the query and the test of a carried message agree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django_scopes import scope

from support.models import Conversation, Message, Tenant
from support.payloads import message_payload

# Messages read per query while catching up; a conversation further behind takes several pages.
REPLAY_BATCH = 200
# System events a visitor sees; the rest (team changes, …) are for agents only.
VISITOR_EVENTS = ("assigned", "status_changed")
_VISIBLE_TO_CONTACT = Q(kind__in=[Message.Kind.TEXT, Message.Kind.ATTACHMENT]) | Q(
    kind=Message.Kind.EVENT, data__event__in=VISITOR_EVENTS
)


@dataclass
class Follow:
    """One followed conversation: every message with ``seq <= seen`` this side may see has been
    delivered; ``sent`` is the seq of the last one delivered (the next one's ``prev_seq``)."""

    public_id: str
    pk: int
    seen: int
    sent: int


class Follows(dict[int, Follow]):
    """A connection's follows by conversation pk; every change sets ``changed``.

    A socket re-reads the bus groups it must listen to (``Session.groups``) after every frame and
    wake-up; with this flag it does so only when a follow came or went (the read formats and
    interns every group name: ~4 % of a ceiling run's samples when done per frame). Every method
    that can change a dict sets the flag, so no way of following a conversation is missed.
    """

    __slots__ = ("changed",)

    def __init__(self) -> None:
        super().__init__()
        self.changed = True

    def __setitem__(self, key: int, value: Follow) -> None:
        self.changed = True
        super().__setitem__(key, value)

    def __delitem__(self, key: int) -> None:
        self.changed = True
        super().__delitem__(key)

    def setdefault(self, key: int, default: Follow) -> Follow:  # type: ignore[override]
        self.changed = True
        return super().setdefault(key, default)

    def pop(self, key: int, *default: Any) -> Any:  # type: ignore[override]
        self.changed = True
        return super().pop(key, *default)

    def popitem(self) -> tuple[int, Follow]:
        self.changed = True
        return super().popitem()

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.changed = True
        super().update(*args, **kwargs)

    def clear(self) -> None:
        self.changed = True
        super().clear()

    def __ior__(self, other: Any) -> Follows:  # type: ignore[override,misc]
        self.changed = True
        return super().__ior__(other)


def visible_to_contact(kind: object, data: object) -> bool:
    if kind in (Message.Kind.TEXT, Message.Kind.ATTACHMENT):
        return True
    return kind == Message.Kind.EVENT and isinstance(data, dict) and data.get("event") in VISITOR_EVENTS


def replay(
    *, tenant: Tenant, follows: list[Follow], contact_only: bool, ack_pk: int | None = None,
    ack_client_id: str | None = None, until: int | None = None,
) -> list[dict[str, Any]]:
    """Everything after each follow's ``seen``, from the database (on its thread), in seq order.

    The message ``ack_pk`` (the sender's own) comes as its ``ack`` instead of a ``message``, and
    nothing after ``until`` (its seq) is read: a later message may be the ack of another send of
    this connection, still in flight (push/consumers.py, ``_Sends``), or comes with its wake-up.
    ``contact_only`` leaves out what a visitor may not see.
    """
    frames: list[dict[str, Any]] = []
    with scope(tenant=tenant):
        # Read the high-water marks first: every message up to them is committed.
        tops = dict(Conversation.objects.filter(pk__in=[f.pk for f in follows]).values_list("pk", "last_seq"))
        for follow in follows:
            top = tops.get(follow.pk, 0) if until is None else min(tops.get(follow.pk, 0), until)
            while follow.seen < top:
                query = Message.objects.filter(
                    conversation_id=follow.pk, seq__gt=follow.seen, seq__lte=top
                ).select_related("author_membership__user", "attachment").order_by("seq")
                if contact_only:
                    query = query.filter(_VISIBLE_TO_CONTACT)
                batch = list(query[:REPLAY_BATCH])
                for message in batch:
                    payload = message_payload(message, conversation_public_id=follow.public_id)
                    if message.pk == ack_pk:
                        frames.append({"type": "ack", "client_id": ack_client_id, "message": payload,
                                       "prev_seq": follow.sent})
                    else:
                        frames.append({"type": "message", "message": payload, "prev_seq": follow.sent})
                    follow.sent = message.seq
                follow.seen = top if len(batch) < REPLAY_BATCH else batch[-1].seq
    return frames


def deliver_carried(follow: Follow, message: dict[str, Any], *, contact_only: bool) -> list[dict[str, Any]]:
    """The next message of a followed conversation, as its (after-commit) wake-up carried it."""
    follow.seen = message["seq"]
    if contact_only and not visible_to_contact(message.get("kind"), message.get("data")):
        return []  # an internal note or an agents-only event: seen, never sent
    frame = {"type": "message", "message": message, "prev_seq": follow.sent}
    follow.sent = message["seq"]
    return [frame]


def on_wake_up(follow: Follow, event: dict[str, Any], *, contact_only: bool) -> list[dict[str, Any]] | None:
    """The frames a ``conversation.seq`` wake-up brings, or None when the database must be read
    (a gap, or a message too big to carry)."""
    seq = event.get("seq")
    if not isinstance(seq, int) or seq <= follow.seen:
        return []  # already delivered (e.g. our own ack)
    carried = event.get("message")
    if seq == follow.seen + 1 and isinstance(carried, dict) and carried.get("seq") == seq:
        return deliver_carried(follow, carried, contact_only=contact_only)
    return None
