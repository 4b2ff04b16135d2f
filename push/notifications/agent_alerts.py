"""Alerting agents who are not connected: web push to each subscribed browser, email as fallback.

Triggers: a conversation assigned to an agent (by someone else), and a visitor message in a
conversation assigned to the agent. Agents connected to the dashboard see these live and get
nothing. Each (event, agent) is notified once (``receipts``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django_scopes import scope

from push import webpush
from push.models import PushSubscription
from push.notifications.email import send_templated
from push.notifications.online import agent_connected
from push.notifications.preferences import preferences_of
from support.access import find_by_public_id
from support.events import receipts
from support.events.models import NotificationReceipt, OutboxEvent
from support.language import user_language
from support.models import Conversation, Membership, Message

log = logging.getLogger(__name__)

PREVIEW_CHARS = 140


@dataclass(frozen=True)
class Alert:
    reason: str  # "assigned" or "message": picks the preference keys push_<reason> / email_<reason>
    membership: Membership
    conversation: Conversation
    title: str
    body: str


def handle_event(event: OutboxEvent) -> None:
    alert = _alert_for(event)
    if alert is not None:
        notify(event_public_id=event.public_id, alert=alert)


def _alert_for(event: OutboxEvent) -> Alert | None:
    payload: dict[str, Any] = event.payload
    with scope(tenant=event.tenant):
        if event.type == "conversation.assigned":
            assignee = (payload.get("conversation") or {}).get("assignee")
            if not assignee or assignee.get("id") == payload.get("actor"):
                return None  # unassigned, or the agent took it themselves
            conv = _conversation(event, payload["conversation"]["id"])
            member = find_by_public_id(Membership.objects.select_related("user"), assignee["id"],
                                       tenant=event.tenant_id)
            if conv is None or member is None or conv.assignee_id != member.pk:
                return None  # gone, or reassigned since: the newer assignment alerts its agent
            contact = str(conv.contact)
            with translation.override(user_language(member.user)):
                title = _("Conversation assigned to you: %(contact)s") % {"contact": contact}
                body = _preview(_last_visitor_text(conv)) or _("Open it to reply.")
                return Alert("assigned", member, conv, title, body)
        if event.type == "message.created":
            message = payload.get("message") or {}
            if (message.get("author") or {}).get("type") != Message.Author.CONTACT:
                return None
            if message.get("kind") not in (Message.Kind.TEXT, Message.Kind.ATTACHMENT):
                return None
            conv = _conversation(event, message.get("conversation"))
            if conv is None or conv.assignee is None:
                return None
            with translation.override(user_language(conv.assignee.user)):
                body = message.get("body") or (message.get("attachment") or {}).get("name") or _("(attachment)")
                title = _("New message from %(contact)s") % {"contact": conv.contact}
                return Alert("message", conv.assignee, conv, title, _preview(body))
    return None


def _conversation(event: OutboxEvent, public_id: object) -> Conversation | None:
    conversations = Conversation.objects.select_related("contact", "assignee__user", "tenant")
    return find_by_public_id(conversations, public_id, tenant=event.tenant_id)


def _last_visitor_text(conv: Conversation) -> str:
    message = (
        Message.objects.filter(conversation=conv, author_type=Message.Author.CONTACT, kind=Message.Kind.TEXT)
        .order_by("-seq").first()
    )
    return message.body if message else ""


def _preview(text: str) -> str:
    return Truncator(" ".join(text.split())).chars(PREVIEW_CHARS)


def dashboard_link(conv: Conversation) -> str:
    return f"{settings.SITE_URL}/app/?conversation={conv.public_id}"


def notify(*, event_public_id: str, alert: Alert) -> list[str]:
    """Push to the agent's browsers, else email; returns the channels used (empty: nothing sent)."""
    member = alert.membership
    if not member.is_active:
        return []
    prefs = preferences_of(member)
    push_on, email_on = prefs[f"push_{alert.reason}"], prefs[f"email_{alert.reason}"]
    if not (push_on or email_on) or agent_connected(member):
        return []
    receipt = receipts.claim(
        event_public_id=event_public_id, kind=NotificationReceipt.Kind.AGENT_ALERT, membership=member
    )
    if receipt is None:
        return []  # already notified for this event
    channels: list[str] = []
    try:
        if push_on and _push(alert):
            channels.append("push")
        if not channels and email_on:
            _email(alert)
            channels.append("email")
    except Exception:
        receipts.release(receipt)
        raise
    receipts.finish(receipt, channels=channels)
    return channels


def _push(alert: Alert) -> bool:
    with scope(tenant=alert.membership.tenant):
        subscriptions = list(PushSubscription.objects.filter(membership=alert.membership).order_by("pk"))
    payload = {
        "title": alert.title, "body": alert.body, "url": dashboard_link(alert.conversation),
        "conversation": alert.conversation.public_id, "tag": alert.conversation.public_id,
        "tenant": alert.membership.tenant.public_id,
    }
    results = [webpush.send_push(subscription=sub, payload=payload) for sub in subscriptions]
    return webpush.PushResult.SENT in results


def _email(alert: Alert) -> None:
    tenant = alert.membership.tenant
    send_templated(
        tenant=tenant, to=[alert.membership.user.email], subject=alert.title, template="agent_alert",
        context={"alert": alert, "agent": alert.membership, "conversation": alert.conversation,
                 "link": dashboard_link(alert.conversation)},
        language=user_language(alert.membership.user),
    )
