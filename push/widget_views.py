"""Visitor HTTP endpoints besides the protocol: widget bootstrap, file upload and download.

All are authenticated by the widget key or the visitor token (never cookies), hence CSRF-exempt.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST
from django_scopes import scope

from push import presence
from push.json_body import BadRequest, domain_error_response, error_response, read_json
from push.protocol import visitor_conversation
from push.visitor_auth import request_own_origins, request_visitor
from support.access import access_attachment, access_tenant_by_widget_key
from support.client_address import request_address_group
from support.errors import DomainError, NotFound
from support.language import bcp47, django_code, language_codes
from support.models import Conversation, Message, Tenant
from support.plan_limits import live_chat_allowed
from support.rate_limits import within_limit
from support.services.attachments import ALLOWED_TYPES, IMAGE_TYPES, store_attachment
from support.services.visitors import OriginRule, bootstrap_visitor, check_origin, is_open_now
from support.streaming import StreamedFileResponse

_BOOTSTRAP_BODY_MAX = 16 * 1024
_PREVIEW_CHARS = 140


def widget_settings(tenant: Tenant) -> dict[str, Any]:
    return {
        "greeting": tenant.greeting,
        # Per visitor language ("zh-Hans": …): the widget shows the one of its language.
        "greetings": {bcp47(code): tenant.greeting_for(code) for code in language_codes()},
        "color": tenant.color,
        "position": tenant.position,
        "team_name": tenant.team_name or tenant.name,
        "prechat_form": tenant.prechat_form,
        "time_zone": tenant.time_zone,
        "languages": [code for code, _name in settings.LANGUAGES],
        # What the upload endpoint accepts, so the widget refuses other files before uploading
        # (the server still checks every upload itself).
        "attachments": {
            "max_bytes": settings.ATTACHMENT_MAX_BYTES,
            "types": {content_type: list(exts) for content_type, exts in ALLOWED_TYPES.items()},
        },
    }


def _previews(conversations: list[Conversation]) -> dict[int, dict[str, Any]]:
    """The last message the visitor can see (text or file, never a note or event) per conversation.

    Runs inside the tenant's scope. One query for the ids, one for the messages.
    """
    if not conversations:
        return {}
    visible = Message.objects.filter(
        conversation_id=OuterRef("pk"), kind__in=[Message.Kind.TEXT, Message.Kind.ATTACHMENT]
    ).order_by("-seq").values("pk")[:1]
    last = dict(
        Conversation.objects.filter(pk__in=[c.pk for c in conversations])
        .annotate(last_visible=Subquery(visible)).values_list("pk", "last_visible")
    )
    messages = Message.objects.filter(pk__in=[pk for pk in last.values() if pk]).select_related("attachment")
    return {
        m.conversation_id: {
            "author": m.author_type,
            "body": m.body[:_PREVIEW_CHARS],
            "attachment": m.attachment.name if m.attachment_id and m.attachment else None,
            "seq": m.seq,
            "at": m.created_at.isoformat(),
        }
        for m in messages
    }


@csrf_exempt
@require_POST
def bootstrap(request: HttpRequest) -> JsonResponse:
    """``POST /rt/widget/bootstrap``: the visitor's token, contact, conversations and widget settings."""
    try:
        data = read_json(request, limit=_BOOTSTRAP_BODY_MAX)
        _speak_widget_language(data.get("context"))
        tenant = access_tenant_by_widget_key(data.get("widget_key"))  # type: ignore[arg-type]
        if not within_limit(
            tenant_key=tenant.public_id, name="bootstrap.ip", subject=request_address_group(request),
            limit=settings.RT_IP_BOOTSTRAPS_PER_MINUTE,
        ):
            return error_response(429, "rate_limited", "Too many requests; slow down")
        check_origin(tenant=tenant, origin=request.headers.get("Origin"), own_origins=request_own_origins(request))
        context = data.get("context")
        if isinstance(context, dict):
            # The browser is whatever sent this request (the widget frame), not what the page claims.
            context = {**context, "user_agent": request.headers.get("User-Agent", "")}
        visitor = bootstrap_visitor(
            tenant=tenant, token=data.get("visitor_token"), identity=data.get("identity"), context=context
        )
    except BadRequest as exc:
        return exc.response
    except DomainError as exc:
        return domain_error_response(exc)
    contact = visitor.contact
    with scope(tenant=tenant):
        conversations = list(
            Conversation.objects.filter(contact=contact).select_related("assignee__user").order_by("-updated_at")[:20]
        )
        previews = _previews(conversations)
    agents = presence.agents_presence(tenant.pk)
    return JsonResponse({
        "visitor_token": visitor.token,
        "contact": {"id": contact.public_id, "name": contact.name, "email": contact.email,
                    "verified": contact.external_id is not None},
        "conversations": [{**visitor_conversation(c), "preview": previews.get(c.pk)} for c in conversations],
        "settings": widget_settings(tenant),
        "team_online": any(a["status"] == "online" for a in agents),
        "agents": [{"name": a["name"]} for a in agents if a["status"] == "online"],
        # Outside business hours, or over a plan's quota: the widget shows its offline form.
        "open_now": is_open_now(tenant) and live_chat_allowed(tenant),
    })


