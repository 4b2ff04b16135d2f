"""Outbox handlers of notifications and webhooks (autodiscovered by ``push.apps``).

Each is idempotent by event id: webhook deliveries are unique per (endpoint, event), digests per
(conversation, up_to_seq), agent and team emails per (event, kind, agent), email replies per
message (their Message-ID).
"""
from __future__ import annotations

from push.mqtt import credentials as mqtt_credentials
from push.notifications import agent_alerts, email_replies, offline_team, visitor_digest
from push.webhooks import delivery
from push.webhooks.events import WEBHOOK_EVENT_TYPES
from support.access import find_by_public_id
from support.events.handlers import outbox_handler
from support.events.models import OutboxEvent
from support.models import ApiToken, Membership
from support.plan_limits import WEBHOOKS, has_feature


@outbox_handler("webhooks.enqueue", events=list(WEBHOOK_EVENT_TYPES), ordered=True)
def enqueue_webhooks(event: OutboxEvent) -> None:
    # Ordered, so one conversation's deliveries are created (and then sent) in event order.
    if not has_feature(tenant=event.tenant, feature=WEBHOOKS):
        return  # the plan lost webhooks (e.g. downgraded): endpoints are kept, nothing is sent
    delivery.enqueue_for_event(event)


@outbox_handler("notify.visitor_digest", events=["message.created"])
def schedule_visitor_digest(event: OutboxEvent) -> None:
    visitor_digest.schedule_for_event(event)


@outbox_handler("email.send_reply", events=["message.created"])
def email_reply_to_visitor(event: OutboxEvent) -> None:
    # Not ordered: mail clients thread by References, and an ordered handler on every message
    # makes each dispatch wait on earlier events, which slows every send on SQLite.
    email_replies.handle_event(event)


@outbox_handler("notify.agent_alert", events=["conversation.assigned", "message.created"])
def alert_offline_agents(event: OutboxEvent) -> None:
    agent_alerts.handle_event(event)


@outbox_handler("notify.offline_conversation", events=["conversation.created"])
def email_team_about_offline_conversation(event: OutboxEvent) -> None:
    offline_team.handle_event(event)


@outbox_handler("mqtt.revoke_member", events=["membership.deactivated"])
def revoke_member_mqtt_credentials(event: OutboxEvent) -> None:
    # A deactivated agent's apps lose their broker clients (idempotent: none left, nothing done).
    membership = find_by_public_id(Membership.objects.with_scope(tenant=event.tenant), event.payload.get("membership"),
                                   tenant=event.tenant)
    if membership is not None:
        mqtt_credentials.revoke(membership=membership)


@outbox_handler("mqtt.revoke_api_token", events=["api_token.revoked"])
def revoke_api_token_mqtt_credentials(event: OutboxEvent) -> None:
    # The agent credentials an integration obtained with the token go with it (idempotent).
    token = find_by_public_id(ApiToken.objects.with_scope(tenant=event.tenant), event.payload.get("token"),
                              tenant=event.tenant)
    if token is not None:
        mqtt_credentials.revoke(api_token=token)
