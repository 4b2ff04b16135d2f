"""The base of every /api/v1/ view: authentication, permissions, throttling and the tenant scope.

After authentication, the whole handler runs inside ``scope(tenant=<the caller's tenant>)``, so
a lookup of another tenant's id finds nothing and is a 404 exactly like a missing one.
"""
from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.http import HttpRequest, HttpResponseBase
from django_scopes import scope
from rest_framework.request import Request
from rest_framework.views import APIView

from support.api.authentication import BearerTokenAuthentication, Principal, TenantSessionAuthentication
from support.api.permissions import TenantAccess
from support.api.throttling import PrincipalRateThrottle
from support.models import Membership, Tenant


class TenantAPIView(APIView):
    authentication_classes = [BearerTokenAuthentication, TenantSessionAuthentication]
    permission_classes = [TenantAccess]
    throttle_classes = [PrincipalRateThrottle]
    admin_only = False
    admin_writes = False
    session_only = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with ExitStack() as stack:
            self._scopes = stack
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._scopes.enter_context(scope(tenant=self.principal.tenant))

    @property
    def principal(self) -> Principal:
        principal = self.request.auth
        assert isinstance(principal, Principal)  # TenantAccess admits nothing else
        return principal

    @property
    def tenant(self) -> Tenant:
        return self.principal.tenant

    @property
    def actor(self) -> Membership | None:
        """The signed-in member, or None for a token (an integration acts for the tenant)."""
        return self.principal.membership
