"""/api/v1/conversations: list with filters and search, retrieve, and change status/assignee/team/labels."""
from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from support import access
from support.access import access_label, access_team, by_public_id
from support.api import shapes
from support.api.base import TenantAPIView
from support.api.pagination import paginate
from support.api.schema import CURSOR, LIMIT, example
from support.api.search import filter_conversations_by_text
from support.errors import NotFound
from support.models import Conversation, Tenant
from support.payloads import CONVERSATION_RELATED, labels_prefetch
from support.services import conversations as conversation_services

ORDERING = ("-updated_at", "-public_id")


def conversation_queryset(tenant: Tenant) -> QuerySet[Conversation]:
    return (
        Conversation.objects.with_scope(tenant=tenant)
        .select_related(*CONVERSATION_RELATED)
        # to_attr: Django then assigns the prefetched lists instead of building a related
        # manager queryset per conversation (which costs more CPU than the query itself).
        .prefetch_related(labels_prefetch(tenant))
    )


class ConversationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    assignee = serializers.CharField(required=False, max_length=40, help_text="`me`, `none` or an agent id")
    team = serializers.CharField(required=False, max_length=40, help_text="`none` or a team id")
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, max_length=40, help_text="A label id"
    )
    contact = serializers.CharField(required=False, max_length=40, help_text="A contact id")
    created_after = serializers.DateTimeField(required=False, help_text="Created at or after (ISO 8601)")
    created_before = serializers.DateTimeField(required=False, help_text="Created before (ISO 8601)")
    q = serializers.CharField(required=False, max_length=200, help_text="Full-text search of message text")


def filter_conversations(
    queryset: QuerySet[Conversation], *, view: TenantAPIView, params: dict[str, Any]
) -> QuerySet[Conversation]:
    # Unknown and foreign ids simply match nothing: the answer is an empty page either way.
    if "status" in params:
        queryset = queryset.filter(status=params["status"])
    assignee = params.get("assignee")
    if assignee == "me":
        if view.actor is None:
            raise serializers.ValidationError({"assignee": ["`me` needs a signed-in agent, not an API token."]})
        queryset = queryset.filter(assignee=view.actor)
    elif assignee == "none":
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee:
        queryset = queryset.filter(assignee__public_id=assignee)
    team = params.get("team")
    if team == "none":
        queryset = queryset.filter(team__isnull=True)
    elif team:
        queryset = queryset.filter(team__public_id=team)
    if params.get("label"):
        queryset = queryset.filter(labels__public_id=params["label"])
    if params.get("contact"):
        queryset = queryset.filter(contact__public_id=params["contact"])
    if params.get("created_after"):
        queryset = queryset.filter(created_at__gte=params["created_after"])
    if params.get("created_before"):
        queryset = queryset.filter(created_at__lt=params["created_before"])
    q = (params.get("q") or "").strip()
    if q:
        queryset = filter_conversations_by_text(queryset, tenant=view.tenant, q=q)
    return queryset


CONVERSATION_EXAMPLE = {
    "id": "cv_4k2j9x0q1m3n5b7v8c6z", "status": "open",
    "contact": {"id": "ct_8h2k…", "name": "Ada", "email": "ada@example.com", "verified": False,
                "attributes": {"plan": "pro"}, "context": {"page": "https://example.com/pricing"}},
    "assignee": {"id": "ag_1k…", "name": "Alice", "role": "agent"},
    "team": {"id": "tm_9x…", "name": "Support"}, "labels": [{"id": "lb_3p…", "name": "billing", "color": "#64748b"}],
    "subject": "", "channel": "chat", "email_address": "",
    "last_seq": 12, "contact_last_read_seq": 12, "agent_last_read_seq": 11, "offline": False,
    "queued": False, "snoozed_until": None, "rating": None, "created": "2026-11-26T09:12:03+00:00",
    "updated": "2026-11-26T09:30:00+00:00", "last_message_at": "2026-11-26T09:30:00+00:00",
    "last_message": {
        "id": "msg_7t1q…", "seq": 12, "kind": "text", "author": {"type": "agent", "id": "ag_1k…", "name": "Alice"},
        "preview": "Your refund went out this morning; it should reach your card within 3 days.",
        "attachment": None, "created": "2026-11-26T09:30:00+00:00",
    },
    "first_response_at": "2026-11-26T09:13:10+00:00", "resolved_at": None,
}


