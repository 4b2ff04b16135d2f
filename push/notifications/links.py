"""Signed links that reopen a conversation for its visitor (in digest emails)."""
from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from support.access import access_conversation, access_tenant
from support.errors import NotFound
from support.models import Conversation

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
        tenant = access_tenant(data["t"])
        conversation = access_conversation(tenant, data["c"])
    except (signing.BadSignature, NotFound, KeyError, TypeError):
        raise NotFound("This link is invalid or has expired") from None
    conversation.tenant = tenant
    if conversation.contact.public_id != data.get("k"):
        raise NotFound("This link is invalid or has expired")
    return conversation
