"""/api/v1/install-check and /api/v1/allowed-origins: the dashboard's first-run checklist and its
one-click "allow this site" (support.services.install_check)."""
from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from support.api.base import TenantAPIView
from support.api.schema import example
from support.services import install_check
from support.services.visitors import normalise_origin


class SightingSerializer(serializers.Serializer):
    origin = serializers.CharField()
    status = serializers.ChoiceField(choices=["installed", "refused"], help_text="The latest outcome seen there")
    allowed = serializers.BooleanField(help_text="Whether the origin is allowed now (a refused one may since be)")
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class ChecklistSerializer(serializers.Serializer):
    install = serializers.BooleanField()
    customise = serializers.BooleanField()
    invite = serializers.BooleanField()
    test_message = serializers.BooleanField()


class InstallCheckSerializer(serializers.Serializer):
    snippet = serializers.CharField()
    test_page = serializers.CharField(help_text="A page on our own site with the widget, to send a test message")
    settings_url = serializers.CharField(help_text="Where owners and admins change the widget's look")
    allowed_origins = serializers.ListField(child=serializers.CharField())
    sightings = SightingSerializer(many=True)
    checklist = ChecklistSerializer()
    can_allow = serializers.BooleanField(help_text="Whether the caller may allow origins (owners and admins)")


class AllowOriginSerializer(serializers.Serializer):
    origin = serializers.CharField(max_length=200)


class AllowedOriginsSerializer(serializers.Serializer):
    allowed_origins = serializers.ListField(child=serializers.CharField())


def _state(view: TenantAPIView) -> dict[str, object]:
    tenant = view.tenant
    allowed = {normalise_origin(o) for o in tenant.allowed_origins or []}
    actor = view.actor
    return {
        "snippet": install_check.snippet(tenant=tenant),
        "test_page": f"/demo/?tenant={tenant.slug}",
        "settings_url": reverse("dashboard-route", args=["settings/widget"]),
        "allowed_origins": list(tenant.allowed_origins or []),
        "sightings": [
            {"origin": s.origin, "status": s.status, "allowed": s.origin in allowed,
             "first_seen": s.first_seen, "last_seen": s.last_seen}
            for s in install_check.sightings(tenant=tenant)
        ],
        "checklist": install_check.checklist(tenant=tenant),
        "can_allow": actor is None or actor.is_admin,
    }


class InstallCheckView(TenantAPIView):
    @extend_schema(
        operation_id="install_check", tags=["widget"],
        summary="The first-run checklist: the snippet, where the widget ran and whether it was allowed",
        responses={200: InstallCheckSerializer},
        examples=[example("Refused on a new site", {
            "snippet": '<script async src="https://switchboard.example/widget.js" data-key="wk_…"></script>',
            "test_page": "/demo/?tenant=newco", "settings_url": "/app/settings/widget",
            "allowed_origins": ["https://newco.example"],
            "sightings": [{"origin": "https://www.newco.example", "status": "refused", "allowed": False,
                           "first_seen": "2026-12-05T09:00:00+00:00", "last_seen": "2026-12-05T09:05:00+00:00"}],
            "checklist": {"install": False, "customise": False, "invite": False, "test_message": False},
            "can_allow": True,
        })],
    )
    def get(self, request: Request) -> Response:
        return Response(_state(self))


class AllowedOriginsView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="allowed_origins_add", tags=["widget"],
        summary="Allow one more site to embed the widget (owners and admins)",
        request=AllowOriginSerializer, responses={200: AllowedOriginsSerializer},
        examples=[example("Allow", {"origin": "https://www.newco.example"}, request=True),
                  example("Allowed", {"allowed_origins": ["https://newco.example", "https://www.newco.example"]})],
    )
    def post(self, request: Request) -> Response:
        payload = AllowOriginSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        origins = install_check.allow_origin(actor=self.actor, tenant=self.tenant,
                                             origin=payload.validated_data["origin"])
        return Response({"allowed_origins": origins})
