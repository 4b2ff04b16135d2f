"""What a caller may do: token scope (read / read_write) and member role (owner, admin, agent).

Views declare their needs with three flags on the class (see ``TenantAPIView``):
``admin_only`` (every method), ``admin_writes`` (unsafe methods only), ``session_only`` (no tokens:
token management, so a read token can never mint a read-write one).
"""
from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from support.api.authentication import Principal


class TenantAccess(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.auth
        if not isinstance(principal, Principal):
            return False  # DRF turns this into 401 not_authenticated
        writing = request.method not in SAFE_METHODS
        if getattr(view, "session_only", False) and principal.token is not None:
            raise exceptions.PermissionDenied(
                "Sign in as an owner or admin to manage API tokens", code="session_required"
            )
        if writing and not principal.can_write:
            raise exceptions.PermissionDenied("This API token is read-only", code="read_only_token")
        needs_admin = getattr(view, "admin_only", False) or (writing and getattr(view, "admin_writes", False))
        if needs_admin and not principal.is_admin:
            raise exceptions.PermissionDenied("Only owners and admins can do this", code="admin_required")
        return True
