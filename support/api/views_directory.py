"""/api/v1/agents (with presence), /teams, /labels and /canned-responses.

Everyone in the tenant reads these; only owners and admins (and read-write tokens) change them.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from support import access, online_agents
from support.access import access_canned, access_label, access_team, by_public_id, team_queryset
from support.api import shapes
from support.api.base import TenantAPIView
from support.api.errors import refusals_by_field
from support.api.idempotency import idempotent
from support.api.pagination import paginate
from support.api.schema import CURSOR, IDEMPOTENCY_KEY, LIMIT, deleted, example
from support.errors import NotFound
from support.models import CannedResponse, Label, Membership, Team
from support.services import directory

AGENT_EXAMPLE = {
    "id": "ag_1k…",
    "name": "Alice",
    "role": "agent",
    "email": "alice@example.com",
    "availability": "available",
    "presence": "online",
    "capacity": 5,
    "teams": ["tm_9x…"],
}

TEAM_EXAMPLE = {"id": "tm_9x…", "name": "Support", "members": ["ag_1k…", "ag_7q…"]}
LABEL_EXAMPLE = {"id": "lb_3p…", "name": "billing", "color": "#f59e0b"}
CANNED_EXAMPLE = {
    "id": "cr_5z…",
    "shortcut": "refund",
    "title": "Refund policy",
    "body": "You can get a refund within 30 days.",
}


# --- agents ----------------------------------------------------------------------------------
def _agents_out(members: list[Membership], tenant_id: int) -> list[dict[str, Any]]:
    # One presence read for the whole tenant (its own membership query + the presence store).
    presence = {row["id"]: row["status"] for row in online_agents.agents_presence(tenant_id)}
    return [
        shapes.agent_out(
            m,
            presence=presence.get(m.public_id, "offline"),
            team_ids=[t.public_id for t in m.team_list],  # type: ignore[attr-defined]
        )
        for m in members
    ]


def _agents(tenant_id: int) -> Any:
    return (
        Membership.objects.with_scope(tenant=tenant_id)
        .filter(is_active=True)
        .select_related("user")
        .prefetch_related(
            Prefetch("teams", queryset=Team.objects.with_scope(tenant=tenant_id).all(), to_attr="team_list")
        )
    )


class AgentListView(TenantAPIView):
    @extend_schema(
        operation_id="agents_list",
        tags=["agents"],
        summary="The tenant's agents with their presence",
        description="`presence` is live: online (connected and available), away (connected, set away) or offline.",
        parameters=[CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.AgentSerializer)},
        examples=[example("A page", {"results": [AGENT_EXAMPLE], "next": None})],
    )
    def get(self, request: Request) -> Response:
        page = paginate(request, _agents(self.tenant.pk), ordering=("created_at", "public_id"))
        return Response({"results": _agents_out(page.rows, self.tenant.pk), "next": page.next_url})


class AgentDetailView(TenantAPIView):
    @extend_schema(
        operation_id="agents_retrieve",
        tags=["agents"],
        summary="One agent with presence",
        responses={200: shapes.AgentSerializer},
        examples=[example("Agent", AGENT_EXAMPLE)],
    )
    def get(self, request: Request, agent_id: str) -> Response:
        member = by_public_id(_agents(self.tenant.pk), agent_id, tenant=self.tenant, what="agent")
        return Response(_agents_out([member], self.tenant.pk)[0])


# Which input a refusal of the directory services is about (the settings' forms show it there).
_TEAM_FIELDS = {"invalid_name": "name", "duplicate": "name", "invalid_member": "members"}
_LABEL_FIELDS = {"invalid_name": "name", "duplicate": "name", "invalid_color": "color"}
_CANNED_FIELDS = {"invalid_shortcut": "shortcut", "duplicate": "shortcut", "invalid_title": "title",
                  "invalid_body": "body"}


# --- teams -----------------------------------------------------------------------------------
class TeamWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80, required=False)
    members = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=500,
        help_text="The complete list of member agent ids",
    )


def _member_list(view: TenantAPIView, ids: list[str]) -> list[Membership]:
    members, unknown = [], []
    for agent_id in dict.fromkeys(ids):
        try:
            members.append(access.access_member(view.tenant, agent_id))
        except NotFound:
            unknown.append(f"No such agent: {agent_id}.")
    if unknown:
        raise serializers.ValidationError({"members": unknown})
    return members


class TeamListView(TenantAPIView):
    admin_writes = True

    @extend_schema(
        operation_id="teams_list",
        examples=[example("A page", {"results": [TEAM_EXAMPLE], "next": None})],
        tags=["teams"],
        summary="Teams",
        parameters=[CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.TeamSerializer)},
    )
    def get(self, request: Request) -> Response:
        # Queries: the teams + one for their members.
        page = paginate(request, team_queryset(self.tenant), ordering=("name", "public_id"))
        return Response({"results": [shapes.team_out(t) for t in page.rows], "next": page.next_url})

    @extend_schema(
        operation_id="teams_create",
        examples=[
            example("New team", {"name": "Billing", "members": ["ag_1k…"]}, request=True),
            example("Team", TEAM_EXAMPLE, status=201),
        ],
        tags=["teams"],
        summary="Create a team (owners and admins)",
        parameters=[IDEMPOTENCY_KEY],
        request=TeamWriteSerializer,
        responses={201: shapes.TeamSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = TeamWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "name" not in data:
            raise serializers.ValidationError({"name": ["This field is required."]})
        members = _member_list(self, data.get("members", []))
        with refusals_by_field(_TEAM_FIELDS):
            team = directory.create_team(tenant=self.tenant, name=data["name"], members=members)
        return Response(shapes.team_out(access_team(self.tenant, team.public_id)), status=status.HTTP_201_CREATED)


class TeamDetailView(TenantAPIView):
    admin_writes = True

    @extend_schema(
        operation_id="teams_retrieve",
        examples=[example("Team", TEAM_EXAMPLE)],
        tags=["teams"],
        summary="One team",
        responses={200: shapes.TeamSerializer},
    )
    def get(self, request: Request, team_id: str) -> Response:
        return Response(shapes.team_out(access_team(self.tenant, team_id)))

    @extend_schema(
        operation_id="teams_update",
        examples=[
            example("Set members", {"members": ["ag_1k…", "ag_7q…"]}, request=True),
            example("Team", TEAM_EXAMPLE),
        ],
        tags=["teams"],
        summary="Rename a team or set its members",
        request=TeamWriteSerializer,
        responses={200: shapes.TeamSerializer},
    )
    def patch(self, request: Request, team_id: str) -> Response:
        team = access_team(self.tenant, team_id)
        payload = TeamWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        members = _member_list(self, data["members"]) if "members" in data else None
        with refusals_by_field(_TEAM_FIELDS):
            directory.update_team(team=team, name=data.get("name"), members=members)
        return Response(shapes.team_out(access_team(self.tenant, team_id)))

    @extend_schema(
        operation_id="teams_destroy",
        tags=["teams"],
        summary="Delete a team",
        responses={204: deleted("Deleted; its conversations keep going without a team")},
    )
    def delete(self, request: Request, team_id: str) -> Response:
        directory.delete_team(team=access_team(self.tenant, team_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- labels ----------------------------------------------------------------------------------
class LabelWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, required=False)
    color = serializers.CharField(max_length=7, required=False, help_text="Like #64748b")


class LabelListView(TenantAPIView):
    admin_writes = True

    @extend_schema(
        operation_id="labels_list",
        examples=[example("A page", {"results": [LABEL_EXAMPLE], "next": None})],
        tags=["labels"],
        summary="Labels",
        parameters=[CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.LabelSerializer)},
    )
    def get(self, request: Request) -> Response:
        page = paginate(request, Label.objects.with_scope(tenant=self.tenant), ordering=("name", "public_id"))
        return Response({"results": [shapes.label_out(label) for label in page.rows], "next": page.next_url})

    @extend_schema(
        operation_id="labels_create",
        examples=[
            example("New label", {"name": "billing", "color": "#f59e0b"}, request=True),
            example("Label", LABEL_EXAMPLE, status=201),
        ],
        tags=["labels"],
        summary="Create a label (owners and admins)",
        parameters=[IDEMPOTENCY_KEY],
        request=LabelWriteSerializer,
        responses={201: shapes.LabelSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = LabelWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        if "name" not in data:
            raise serializers.ValidationError({"name": ["This field is required."]})
        with refusals_by_field(_LABEL_FIELDS):
            label = directory.create_label(tenant=self.tenant, name=data["name"], color=data.get("color", "#64748b"))
        return Response(shapes.label_out(label), status=status.HTTP_201_CREATED)


class LabelDetailView(TenantAPIView):
    admin_writes = True

    @extend_schema(
        operation_id="labels_retrieve",
        examples=[example("Label", LABEL_EXAMPLE)],
        tags=["labels"],
        summary="One label",
        responses={200: shapes.LabelSerializer},
    )
    def get(self, request: Request, label_id: str) -> Response:
        return Response(shapes.label_out(access_label(self.tenant, label_id)))

    @extend_schema(
        operation_id="labels_update",
        examples=[example("Recolour", {"color": "#ef4444"}, request=True), example("Label", LABEL_EXAMPLE)],
        tags=["labels"],
        summary="Rename or recolour a label",
        request=LabelWriteSerializer,
        responses={200: shapes.LabelSerializer},
    )
    def patch(self, request: Request, label_id: str) -> Response:
        label = access_label(self.tenant, label_id)
        payload = LabelWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        with refusals_by_field(_LABEL_FIELDS):
            label = directory.update_label(label=label, **payload.validated_data)
        return Response(shapes.label_out(label))

    @extend_schema(
        operation_id="labels_destroy",
        tags=["labels"],
        summary="Delete a label",
        responses={204: deleted("Deleted; removed from its conversations")},
    )
    def delete(self, request: Request, label_id: str) -> Response:
        directory.delete_label(label=access_label(self.tenant, label_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- canned responses ------------------------------------------------------------------------
class CannedWriteSerializer(serializers.Serializer):
    shortcut = serializers.CharField(max_length=41, required=False, help_text="Typed as /shortcut in the composer")
    title = serializers.CharField(max_length=80, required=False, allow_blank=True)
    body = serializers.CharField(max_length=5000, required=False)


class CannedListView(TenantAPIView):
    admin_writes = True

    @extend_schema(
        operation_id="canned_responses_list",
        examples=[example("A page", {"results": [CANNED_EXAMPLE], "next": None})],
        tags=["canned responses"],
        summary="Canned responses",
        parameters=[OpenApiParameter("q", str, description="Shortcut prefix or words of the title"), CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.CannedResponseSerializer)},
    )
    def get(self, request: Request) -> Response:
        canned = CannedResponse.objects.with_scope(tenant=self.tenant)
        q = (request.query_params.get("q") or "").strip().lstrip("/")
        if len(q) > 80:
            raise serializers.ValidationError({"q": ["At most 80 characters."]})
        if q:
            canned = canned.filter(Q(shortcut__istartswith=q) | Q(title__icontains=q))
        page = paginate(request, canned, ordering=("shortcut", "public_id"))
        return Response({"results": [shapes.canned_out(c) for c in page.rows], "next": page.next_url})

    @extend_schema(
        operation_id="canned_responses_create",
        examples=[
            example(
                "New",
                {"shortcut": "refund", "title": "Refund policy", "body": "You can get a refund within 30 days."},
                request=True,
            ),
            example("Canned response", CANNED_EXAMPLE, status=201),
        ],
        tags=["canned responses"],
        summary="Create a canned response (owners and admins)",
        parameters=[IDEMPOTENCY_KEY],
        request=CannedWriteSerializer,
        responses={201: shapes.CannedResponseSerializer},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = CannedWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        missing = {k: ["This field is required."] for k in ("shortcut", "body") if k not in data}
        if missing:
            raise serializers.ValidationError(missing)
        with refusals_by_field(_CANNED_FIELDS):
            canned = directory.create_canned_response(
                tenant=self.tenant, shortcut=data["shortcut"], body=data["body"], title=data.get("title", "")
            )
        return Response(shapes.canned_out(canned), status=status.HTTP_201_CREATED)


class CannedDetailView(TenantAPIView):
    admin_writes = True

    @extend_schema(
        operation_id="canned_responses_retrieve",
        examples=[example("Canned response", CANNED_EXAMPLE)],
        tags=["canned responses"],
        summary="One canned response",
        responses={200: shapes.CannedResponseSerializer},
    )
    def get(self, request: Request, canned_id: str) -> Response:
        return Response(shapes.canned_out(access_canned(self.tenant, canned_id)))

    @extend_schema(
        operation_id="canned_responses_update",
        examples=[example("Retitle", {"title": "Refunds"}, request=True), example("Canned response", CANNED_EXAMPLE)],
        tags=["canned responses"],
        summary="Change a canned response",
        request=CannedWriteSerializer,
        responses={200: shapes.CannedResponseSerializer},
    )
    def patch(self, request: Request, canned_id: str) -> Response:
        canned = access_canned(self.tenant, canned_id)
        payload = CannedWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        with refusals_by_field(_CANNED_FIELDS):
            canned = directory.update_canned_response(canned=canned, **payload.validated_data)
        return Response(shapes.canned_out(canned))

    @extend_schema(
        operation_id="canned_responses_destroy",
        tags=["canned responses"],
        summary="Delete a canned response",
        responses={204: deleted()},
    )
    def delete(self, request: Request, canned_id: str) -> Response:
        directory.delete_canned_response(canned=access_canned(self.tenant, canned_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