class ConversationListView(TenantAPIView):
    @extend_schema(
        operation_id="conversations_list", tags=["conversations"],
        summary="List conversations, newest activity first",
        parameters=[ConversationFilterSerializer, CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.ConversationSerializer)},
        examples=[example("A page", {"results": [CONVERSATION_EXAMPLE], "next": "https://…/api/v1/conversations?cursor=WyIy…"})],
    )
    def get(self, request: Request) -> Response:
        filters = ConversationFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = filter_conversations(conversation_queryset(self.tenant), view=self, params=filters.validated_data)
        # Queries: the page (with contact, assignee, user, team and the last message with its author
        # and attachment joined) + one for the page's labels.
        page = paginate(request, queryset, ordering=ORDERING)
        return Response({"results": [shapes.conversation_out(c) for c in page.rows], "next": page.next_url})


class ConversationUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Conversation.Status.choices, required=False)
    snoozed_until = serializers.DateTimeField(
        required=False, allow_null=True, help_text="Required with status=snoozed: when it reopens"
    )
    assignee = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Agent id, or null")
    team = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Team id, or null")
    labels = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=50,
        help_text="The complete list of label ids (replaces the current labels)",
    )
    channel = serializers.ChoiceField(
        choices=Conversation.Channel.choices, required=False,
        help_text="`email`: each agent reply goes out as an email (needs the visitor's address); `chat`: live",
    )


class ConversationDetailView(TenantAPIView):
    @extend_schema(
        operation_id="conversations_retrieve", tags=["conversations"], summary="One conversation",
        responses={200: shapes.ConversationSerializer}, examples=[example("Conversation", CONVERSATION_EXAMPLE)],
    )
    def get(self, request: Request, conversation_id: str) -> Response:
        conv = by_public_id(conversation_queryset(self.tenant), conversation_id, tenant=self.tenant,
                            what="conversation")
        return Response(shapes.conversation_out(conv))

    @extend_schema(
        operation_id="conversations_update", tags=["conversations"],
        summary="Change status, assignee, team, labels or channel",
        description="Only the given fields change. Each change is recorded in the conversation's history "
        "as an event message and sent to webhooks. All changes apply together or not at all.",
        request=ConversationUpdateSerializer, responses={200: shapes.ConversationSerializer},
        examples=[
            example("Resolve", {"status": "resolved"}, request=True),
            example("Snooze", {"status": "snoozed", "snoozed_until": "2026-11-27T09:00:00Z"}, request=True),
            example("Assign and label", {"assignee": "ag_1k…", "labels": ["lb_3p…"]}, request=True),
            example("Conversation", CONVERSATION_EXAMPLE),
        ],
    )
    def patch(self, request: Request, conversation_id: str) -> Response:
        conv = access.access_conversation(self.tenant, conversation_id)
        payload = ConversationUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        targets = self._resolve(data)
        actor = self.actor
        with transaction.atomic():
            if "status" in data:
                conv = conversation_services.set_status(
                    conversation=conv, status=data["status"], actor=actor, snoozed_until=data.get("snoozed_until")
                )
            elif data.get("snoozed_until"):
                raise serializers.ValidationError({"snoozed_until": ["Send it with status=snoozed."]})
            if "assignee" in data:
                conv = conversation_services.assign_conversation(
                    conversation=conv, assignee=targets["assignee"], actor=actor
                )
            if "team" in data:
                conv = conversation_services.set_team(conversation=conv, team=targets["team"], actor=actor)
            if "labels" in data:
                conv = conversation_services.set_labels(conversation=conv, labels=targets["labels"], actor=actor)
            if "channel" in data:
                conv = conversation_services.set_channel(conversation=conv, channel=data["channel"], actor=actor)
        fresh = conversation_queryset(self.tenant).get(pk=conv.pk)
        return Response(shapes.conversation_out(fresh))

    def _resolve(self, data: dict[str, Any]) -> dict[str, Any]:
        """Turn ids into objects first, so a bad id changes nothing."""
        targets: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        if "assignee" in data:
            try:
                targets["assignee"] = access.access_member(self.tenant, data["assignee"]) if data["assignee"] else None
            except NotFound:
                errors["assignee"] = ["No such agent."]
        if "team" in data:
            try:
                targets["team"] = access_team(self.tenant, data["team"]) if data["team"] else None
            except NotFound:
                errors["team"] = ["No such team."]
        if "labels" in data:
            labels = []
            for label_id in dict.fromkeys(data["labels"]):
                try:
                    labels.append(access_label(self.tenant, label_id))
                except NotFound:
                    errors.setdefault("labels", []).append(f"No such label: {label_id}.")
            targets["labels"] = labels
        if errors:
            raise serializers.ValidationError(errors)
        return targets
