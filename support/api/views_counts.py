"""/api/v1/conversations/counts: how many conversations each inbox tab (Mine, Unassigned, All) holds."""
from __future__ import annotations

from django.db.models import Count, Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from support.api import shapes
from support.api.base import TenantAPIView
from support.api.schema import example
from support.api.views_conversations import filter_conversations
from support.models import Conversation


class CountFilterSerializer(serializers.Serializer):
    """The list's `status`, `team` and `label` filters, validated the same way (same 400 on bad input)."""

    status = serializers.ChoiceField(
        choices=Conversation.Status.choices, required=False,
        help_text="Count only this status; omitted = every status (as the list)",
    )
    team = serializers.CharField(required=False, max_length=40, help_text="`none` or a team id")
    label = serializers.CharField(  # type: ignore[assignment]
        required=False, max_length=40, help_text="A label id"
    )


class ConversationCountsView(TenantAPIView):
    @extend_schema(
        operation_id="conversations_counts", tags=["conversations"],
        summary="How many conversations each inbox tab holds",
        description="Counts with the same `status`, `team` and `label` filters as the list, so each number is the "
        "length of the list `assignee=me` (`mine`), `assignee=none` (`unassigned`) or no assignee filter "
        "(`all`) would return. `mine` is left out for an API token: a token acts for the tenant, not an agent.",
        parameters=[CountFilterSerializer],
        responses={200: shapes.ConversationCountsSerializer},
        examples=[
            example("Signed-in agent", {"mine": 3, "unassigned": 5, "all": 12}),
            example("API token", {"unassigned": 5, "all": 12}),
        ],
    )
    def get(self, request: Request) -> Response:
        filters = CountFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = filter_conversations(
            Conversation.objects.with_scope(tenant=self.tenant), view=self, params=filters.validated_data
        )
        aggregates = {"all": Count("pk"), "unassigned": Count("pk", filter=Q(assignee__isnull=True))}
        if self.actor is not None:
            aggregates["mine"] = Count("pk", filter=Q(assignee=self.actor))
        # One query: the three counts are conditional aggregates over the same filtered rows.
        counts = queryset.aggregate(**aggregates)
        return Response({key: counts[key] for key in ("mine", "unassigned", "all") if key in counts})
