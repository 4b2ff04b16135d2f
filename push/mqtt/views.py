"""``POST /rt/mqtt/{visitor,agent}/credentials``: broker credentials for an app (docs/protocol.md, "MQTT")."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from push.longpoll import BadRequest, error_response, own_origins, read_json
from push.mqtt import credentials
from push.mqtt.broker import BrokerUnavailable, CommandFailed
from push.ratelimit import within_limit
from support.errors import DomainError
from support.models import Contact, Membership, Tenant
from support.services.visitors import Unauthenticated, check_origin, contact_from_token, require_chat_allowed

# Credentials one subject may obtain per minute (an app asks once per connection, at most).
ISSUES_PER_MINUTE = 10


def _issue(*, tenant: Tenant, contact: Contact | None = None, membership: Membership | None = None) -> JsonResponse:
    subject = contact or membership
    assert subject is not None
    if not within_limit(tenant_key=tenant.public_id, name="mqtt.credentials", subject=subject.public_id,
                        limit=ISSUES_PER_MINUTE):
        return error_response(429, "rate_limited", "Too many credential requests; wait a minute")
    try:
        with scope(tenant=tenant):
            issued = credentials.issue(tenant=tenant, contact=contact, membership=membership)
    except (BrokerUnavailable, CommandFailed):
        response = error_response(503, "unavailable", "MQTT is unavailable right now; try again later")
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"mqtt": issued.payload()}, status=201)


@csrf_exempt  # authenticated by the token in the body, not by a cookie
@require_POST
def visitor_credentials(request: HttpRequest) -> JsonResponse:
    """Body ``{"token": visitor token}``. A browser's Origin must be allowed; apps send none."""
    try:
        data = read_json(request)
        contact = contact_from_token(data.get("token"))
        if request.headers.get("Origin") is not None:
            check_origin(tenant=contact.tenant, origin=request.headers.get("Origin"), own_origins=own_origins(request))
        require_chat_allowed(contact)
    except BadRequest as exc:
        return exc.response
    except Unauthenticated as exc:
        return error_response(401, exc.code, exc.detail)
    except DomainError as exc:
        return error_response(403, exc.code, exc.detail)
    return _issue(tenant=contact.tenant, contact=contact)


@require_POST
def agent_credentials(request: HttpRequest) -> JsonResponse:
    """The login session's membership (with its CSRF token, as every dashboard POST)."""
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_active:
        return error_response(401, "unauthenticated", "Sign in first")
    return _issue(tenant=membership.tenant, membership=membership)
