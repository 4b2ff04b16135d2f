"""Activates the tenant scope for each request.

Signed-in members get ``request.membership`` / ``request.tenant`` (the tenant chosen in their
session, else their first) and every query runs inside ``scope(tenant=…)``. Platform staff in the
admin run unscoped. Everyone else runs with no scope, so a query of a tenant model fails loudly.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse
from django_scopes import scope, scopes_disabled

from support import log_context
from support.access import access_membership
from support.language import activate_user_language
from support.models import Membership

SESSION_TENANT_KEY = "tenant"


def session_membership(user: Any, session: SessionBase) -> Membership | None:
    """The signed-in user's membership in the tenant chosen in their session, else their first."""
    if not user.is_authenticated:
        return None
    return access_membership(user, session.get(SESSION_TENANT_KEY))


def _resolve(request: HttpRequest) -> AbstractContextManager[Any]:
    user = request.user
    request.membership = None  # type: ignore[attr-defined]
    request.tenant = None  # type: ignore[attr-defined]
    if not user.is_authenticated:
        return nullcontext()
    # Here, where the user is loaded anyway: their saved language wins over cookie and browser.
    activate_user_language(request, user)
    if user.is_staff and request.path.startswith("/admin/"):
        return scopes_disabled()
    membership = session_membership(user, request.session)
    if membership is None:
        return nullcontext()
    request.membership = membership  # type: ignore[attr-defined]
    request.tenant = membership.tenant  # type: ignore[attr-defined]
    log_context.bind(tenant=membership.tenant.public_id)
    return scope(tenant=membership.tenant)


class TenantScopeMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        with _resolve(request):
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        context = await sync_to_async(_resolve)(request)
        with context:
            return await self.get_response(request)
