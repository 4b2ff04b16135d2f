"""Read receipts: "the contact (or the agents) have read up to seq N" — monotonic, never backwards.

A receipt changes the conversation's inbox row (unread state, "seen" mark), so like every other
change of the row it bumps ``updated_at`` and republishes the row to the tenant's agents.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from support.errors import ValidationFailed
from support.events import fanout
from support.models import Conversation

READERS = ("contact", "agent")


@dataclass(frozen=True)
class ReadResult:
    seq: int
    changed: bool


@transaction.atomic
def mark_read(*, conversation: Conversation, reader: str, seq: int, origin: str = "") -> ReadResult:
    """Move the reader's mark up to ``seq`` (capped at the conversation's last seq).

    A lower or equal ``seq`` changes nothing. On a change, after commit, the conversation group
    gets a ``conversation.read`` wake-up (``origin``, the connection id, lets the sender's own
    connection skip it) and the tenant's agent connections get the new inbox row.
    """
    if reader not in READERS:
        raise ValidationFailed(_("reader must be one of %(readers)s") % {"readers": READERS}, code="invalid_field")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValidationFailed(_("seq must be a non-negative integer"), code="invalid_field")
    field = "contact_last_read_seq" if reader == "contact" else "agent_last_read_seq"
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    target = min(seq, conv.last_seq)
    if target <= getattr(conv, field):
        return ReadResult(getattr(conv, field), changed=False)
    setattr(conv, field, target)
    # updated_at versions the inbox row: agent connections drop a row no newer than one they sent,
    # and a reconnecting dashboard catches up by it.
    conv.updated_at = timezone.now()
    conv.save(update_fields=[field, "updated_at"])
    setattr(conversation, field, target)
    conversation.updated_at = conv.updated_at
    tenant_id, conv_id = conv.tenant_id, conv.pk

    def wake() -> None:
        fanout.publish(
            fanout.conversation_group(tenant_id, conv_id),
            {"type": "conversation.read", "conversation": conv_id, "reader": reader, "seq": target,
             "origin": origin},
        )
        fanout.publish_inbox(tenant_id, conv_id)

    transaction.on_commit(wake)
    return ReadResult(target, changed=True)
