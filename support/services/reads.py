"""Read receipts: "the contact (or the agents) have read up to seq N" — monotonic, never backwards."""
from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from push import fanout
from support.errors import ValidationFailed
from support.models import Conversation

READERS = ("contact", "agent")


@dataclass(frozen=True)
class ReadResult:
    seq: int
    changed: bool


@transaction.atomic
def mark_read(*, conversation: Conversation, reader: str, seq: int, origin: str = "") -> ReadResult:
    """Move the reader's mark up to ``seq`` (capped at the conversation's last seq).

    A lower or equal ``seq`` changes nothing. On a change the conversation group gets a
    ``conversation.read`` wake-up after commit; ``origin`` (the connection id) lets the sender's
    own connection skip it.
    """
    if reader not in READERS:
        raise ValidationFailed(f"reader must be one of {READERS}", code="invalid_field")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValidationFailed("seq must be a non-negative integer", code="invalid_field")
    field = "contact_last_read_seq" if reader == "contact" else "agent_last_read_seq"
    conv = Conversation.objects.select_for_update().get(pk=conversation.pk)
    target = min(seq, conv.last_seq)
    if target <= getattr(conv, field):
        return ReadResult(getattr(conv, field), changed=False)
    setattr(conv, field, target)
    conv.save(update_fields=[field])
    setattr(conversation, field, target)
    tenant_id, conv_id = conv.tenant_id, conv.pk
    transaction.on_commit(
        lambda: fanout.publish(
            fanout.conversation_group(tenant_id, conv_id),
            {"type": "conversation.read", "conversation": conv_id, "reader": reader, "seq": target,
             "origin": origin},
        )
    )
    return ReadResult(target, changed=True)
