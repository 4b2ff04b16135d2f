"""/api/v1/tokens (owners and admins, signed in) and /api/v1/me."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from support.access import access_token
from support.api import shapes
from support.api.base import TenantAPIView
from support.api.idempotency import idempotent
from support.api.pagination import paginate
from support.api.schema import CURSOR, IDEMPOTENCY_KEY, LIMIT, example
from support.models import ApiToken
from support.payloads import agent_payload
from support.services.api_tokens import create_token, revoke_token

TOKEN_EXAMPLE = {
    "id": "tok_5n…",
    "name": "CRM sync",
    "prefix": "sb_k2j9x0q1m3_",
    "scope": "read_write",
    "created": "2026-11-26T09:00:00+00:00",
    "created_by": "owner@example.com",
    "last_used_at": None,
    "revoked_at": None,
}


class TokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices, default=ApiToken.Scope.READ)


class TokenListView(TenantAPIView):
    admin_only = True
    session_only = True

    @extend_schema(
        operation_id="tokens_list",
        tags=["tokens"],
        summary="API tokens (owners and admins, signed in)",
        parameters=[CURSOR, LIMIT],
        responses={200: shapes.page_of(shapes.ApiTokenSerializer)},
        examples=[example("A page", {"results": [TOKEN_EXAMPLE], "next": None})],
    )
    def get(self, request: Request) -> Response:
        tokens = ApiToken.objects.with_scope(tenant=self.tenant).select_related("created_by")
        page = paginate(request, tokens, ordering=("-created_at", "-public_id"))  # one query
        return Response({"results": [shapes.token_out(t) for t in page.rows], "next": page.next_url})

    @extend_schema(
        operation_id="tokens_create",
        tags=["tokens"],
        summary="Create a token; the answer shows it once",
        parameters=[IDEMPOTENCY_KEY],
        request=TokenCreateSerializer,
        responses={201: shapes.IssuedApiTokenSerializer},
        examples=[
            example("New token", {"name": "CRM sync", "scope": "read_write"}, request=True),
            example("Issued", {**TOKEN_EXAMPLE, "token": "sb_k2j9x0q1m3_…"}, status=201),
        ],
    )
    @idempotent
    def post(self, request: Request) -> Response:
        payload = TokenCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        issued = create_token(
            tenant=self.tenant,
            name=payload.validated_data["name"],
            scope=payload.validated_data["scope"],
            created_by=request.user,  # type: ignore[arg-type]
        )
        return Response({**shapes.token_out(issued.token), "token": issued.plaintext}, status=status.HTTP_201_CREATED)


class TokenDetailView(TenantAPIView):
    admin_only = True
    session_only = True

    @extend_schema(
        operation_id="tokens_retrieve",
        examples=[example("Token", TOKEN_EXAMPLE)],
        tags=["tokens"],
        summary="One token (never its secret)",
        responses={200: shapes.ApiTokenSerializer},
    )
    def get(self, request: Request, token_id: str) -> Response:
        return Response(shapes.token_out(access_token(self.tenant, token_id)))

    @extend_schema(
        operation_id="tokens_revoke",
        examples=[example("Revoked", {**TOKEN_EXAMPLE, "revoked_at": "2026-11-27T10:00:00+00:00"})],
        tags=["tokens"],
        summary="Revoke a token (at once, for good)",
        responses={200: shapes.ApiTokenSerializer},
    )
    def delete(self, request: Request, token_id: str) -> Response:
        return Response(shapes.token_out(revoke_token(token=access_token(self.tenant, token_id))))


class TenantSummarySerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    slug = serializers.CharField()
    time_zone = serializers.CharField()


class MeSerializer(serializers.Serializer):
    agent = shapes.AgentRefSerializer(allow_null=True, help_text="The signed-in agent; null for an API token")
    role = serializers.CharField(help_text="owner, admin, agent — or `integration` for an API token")
    scope = serializers.ChoiceField(choices=ApiToken.Scope.choices)
    token = serializers.CharField(allow_null=True, help_text="Id of the API token in use, if any")
    tenant = TenantSummarySerializer()


class MeView(TenantAPIView):
    @extend_schema(
        operation_id="me",
        tags=["me"],
        summary="Who is calling: agent, role and tenant",
        responses={200: MeSerializer},
        examples=[
            example(
                "Agent",
                {
                    "agent": {"id": "ag_1k…", "name": "Alice", "role": "agent"},
                    "role": "agent",
                    "scope": "read_write",
                    "token": None,
                    "tenant": {"id": "tn_…", "name": "Acme", "slug": "acme", "time_zone": "UTC"},
                },
            )
        ],
    )
    def get(self, request: Request) -> Response:
        principal, tenant = self.principal, self.tenant
        return Response(
            {
                "agent": agent_payload(principal.membership) if principal.membership else None,
                "role": principal.membership.role if principal.membership else "integration",
                "scope": ApiToken.Scope.READ_WRITE if principal.can_write else ApiToken.Scope.READ,
                "token": principal.token.public_id if principal.token else None,
                "tenant": {
                    "id": tenant.public_id,
                    "name": tenant.name,
                    "slug": tenant.slug,
                    "time_zone": tenant.time_zone,
                },
            }
        )
