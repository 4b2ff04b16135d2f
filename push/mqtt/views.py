"""``POST /rt/mqtt/{visitor,agent}/credentials``: broker credentials for an app (docs/protocol.md, "MQTT")."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_scopes import scope

from push.json_body import BadRequest, domain_error_response, error_response, read_json
from push.mqtt import credentials
from push.mqtt.broker import BrokerUnavailable, CommandFailed
from push.visitor_auth import request_visitor
from support.access import access_member
from support.errors import DomainError, NotFound
from support.models import ApiToken, Contact, Membership, Tenant
from support.plan_limits import API, has_feature
from support.rate_limits import within_limit
from support.services.api_tokens import authenticate_token
from support.services.visitors import OriginRule

# Credentials one subject may obtain per minute (an app asks once per connection, at most).
ISSUES_PER_MINUTE = 10


def _issue(*, tenant: Tenant, contact: Contact | None = None, membership: Membership | None = None,
           api_token: ApiToken | None = None) -> JsonResponse:
    subject = contact or membership
    assert subject is not None
    if not within_limit(tenant_key=tenant.public_id, name="mqtt.credentials", subject=subject.public_id,
                        limit=ISSUES_PER_MINUTE):
        return error_response(429, "rate_limited", "Too many credential requests; wait a minute")
    try:
        with scope(tenant=tenant):
            issued = credentials.issue(tenant=tenant, contact=contact, membership=membership, api_token=api_token)
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
        contact = request_visitor(request, data.get("token"), origin_rule=OriginRule.IF_SENT)
    except BadRequest as exc:
        return exc.response
    except DomainError as exc:  # 401 unauthenticated; 403 origin_forbidden, verification_required
        return domain_error_response(exc)
    return _issue(tenant=contact.tenant, contact=contact)


@csrf_exempt  # a session is CSRF-checked below; an API token in a header needs no check
@require_POST
def agent_credentials(request: HttpRequest) -> JsonResponse:
    """The login session's membership (with its CSRF token, as every dashboard POST), or, for an
    integration (a native agent app's backend), a read-write API token naming the agent:
    ``Authorization: Bearer sb_…`` with ``{"agent": "ag_…"}``."""
    if request.headers.get("Authorization"):
        return _agent_credentials_by_token(request)
    refused = _csrf.process_view(request, _session_checked, (), {})
    if refused is not None:
        return error_response(403, "csrf_failed", "CSRF check failed: send the X-CSRFToken header")
    membership = getattr(request, "membership", None)
    if membership is None or not membership.is_active:
        return error_response(401, "unauthenticated", "Sign in first")
    return _issue(tenant=membership.tenant, membership=membership)


_csrf = CsrfViewMiddleware(lambda request: HttpResponse())


def _session_checked(request: HttpRequest) -> HttpResponse:
    """What ``_csrf`` checks the session path as: a view that is not CSRF-exempt (never called)."""
    raise AssertionError("only passed to CsrfViewMiddleware.process_view")


def _agent_credentials_by_token(request: HttpRequest) -> JsonResponse:
    keyword, _, plaintext = request.headers["Authorization"].partition(" ")
    token = authenticate_token(plaintext=plaintext.strip()) if keyword.lower() == "bearer" else None
    if token is None:
        return error_response(401, "invalid_token", "Unknown or revoked API token")
    if not has_feature(tenant=token.tenant, feature=API):
        return error_response(403, "plan_feature",
                              "Your plan does not include API access. Upgrade on the billing page.")
    if not token.can_write:
        return error_response(403, "read_only_token", "Chatting as an agent needs a read-write API token")
    try:
        data = read_json(request)
        with scope(tenant=token.tenant):
            membership = access_member(token.tenant, data.get("agent"))
    except BadRequest as exc:
        return exc.response
    except NotFound as exc:  # unknown, deactivated, or another tenant's agent: one answer
        return error_response(404, exc.code, exc.detail)
    return _issue(tenant=token.tenant, membership=membership, api_token=token)
