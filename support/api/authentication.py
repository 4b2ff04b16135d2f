"""Who is calling: a tenant API token (``Authorization: Bearer sb_…``) or a signed-in member.

Both give ``request.auth`` a ``Principal`` naming the tenant every query of the request is scoped to.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from support import log_context
from support.models import ApiToken, Membership, Tenant
from support.plan_limits import API, has_feature
from support.services.api_tokens import authenticate_token


@dataclass(frozen=True)
class Principal:
    tenant: Tenant
    membership: Membership | None = None  # a signed-in member
    token: ApiToken | None = None  # an integration

    def __post_init__(self) -> None:
        log_context.bind(tenant=self.tenant.public_id)  # the request's log lines name the tenant from here on

    @property
    def can_write(self) -> bool:
        return self.token.can_write if self.token is not None else True

    @property
    def is_admin(self) -> bool:
        # A token is created by an owner/admin and acts for the whole tenant.
        return self.token is not None or (self.membership is not None and self.membership.is_admin)

    @property
    def owner_key(self) -> str:
        """Stable per-caller key (throttling buckets, idempotency keys)."""
        return f"tok{self.token.pk}" if self.token is not None else f"mem{self.membership.pk}"  # type: ignore[union-attr]


class IntegrationUser:
    """``request.user`` for token requests: authenticated, but no person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken) -> None:
        self.token = token
        self.name = token.name

    def __str__(self) -> str:
        return f"API token {self.token.name}"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, Principal] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, credentials = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        credentials = credentials.strip()
        if not credentials or " " in credentials:
            raise exceptions.AuthenticationFailed("Malformed Authorization header", code="invalid_token")
        token = authenticate_token(plaintext=credentials)
        if token is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API token", code="invalid_token")
        if not has_feature(tenant=token.tenant, feature=API):
            # The dashboard's session keeps working on every plan; integrations need the feature.
            raise exceptions.PermissionDenied(
                "Your plan does not include API access. Upgrade on the billing page.", code="plan_feature"
            )
        return IntegrationUser(token), Principal(tenant=token.tenant, token=token)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class TenantSessionAuthentication(authentication.SessionAuthentication):
    """The dashboard's session cookie (CSRF enforced on unsafe methods by the parent class)."""

    def authenticate(self, request: Request) -> tuple[Any, Principal] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        # TenantScopeMiddleware resolved the member's tenant (session choice, else first one).
        membership = getattr(request._request, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of any workspace", code="no_membership")
        return result[0], Principal(tenant=membership.tenant, membership=membership)
