"""/api/v1/workspace: the workspace's settings (name, widget look and greetings, opening hours,
allowed sites), read and changed by owners, admins and tokens (support.services.workspace); and its
identity-verification secret, shown to a signed-in owner or admin who asks for it."""
from __future__ import annotations

import logging
from typing import Any

from django.utils import translation
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from support.api.base import TenantAPIView
from support.api.schema import example
from support.language import bcp47, language_codes
from support.models import DEFAULT_GREETING, Tenant
from support.services import install_check, workspace

log = logging.getLogger(__name__)

class WorkspaceWriteSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=workspace.NAME_MAX)
    greeting = serializers.CharField(required=False, max_length=workspace.GREETING_MAX,
                                     help_text="The widget's greeting (English, and any language without its own)")
    greetings = serializers.DictField(child=serializers.CharField(allow_blank=True), required=False,
                                      help_text='The greeting per other language: {"zh-Hans": "…"}; "" removes one')
    team_name = serializers.CharField(required=False, allow_blank=True, max_length=workspace.TEAM_NAME_MAX)
    color = serializers.CharField(required=False, help_text="Like #4f46e5")
    position = serializers.ChoiceField(choices=Tenant.Position.choices, required=False)
    prechat_form = serializers.BooleanField(required=False, help_text="Ask visitors for name and email first")
    time_zone = serializers.CharField(required=False, help_text="An IANA name like Europe/Paris")
    business_hours = serializers.DictField(
        required=False, child=serializers.ListField(child=serializers.ListField(child=serializers.CharField())),
        help_text='{"mon": [["09:00", "17:00"]], …}; a day left out is closed; {} means always open')
    allowed_origins = serializers.ListField(child=serializers.CharField(), required=False,
                                            help_text="Sites allowed to embed the widget")
    identity_verification = serializers.ChoiceField(choices=Tenant.Verification.choices, required=False)


class WorkspaceSerializer(WorkspaceWriteSerializer):
    id = serializers.CharField()
    snippet = serializers.CharField(help_text="The tag to paste on the site")
    languages = serializers.ListField(child=serializers.CharField(), help_text="The widget's languages")
    default_greetings = serializers.DictField(
        child=serializers.CharField(), help_text="The default greeting per language, shown while `greeting` is it")


WORKSPACE_EXAMPLE = {
    "id": "tn_…", "name": "Acme", "greeting": "Hi! How can we help you today?", "greetings": {"zh-Hans": "您好！"},
    "team_name": "Acme support", "color": "#4f46e5", "position": "right", "prechat_form": False,
    "time_zone": "Europe/Paris", "business_hours": {"mon": [["09:00", "17:00"]]},
    "allowed_origins": ["https://www.acme.example"], "identity_verification": "optional",
    "snippet": '<script async src="https://chat.example.com/widget.js" data-key="wk_…"></script>',
    "languages": ["en", "zh-Hans"],
    "default_greetings": {"en": "Hi! How can we help you today?", "zh-Hans": "您好！有什么可以帮您？"},
}


def workspace_out(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.public_id,
        **workspace.settings_of(tenant),
        "snippet": install_check.snippet(tenant=tenant),
        "languages": [bcp47(code) for code in language_codes()],
        # What a visitor reads in each language while the greeting is still the default one.
        "default_greetings": {bcp47(code): _default_greeting(code) for code in language_codes()},
    }


def _default_greeting(code: str) -> str:
    with translation.override(code):
        return translation.gettext(DEFAULT_GREETING)


class WorkspaceView(TenantAPIView):
    admin_only = True

    @extend_schema(
        operation_id="workspace_retrieve", tags=["workspace"], summary="The workspace's settings",
        responses={200: WorkspaceSerializer}, examples=[example("Workspace", WORKSPACE_EXAMPLE)],
    )
    def get(self, request: Request) -> Response:
        return Response(workspace_out(self.tenant))

    @extend_schema(
        operation_id="workspace_update", tags=["workspace"], summary="Change some settings (all or nothing)",
        description="Each refused field is named in `error.fields`; nothing is saved then.",
        request=WorkspaceWriteSerializer, responses={200: WorkspaceSerializer},
        examples=[example("New colour", {"color": "#0e7490", "position": "left"}, request=True),
                  example("Workspace", WORKSPACE_EXAMPLE)],
    )
    def patch(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise serializers.ValidationError("Send a JSON object of settings")
        try:
            workspace.update_workspace(tenant=self.tenant, actor=self.actor, changes=dict(request.data))
        except workspace.SettingsInvalid as exc:
            raise serializers.ValidationError({field: [message] for field, message in exc.fields.items()}) from None
        return Response(workspace_out(self.tenant))


class IdentitySecretSerializer(serializers.Serializer):
    identity_secret = serializers.CharField(help_text="The HMAC-SHA256 key of identity hashes")


class IdentitySecretView(TenantAPIView):
    """Never part of the workspace's settings or of any page: fetched when an owner or admin asks."""

    admin_only = True
    session_only = True

    @extend_schema(
        operation_id="workspace_identity_secret", tags=["workspace"],
        summary="The identity-verification secret (signed-in owners and admins)",
        description="Your server signs a visitor's `user_id` with it: hex(HMAC-SHA256(secret, user_id)). "
                    "Not cached (`Cache-Control: no-store`).",
        responses={200: IdentitySecretSerializer},
    )
    def get(self, request: Request) -> Response:
        log.info("identity secret shown", extra={"member": self.actor.public_id if self.actor else None})
        return Response({"identity_secret": self.tenant.identity_secret}, headers={"Cache-Control": "no-store"})
