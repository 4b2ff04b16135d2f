"""Finding the caller's tenant objects by public id. Missing and foreign ids raise the same NotFound."""
from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Prefetch, QuerySet

from support.errors import NotFound
from support.models import ApiToken, Attachment, CannedResponse, Contact, Label, Membership, Team, Tenant

M = TypeVar("M", bound=Model)


def by_public_id(queryset: QuerySet[M], public_id: Any, *, what: str) -> M:
    if not isinstance(public_id, str) or not public_id or len(public_id) > 40:
        raise NotFound(f"No such {what}")
    found = queryset.filter(public_id=public_id).first()
    if found is None:
        raise NotFound(f"No such {what}")
    return found


def access_team(tenant: Tenant, public_id: Any) -> Team:
    return by_public_id(team_queryset(tenant), public_id, what="team")


def team_queryset(tenant: Tenant) -> QuerySet[Team]:
    members = Prefetch("members", queryset=Membership.objects.with_scope(tenant=tenant).all(), to_attr="member_list")
    return Team.objects.with_scope(tenant=tenant).prefetch_related(members)


def access_label(tenant: Tenant, public_id: Any) -> Label:
    return by_public_id(Label.objects.with_scope(tenant=tenant), public_id, what="label")


def access_contact(tenant: Tenant, public_id: Any) -> Contact:
    return by_public_id(Contact.objects.with_scope(tenant=tenant), public_id, what="contact")


def access_canned(tenant: Tenant, public_id: Any) -> CannedResponse:
    return by_public_id(CannedResponse.objects.with_scope(tenant=tenant), public_id, what="canned response")


def access_attachment(tenant: Tenant, public_id: Any) -> Attachment:
    return by_public_id(Attachment.objects.with_scope(tenant=tenant), public_id, what="attachment")


def access_token(tenant: Tenant, public_id: Any) -> ApiToken:
    tokens = ApiToken.objects.with_scope(tenant=tenant).select_related("created_by")
    return by_public_id(tokens, public_id, what="token")
