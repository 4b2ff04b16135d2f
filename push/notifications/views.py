"""HTTP views of notifications: the dashboard's JSON endpoints and the visitor's conversation page.

JSON endpoints need a signed-in agent (session cookie and CSRF token, like the dashboard's other
calls). Bodies are read by ``push.json_body.read_json``; errors are its ``{"error": {"code",
"detail"}}`` with 400/401/404 (413/415 for a body too large or not ``application/json``).
"""
from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_scopes import scope

from push import webpush
from push.json_body import BadRequest, error_response, read_json
from push.notifications.links import read_conversation_token
from push.notifications.preferences import PREFERENCES, preferences_of, set_preferences
from push.notifications.subscriptions import delete_subscription, save_subscription
from support.errors import DomainError, NotFound
from support.models import Conversation, Message
from support.services.messages import post_message
from support.services.reads import mark_read

BODY_MAX_BYTES = 16 * 1024


def _agent_view(view: Any) -> Any:
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "membership", None) is None:
            return error_response(401, "not_authenticated", "Sign in as an agent first")
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return exc.response
        except NotFound as exc:
            return error_response(404, exc.code, exc.detail)
        except DomainError as exc:
            return error_response(400, exc.code, exc.detail)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@require_http_methods(["POST", "DELETE"])
@_agent_view
def subscriptions(request: HttpRequest) -> HttpResponse:
    """POST ``{endpoint, keys: {p256dh, auth}}`` saves this browser; DELETE ``{endpoint}`` forgets it."""
    data = read_json(request, limit=BODY_MAX_BYTES)
    if request.method == "DELETE":
        delete_subscription(membership=request.membership, endpoint=data.get("endpoint"))  # type: ignore[attr-defined]
        return HttpResponse(status=204)
    keys: dict[str, Any] = data["keys"] if isinstance(data.get("keys"), dict) else {}
    subscription = save_subscription(
        membership=request.membership,  # type: ignore[attr-defined]
        endpoint=data.get("endpoint"), p256dh=keys.get("p256dh"), auth=keys.get("auth"),
        user_agent=request.headers.get("User-Agent", ""),
    )
    return JsonResponse({"id": subscription.public_id, "endpoint": subscription.endpoint}, status=201)


@require_http_methods(["GET"])
@_agent_view
def vapid_public_key(request: HttpRequest) -> HttpResponse:
    """The applicationServerKey for ``PushManager.subscribe``; ``enabled`` is false without VAPID keys."""
    return JsonResponse({"public_key": settings.VAPID_PUBLIC_KEY, "enabled": webpush.is_configured()})


@require_http_methods(["GET", "PUT"])
@_agent_view
def preferences(request: HttpRequest) -> HttpResponse:
    """GET this agent's preferences; PUT ``{key: bool, …}`` changes some of them."""
    membership = request.membership  # type: ignore[attr-defined]
    if request.method == "PUT":
        values = set_preferences(membership=membership, changes=read_json(request, limit=BODY_MAX_BYTES))
    else:
        values = preferences_of(membership)
    return JsonResponse({"preferences": values, "descriptions": PREFERENCES})


@require_http_methods(["GET", "POST"])
def conversation_page(request: HttpRequest, token: str) -> HttpResponse:
    """The visitor's page behind a digest link: the conversation so far, and a reply box.

    Opening it counts as reading the replies; a reply is posted like one from the widget (a form
    ``client_id`` makes a double submit harmless) and reopens a resolved conversation.
    """
    try:
        conversation = read_conversation_token(token)
    except NotFound:
        return render(request, "push/conversation_link_invalid.html", status=404)
    with scope(tenant=conversation.tenant):
        return _conversation_page(request, conversation)


def _conversation_page(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    tenant = conversation.tenant
    error = ""
    if request.method == "POST":
        client_id = request.POST.get("client_id") or str(uuid.uuid4())
        try:
            post_message(
                conversation=conversation, author_type=Message.Author.CONTACT,
                body=request.POST.get("body", ""), client_id=client_id[:64],
            )
        except DomainError as exc:
            error = exc.detail
        else:
            return redirect(request.path)
    messages = list(
        Message.objects.filter(conversation=conversation)
        .exclude(kind=Message.Kind.NOTE).exclude(kind=Message.Kind.EVENT)
        .select_related("author_membership__user", "attachment").order_by("seq")
    )
    if messages:
        mark_read(conversation=conversation, reader="contact", seq=messages[-1].seq)
    return render(
        request, "push/conversation_page.html",
        {"tenant": tenant, "conversation": conversation, "messages": messages, "error": error,
         "team_name": tenant.team_name or tenant.name, "client_id": str(uuid.uuid4()),
         "body": request.POST.get("body", "") if error else ""},
        status=400 if error else 200,
    )
