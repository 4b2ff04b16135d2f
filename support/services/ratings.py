"""Satisfaction ratings: a visitor rates a resolved conversation 1–5 with an optional comment."""
from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from support.errors import ValidationFailed
from support.events import fanout
from support.events.outbox import emit_event
from support.models import Conversation
from support.payloads import CONVERSATION_RELATED, conversation_payload

COMMENT_MAX = 1000


@transaction.atomic
def rate_conversation(*, conversation: Conversation, rating: object, comment: object = "") -> Conversation:
    """Record the visitor's rating; rating again replaces the earlier one (the latest opinion counts)."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationFailed(_("rating must be a whole number from 1 to 5"), code="invalid_rating")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        raise ValidationFailed(_("comment must be text"), code="invalid_comment")
    comment = comment.replace("\x00", "").strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationFailed(_("comment is longer than %(max)s characters") % {"max": COMMENT_MAX}, code="too_long")
    conv = Conversation.objects.select_for_update(of=("self",)).select_related(*CONVERSATION_RELATED).get(
        pk=conversation.pk
    )
    if conv.status != Conversation.Status.RESOLVED:
        raise ValidationFailed(_("Only a resolved conversation can be rated"), code="not_resolved")
    conv.rating = rating
    conv.rating_comment = comment
    conv.updated_at = timezone.now()
    conv.save(update_fields=["rating", "rating_comment", "updated_at"])
    emit_event(
        tenant=conv.tenant, type="conversation.rated",
        payload={"conversation": conversation_payload(conv), "rating": rating, "comment": comment},
        ordering_key=conv.public_id,
    )
    tenant_id, conv_id = conv.tenant_id, conv.pk
    transaction.on_commit(
        lambda: fanout.publish_inbox(tenant_id, conv_id)
    )
    return conv
