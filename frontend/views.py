"""The widget's pages and small endpoints: /widget.js, the widget iframe, the demo host page,
and the visitor's profile (pre-chat/offline form) and satisfaction rating."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import staticfiles_storage
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_scopes import scope

from push.json_body import BadRequest, domain_error_response, error_response, read_json
from push.visitor_auth import request_own_origins, request_visitor
from support.access import access_conversation_for_contact, access_tenant_by_widget_key
from support.errors import DomainError, NotFound
from support.models import Contact, Tenant
from support.rate_limits import within_limit
from support.services import install_check
from support.services.contacts import update_contact
from support.services.ratings import rate_conversation
from support.services.visitors import normalise_origin

LOADER_STATIC = "dist/loader/loader.js"
# Short: tenants paste this URL once, and a new release must reach their sites soon.
LOADER_MAX_AGE = 300
_BODY_MAX = 16 * 1024


@require_GET
def widget_loader(request: HttpRequest) -> HttpResponse:
    """``/widget.js``: the stable URL tenants paste; the built loader with a short cache lifetime."""
    path = finders.find(LOADER_STATIC)
    try:
        if path:
            with open(path, "rb") as fh:  # noqa: PTH123 - a plain read of a found static file
                body = fh.read()
        else:
            with staticfiles_storage.open(LOADER_STATIC) as fh:
                body = fh.read()
    except OSError:
        raise Http404("The widget is not built (run `make frontend`)") from None
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Cache-Control"] = f"public, max-age={LOADER_MAX_AGE}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def _frame_ancestors(tenant: Tenant) -> str:
    origins = sorted({o for o in (normalise_origin(x) for x in tenant.allowed_origins or []) if o})
    return " ".join(["'self'", *origins])


def _note_sighting(request: HttpRequest, tenant: Tenant) -> None:
    """The install check: the snippet ran on ``origin`` (the loader's page), allowed there or not.
    Only for the frame as a frame (not opened directly) and not for our own pages (the demo)."""
    if request.headers.get("Sec-Fetch-Dest", "iframe") != "iframe":
        return
    origin = normalise_origin(request.GET.get("origin"))
    if origin and origin not in request_own_origins(request):
        install_check.record_sighting(tenant=tenant, origin=origin)


@require_GET
def widget_check(request: HttpRequest) -> JsonResponse:
    """``/widget/check?key=…``: asked by the loader when its frame did not come up, to tell the site's
    developer why in the console. Answers whether the calling page's origin may embed the widget."""
    origin = normalise_origin(request.headers.get("Origin"))
    try:
        tenant = access_tenant_by_widget_key(request.GET.get("key", ""))
    except NotFound:
        response = error_response(404, "not_found", "Unknown widget key")
    else:
        allowed = origin is None or origin in request_own_origins(request) or install_check.is_allowed(
            tenant=tenant, origin=origin)
        response = JsonResponse({"origin": origin, "allowed": allowed})
    response["Access-Control-Allow-Origin"] = "*"  # public facts about a public key; no credentials
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@xframe_options_exempt  # framing is governed by CSP frame-ancestors below, per tenant
def widget_frame(request: HttpRequest) -> HttpResponse:
    """``/widget/frame/?key=…&origin=…``: the chat app, embeddable only by the tenant's allowed origins.

    The browser enforces ``frame-ancestors``, so a site not in ``allowed_origins`` cannot host the
    iframe; the bootstrap and socket then run from our own origin, which the server accepts.
    """
    try:
        tenant = access_tenant_by_widget_key(request.GET.get("key", ""))
    except NotFound:
        raise Http404("Unknown widget key") from None
    _note_sighting(request, tenant)
    ws_origin = f"{'wss' if request.is_secure() else 'ws'}://{request.get_host()}"
    response = render(request, "frontend/widget_frame.html", {"tenant_name": tenant.name})
    response["Content-Security-Policy"] = (
        f"frame-ancestors {_frame_ancestors(tenant)}; default-src 'self'; script-src 'self'; "
        f"style-src 'self'; img-src 'self' blob: data:; connect-src 'self' {ws_origin}; "
        "object-src 'none'; base-uri 'none'; form-action 'none'"
    )
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def demo_page(request: HttpRequest) -> HttpResponse:
    """``/demo/``: a fake company site embedding the demo tenant's widget, as a customer would."""
    tenant = Tenant.objects.filter(slug=request.GET.get("tenant", "demo")).first()
    base = f"{request.scheme}://{request.get_host()}"
    lang = request.GET.get("lang", "")
    snippet = None
    if tenant is not None:
        lang_attr = f' data-lang="{lang}"' if lang in ("en", "zh-Hans") else ""
        snippet = f'<script async src="{base}/widget.js" data-key="{tenant.widget_key}"{lang_attr}></script>'
    return render(request, "frontend/demo.html", {
        "tenant": tenant, "snippet": snippet, "base": base,
        "lang": lang if lang in ("en", "zh-Hans") else "",
        "embed": request.GET.get("widget", "1") != "0",
    })


# --- visitor endpoints (token-authenticated, no cookies: CSRF does not apply) -------------------

def _visitor(request: HttpRequest, data: dict[str, Any], action: str) -> Contact:
    contact = request_visitor(request, data.get("token"))
    if not within_limit(
        tenant_key=contact.tenant.public_id, name=f"widget.{action}", subject=contact.public_id,
        limit=settings.RT_VISITOR_SENDS_PER_MINUTE,
    ):
        raise DomainError("Too many requests; wait a minute", code="rate_limited")
    return contact


@csrf_exempt
@require_POST
def visitor_profile(request: HttpRequest) -> JsonResponse:
    """``POST /widget/profile`` ``{token, name?, email?, attributes?}`` (pre-chat and offline forms,
    ``Switchboard('setAttributes')``). A verified contact's name and email come from the host site."""
    try:
        data = read_json(request, limit=_BODY_MAX)
        contact = _visitor(request, data, "profile")
        name, email, attributes = data.get("name"), data.get("email"), data.get("attributes")
        for field, value in (("name", name), ("email", email)):
            if value is not None and not isinstance(value, str):
                raise DomainError(f"{field} must be text", code="invalid_field")
        if contact.external_id is not None:
            name = email = None  # the host site vouched for these; the visitor does not override them
        with scope(tenant=contact.tenant):
            contact = update_contact(contact=contact, name=name, email=email, attributes=attributes)
    except BadRequest as exc:
        return exc.response
    except DomainError as exc:
        return domain_error_response(exc)
    return JsonResponse({"contact": {"id": contact.public_id, "name": contact.name, "email": contact.email}})


@csrf_exempt
@require_POST
def visitor_rate(request: HttpRequest) -> JsonResponse:
    """``POST /widget/rate`` ``{token, conversation, rating: 1–5, comment?}`` for a resolved conversation."""
    try:
        data = read_json(request, limit=_BODY_MAX)
        contact = _visitor(request, data, "rate")
        with scope(tenant=contact.tenant):
            conv = access_conversation_for_contact(contact, data.get("conversation"))
            conv = rate_conversation(conversation=conv, rating=data.get("rating"), comment=data.get("comment", ""))
    except BadRequest as exc:
        return exc.response
    except DomainError as exc:
        return domain_error_response(exc)
    return JsonResponse({"conversation": conv.public_id, "rating": conv.rating})