def _speak_widget_language(context: object) -> None:
    """Refusals in the language the widget reports (its ``data-lang``, then the visitor's browser);
    without one, the request's (``Accept-Language``, as LocaleMiddleware activated it)."""
    reported = context.get("language") if isinstance(context, dict) else None
    code = django_code(reported) if isinstance(reported, str) else ""
    if code:
        translation.activate(code)


@csrf_exempt
@require_POST
def upload(request: HttpRequest) -> JsonResponse:
    """``POST /rt/visitor/upload`` (multipart: ``token``, ``file``): store a file to send as ``attachment``."""
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.ATTACHMENT_MAX_BYTES + 64 * 1024:
        return error_response(413, "too_large", f"Files are limited to {settings.ATTACHMENT_MAX_BYTES} bytes")
    try:
        contact = request_visitor(request, request.POST.get("token"))
        if not within_limit(
            tenant_key=contact.tenant.public_id, name="upload.visitor", subject=contact.public_id,
            limit=settings.RT_VISITOR_SENDS_PER_MINUTE,
        ):
            return error_response(429, "rate_limited", "Too many uploads; wait a minute")
        uploaded = request.FILES.get("file")
        if uploaded is None:
            return error_response(400, "missing_field", "Send the file in the `file` field")
        with scope(tenant=contact.tenant):
            attachment = store_attachment(
                tenant=contact.tenant, uploaded_file=uploaded, name=uploaded.name or "file",
                content_type=uploaded.content_type or "",
            )
    except DomainError as exc:
        return domain_error_response(exc)
    return JsonResponse({"attachment": {
        "id": attachment.public_id, "name": attachment.name, "content_type": attachment.content_type,
        "size": attachment.size,
    }}, status=201)


@require_GET
def download(request: HttpRequest, attachment_id: str) -> HttpResponseBase:
    """``GET /rt/visitor/attachments/<id>``: a file of one of the visitor's own conversations.

    The token comes in the ``X-Visitor-Token`` header or the ``token`` query parameter (for
    ``<img src>``). Anything else — another visitor's file, a note's file — is a 404.
    """
    token = request.headers.get("X-Visitor-Token") or request.GET.get("token")
    try:
        contact = request_visitor(request, token, origin_rule=OriginRule.NOT_CHECKED)
        with scope(tenant=contact.tenant):
            attachment = access_attachment(contact.tenant, attachment_id)
            visible = Message.objects.filter(
                attachment=attachment, conversation__contact=contact,
            ).exclude(kind=Message.Kind.NOTE).exists()
            if not visible:
                raise NotFound("No such attachment")
            handle = default_storage.open(str(attachment.file.name), "rb")
    except DomainError as exc:
        return domain_error_response(exc)
    response = StreamedFileResponse(
        handle, content_type=attachment.content_type, filename=attachment.name,
        as_attachment=attachment.content_type not in IMAGE_TYPES,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, max-age=3600"
    return response
