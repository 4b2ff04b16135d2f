"""/api/v1/reports: volume, first-response and resolution times and CSAT by day and by agent; live summary."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from support import online_agents
from support.api import reports, shapes
from support.api.base import TenantAPIView
from support.api.schema import example


class RangeSerializer(serializers.Serializer):
    since = serializers.DateField(required=False, help_text="First day (tenant's time zone); default 29 days ago")
    until = serializers.DateField(required=False, help_text="Last day, inclusive; default today")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        until = attrs.get("until") or timezone.now().astimezone(reports.tenant_zone(self.context["tenant"])).date()
        since = attrs.get("since") or until - timedelta(days=29)
        if since > until:
            raise serializers.ValidationError({"since": ["Must not be after `until`."]})
        if (until - since).days >= reports.MAX_RANGE_DAYS:
            raise serializers.ValidationError({"since": [f"The range is at most {reports.MAX_RANGE_DAYS} days."]})
        if since < date(2000, 1, 1) or until > date(9000, 1, 1):
            raise serializers.ValidationError({"since": ["Out of range."]})
        return {"since": since, "until": until}


class DurationSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    average_seconds = serializers.FloatField(allow_null=True)


class CsatSerializer(serializers.Serializer):
    ratings = serializers.IntegerField()
    average = serializers.FloatField(allow_null=True, help_text="Average rating, 1–5")
    satisfied_percent = serializers.FloatField(allow_null=True, help_text="Share of ratings of 4 or 5")


class FiguresSerializer(serializers.Serializer):
    conversations = serializers.IntegerField(help_text="Conversations started")
    resolved = serializers.IntegerField(help_text="Of those, resolved now")
    first_response = DurationSerializer(help_text="From start to the first agent reply")
    resolution = DurationSerializer(help_text="From start to resolution (resolved ones)")
    csat = CsatSerializer()


class DayFiguresSerializer(FiguresSerializer):
    date = serializers.DateField()


class ConversationReportSerializer(serializers.Serializer):
    time_zone = serializers.CharField()
    since = serializers.DateField()
    until = serializers.DateField()
    totals = FiguresSerializer()
    days = DayFiguresSerializer(many=True)


class AgentFiguresSerializer(FiguresSerializer):
    agent = shapes.AgentRefSerializer()


class AgentReportSerializer(serializers.Serializer):
    time_zone = serializers.CharField()
    since = serializers.DateField()
    until = serializers.DateField()
    agents = AgentFiguresSerializer(many=True)
    unassigned = FiguresSerializer()


class HourCountSerializer(serializers.Serializer):
    hour = serializers.IntegerField(min_value=0, max_value=23)
    conversations = serializers.IntegerField()


class DayCountSerializer(serializers.Serializer):
    date = serializers.DateField()
    conversations = serializers.IntegerField()


class TodaySerializer(serializers.Serializer):
    conversations = serializers.IntegerField(help_text="Started today")
    resolved = serializers.IntegerField(help_text="Resolved today (whenever they started)")
    first_response_median_seconds = serializers.FloatField(allow_null=True)
    resolution_median_seconds = serializers.FloatField(allow_null=True)


class SummarySerializer(serializers.Serializer):
    time_zone = serializers.CharField()
    open = serializers.IntegerField(help_text="Open conversations now")
    waiting = serializers.IntegerField(help_text="Open and waiting for an agent now")
    online_agents = serializers.IntegerField()
    today = TodaySerializer()
    by_hour_today = HourCountSerializer(many=True)
    by_day = DayCountSerializer(many=True, help_text="The last 30 days, oldest first")


_FIGURES = {
    "conversations": 42,
    "resolved": 40,
    "first_response": {"count": 41, "median_seconds": 95.0, "average_seconds": 130.5},
    "resolution": {"count": 40, "median_seconds": 5400.0, "average_seconds": 7200.0},
    "csat": {"ratings": 12, "average": 4.5, "satisfied_percent": 91.7},
}


class ConversationReportView(TenantAPIView):
    @extend_schema(
        operation_id="reports_conversations",
        tags=["reports"],
        summary="Volume, response times and CSAT by day",
        description=reports.__doc__,
        parameters=[RangeSerializer],
        responses={200: ConversationReportSerializer},
        examples=[
            example(
                "Report",
                {
                    "time_zone": "Europe/Paris",
                    "since": "2026-11-26",
                    "until": "2026-11-26",
                    "totals": _FIGURES,
                    "days": [{"date": "2026-11-26", **_FIGURES}],
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        bounds = RangeSerializer(data=request.query_params, context={"tenant": self.tenant})
        bounds.is_valid(raise_exception=True)
        return Response(reports.by_day(tenant=self.tenant, **bounds.validated_data))


class AgentReportView(TenantAPIView):
    @extend_schema(
        operation_id="reports_agents",
        examples=[
            example(
                "Report",
                {
                    "time_zone": "UTC",
                    "since": "2026-11-26",
                    "until": "2026-11-26",
                    "agents": [{"agent": {"id": "ag_1k…", "name": "Alice", "role": "agent"}, **_FIGURES}],
                    "unassigned": {**_FIGURES, "conversations": 0, "resolved": 0},
                },
            )
        ],
        tags=["reports"],
        summary="Volume, response times and CSAT by agent",
        description="Conversations count for their current assignee. " + (reports.__doc__ or ""),
        parameters=[RangeSerializer],
        responses={200: AgentReportSerializer},
    )
    def get(self, request: Request) -> Response:
        bounds = RangeSerializer(data=request.query_params, context={"tenant": self.tenant})
        bounds.is_valid(raise_exception=True)
        return Response(reports.by_agent(tenant=self.tenant, **bounds.validated_data))


class SummaryView(TenantAPIView):
    @extend_schema(
        operation_id="reports_summary",
        examples=[
            example(
                "Summary",
                {
                    "time_zone": "UTC",
                    "open": 12,
                    "waiting": 3,
                    "online_agents": 4,
                    "today": {
                        "conversations": 40,
                        "resolved": 31,
                        "first_response_median_seconds": 95.0,
                        "resolution_median_seconds": 5400.0,
                    },
                    "by_hour_today": [{"hour": h, "conversations": 2} for h in range(24)],
                    "by_day": [{"date": "2026-11-26", "conversations": 40}],
                },
            )
        ],
        tags=["reports"],
        summary="Live figures for the dashboard",
        description="Open and waiting conversations and online agents now; today's medians and conversations by "
        "hour, and conversations by day for the last 30 days (tenant's time zone).",
        responses={200: SummarySerializer},
    )
    def get(self, request: Request) -> Response:
        online = len(online_agents.online_agent_ids(self.tenant.pk))
        return Response(reports.summary(tenant=self.tenant, online_agents=online))
