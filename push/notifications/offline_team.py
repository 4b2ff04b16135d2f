"""Emailing the team when a visitor starts a conversation while no agent is online.

Recipients: the tenant's owners and admins, plus the members of the conversation's team (or
every agent when it has no team), who keep ``email_offline_conversation`` on. Each gets one
email per conversation (``receipts``).
"""
from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext as _
from django_scopes import scope

from push.notifications.email import send_templated
from push.notifications.preferences import preferences_of
from support.access import find_by_public_id
from support.events import receipts
from support.events.models import NotificationReceipt, OutboxEvent
from support.language import user_language
from support.models import Conversation, Membership, Message


def handle_event(event: OutboxEvent) -> int:
    """Email the team about an offline conversation; returns how many people were emailed now."""
    summary = event.payload.get("conversation") or {}
    if not summary.get("offline"):
        return 0
    with scope(tenant=event.tenant):
        conv = find_by_public_id(Conversation.objects.select_related("contact", "team", "tenant"), summary.get("id"),
                                 tenant=event.tenant_id)
        if conv is None:
            return 0
        recipients = [m for m in _recipients(conv) if preferences_of(m)["email_offline_conversation"]]
        # Whatever the visitor has written by now (usually their first message, posted with the start).
        messages = list(
            Message.objects.filter(conversation=conv, author_type=Message.Author.CONTACT)
            .exclude(kind=Message.Kind.EVENT).order_by("seq")[:10]
        )
    emailed = 0
    for member in recipients:
        receipt = receipts.claim(
            event_public_id=event.public_id, kind=NotificationReceipt.Kind.OFFLINE_CONVERSATION, membership=member
        )
        if receipt is None:
            continue
        try:
            language = user_language(member.user)
            with translation.override(language):
                subject = _("New conversation while you were offline: %(contact)s") % {"contact": conv.contact}
            send_templated(
                tenant=conv.tenant, to=[member.user.email], subject=subject, language=language,
                template="offline_conversation",
                context={"conversation": conv, "contact": conv.contact, "messages": messages, "agent": member,
                         "link": f"{settings.SITE_URL}/app/?conversation={conv.public_id}"},
                reply_to=[conv.contact.email] if conv.contact.email else None,
            )
        except Exception:
            receipts.release(receipt)
            raise
        receipts.finish(receipt, channels=["email"])
        emailed += 1
    return emailed


def _recipients(conv: Conversation) -> list[Membership]:
    admins = Q(role__in=[Membership.Role.OWNER, Membership.Role.ADMIN])
    team = Q(teams=conv.team) if conv.team is not None else Q(role=Membership.Role.AGENT)
    return list(
        Membership.objects.filter(admins | team, tenant_id=conv.tenant_id, is_active=True)
        .select_related("user", "tenant").distinct().order_by("pk")
    )
