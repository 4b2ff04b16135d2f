"""/api/v1/members and /api/v1/invitations: the dashboard's team settings (owners and admins, signed in).

Members are listed with deactivated ones (to reactivate them); roles change and members are
(de)activated, and invitations are sent, resent and revoked, only through ``support.services.accounts``, so
its role rules hold (admins never touch owners, nobody changes their own role, a workspace keeps
an active owner). Session only: API tokens never manage people.
"""
from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from support.access import access_invitation, access_membership_any_state
from support.api.base import TenantAPIView
from support.api.errors import FieldRefused
from support.api.schema import deleted, example
from support.errors import ValidationFailed
from support.models import Invitation, Membership
from support.rate_limits import within_limit
from support.services import accounts

log = logging.getLogger(__name__)

class MemberSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    is_active = serializers.BooleanField()
    joined = serializers.DateTimeField()
    is_you = serializers.BooleanField()
    can_manage = serializers.BooleanField(help_text="Whether the caller may change this member's role or deactivate"
                                                    " them")


class MemberChangeSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)


class InvitationSerializer(serializers.Serializer):
    id = serializers.CharField()
    email = serializers.CharField()
    role = serializers.ChoiceField(choices=Membership.Role.choices)
    invited_by = serializers.CharField(allow_null=True)
    created = serializers.DateTimeField()
    expires = serializers.DateTimeField()
    expired = serializers.BooleanField()
    can_revoke = serializers.BooleanField()


class InviteSerializer(serializers.Serializer):
    email = serializers.CharField(max_length=accounts.EMAIL_MAX)
    role = serializers.ChoiceField(choices=[(r, Membership.Role(r).label) for r in accounts.INVITABLE_ROLES],
                                   default=Membership.Role.AGENT)


MEMBER_EXAMPLE = {"id": "ag_1k…", "name": "Alice", "email": "alice@example.com", "role": "agent", "is_active": True,
                  "joined": "2026-11-26T09:00:00+00:00", "is_you": False, "can_manage": True}
INVITATION_EXAMPLE = {"id": "in_4f…", "email": "bob@example.com", "role": "agent", "invited_by": "Olivia",
                      "created": "2026-12-05T09:00:00+00:00", "expires": "2026-12-12T09:00:00+00:00",
                      "expired": False, "can_revoke": True}


def member_out(member: Membership, actor: Membership | None) -> dict[str, Any]:
    is_you = actor is not None and actor.pk == member.pk
    return {
        "id": member.public_id, "name": member.user.name, "email": member.user.email, "role": member.role,
        "is_active": member.is_active, "joined": member.created_at, "is_you": is_you,
        "can_manage": not is_you and accounts.may_manage(actor, member.role),
    }


def invitation_out(invitation: Invitation, actor: Membership | None) -> dict[str, Any]:
    return {
        "id": invitation.public_id, "email": invitation.email, "role": invitation.role,
        "invited_by": invitation.invited_by.name if invitation.invited_by else None,
        "created": invitation.created_at, "expires": invitation.expires_at,
        "expired": invitation.expires_at <= timezone.now(),
        "can_revoke": accounts.may_manage(actor, invitation.role),
    }


class _TeamView(TenantAPIView):
    admin_only = True
    session_only = True

    def member(self, member_id: str) -> Membership:
        return access_membership_any_state(self.tenant, member_id)

    def invitation(self, invitation_id: str) -> Invitation:
        return access_invitation(self.tenant, invitation_id, pending=True)


class MemberListView(_TeamView):
    @extend_schema(operation_id="members_list", tags=["team"], summary="Members, deactivated ones included",
                   responses={200: MemberSerializer(many=True)}, examples=[example("Members", [MEMBER_EXAMPLE])])
    def get(self, request: Request) -> Response:
        members = (Membership.objects.filter(tenant=self.tenant).select_related("user")
                   .order_by("-is_active", "created_at"))
        return Response([member_out(m, self.actor) for m in members])


class MemberDetailView(_TeamView):
    @extend_schema(operation_id="members_update", tags=["team"], summary="Change a member's role, or (de)activate them",
                   request=MemberChangeSerializer, responses={200: MemberSerializer},
                   examples=[example("Make admin", {"role": "admin"}, request=True), example("Member", MEMBER_EXAMPLE)])
    def patch(self, request: Request, member_id: str) -> Response:
        member = self.member(member_id)
        payload = MemberChangeSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changed = accounts.update_membership(membership=member, actor=self.actor, **payload.validated_data)
        return Response(member_out(changed, self.actor))


class InvitationListView(_TeamView):
    @extend_schema(operation_id="invitations_list", tags=["team"], summary="Pending invitations",
                   responses={200: InvitationSerializer(many=True)},
                   examples=[example("Invitations", [INVITATION_EXAMPLE])])
    def get(self, request: Request) -> Response:
        pending = (Invitation.objects.filter(tenant=self.tenant, accepted_at__isnull=True)
                   .select_related("invited_by").order_by("-created_at"))
        return Response([invitation_out(i, self.actor) for i in pending])

    @extend_schema(operation_id="invitations_create", tags=["team"],
                   summary="Invite someone by email (a link valid for INVITATION_TTL_HOURS)",
                   request=InviteSerializer, responses={201: InvitationSerializer},
                   examples=[example("Invite", {"email": "bob@example.com", "role": "agent"}, request=True),
                             example("Invitation", INVITATION_EXAMPLE, status=201)])
    def post(self, request: Request) -> Response:
        payload = InviteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            issued = accounts.invite_member(tenant=self.tenant, invited_by=self.actor, **payload.validated_data)
        except ValidationFailed as exc:
            if exc.code in ("invalid_email", "already_member"):
                raise FieldRefused("email", exc) from None
            raise
        return Response(invitation_out(issued.invitation, self.actor), status=status.HTTP_201_CREATED)


class InvitationDetailView(_TeamView):
    @extend_schema(operation_id="invitations_revoke", tags=["team"], summary="Revoke a pending invitation",
                   responses={204: deleted("Revoked; its link no longer works")})
    def delete(self, request: Request, invitation_id: str) -> Response:
        accounts.revoke_invitation(invitation=self.invitation(invitation_id), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationResendView(_TeamView):
    @extend_schema(operation_id="invitations_resend", tags=["team"],
                   summary="Email a pending invitation again, with a new link (the old one stops working)",
                   request=None, responses={200: InvitationSerializer},
                   description="At most INVITATION_RESENDS_PER_HOUR times per invitation; over that, 429.")
    def post(self, request: Request, invitation_id: str) -> Response:
        invitation = self.invitation(invitation_id)
        if not accounts.may_manage(self.actor, invitation.role):
            raise exceptions.PermissionDenied()
        if not within_limit(tenant_key=self.tenant.public_id, name="invitation.resend", subject=invitation.public_id,
                            limit=settings.INVITATION_RESENDS_PER_HOUR, window_seconds=3600):
            raise exceptions.Throttled(wait=3600)  # certainly allowed again once the hour's window has passed
        issued = accounts.resend_invitation(invitation=invitation, actor=self.actor)
        log.info("invitation resent", extra={"invitation": invitation.public_id,
                                             "member": self.actor.public_id if self.actor else None})
        return Response(invitation_out(issued.invitation, self.actor))
