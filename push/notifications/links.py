"""Signed links that reopen a conversation for its visitor (in digest emails)."""
from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from support.errors import NotFound
from support.models import Conversation, Tenant

SALT = "push.notifications.conversation-link"


def conversation_token(conversation: Conversation) -> str:
    return signing.dumps(
        {"t": conversation.tenant.public_id, "c": conversation.public_id, "k": conversation.contact.public_id},
        salt=SALT, compress=True,
    )


def conversation_link(conversation: Conversation) -> str:
    return settings.SITE_URL + reverse("notifications:conversation-page", args=[conversation_token(conversation)])


def read_conversation_token(token: str) -> Conversation:
    """The conversation a link points to; NotFound if forged, expired, or no longer the contact's."""
    max_age = settings.CONVERSATION_LINK_MAX_AGE_DAYS * 86400
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
        tenant = Tenant.objects.get(public_id=data["t"])
        conversation = (
            Conversation.objects.with_scope(tenant=tenant).select_related("contact", "tenant")
            .get(tenant=tenant, public_id=data["c"])
        )
    except (signing.BadSignature, Tenant.DoesNotExist, Conversation.DoesNotExist, KeyError, TypeError):
        raise NotFound("This link is invalid or has expired") from None
    if conversation.contact.public_id != data.get("k"):
        raise NotFound("This link is invalid or has expired")
    return conversation
