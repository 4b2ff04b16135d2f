"""The JSON request body of every plain HTTP view of ``push`` and ``frontend`` (long-poll, widget
bootstrap, profile and rating, MQTT credentials, notification endpoints), and the one shape their
errors take
(``support.error_shape``): ``{"error": {"code", "detail"}}`` with an HTTP status.

Bodies are parsed with the socket frames' parser (``push.protocol.frames.parse_json``: its size,
depth and number bounds), so a body that a socket would refuse is refused here with the same code.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from push.protocol.frames import FrameError, parse_json
from support.error_shape import error_response
from support.errors import DomainError

_STATUS = {"not_found": 404, "unauthenticated": 401, "rate_limited": 429, "too_large": 413}
_FORBIDDEN = {"origin_forbidden", "verification_required", "forbidden", "identity_invalid"}


def domain_error_response(exc: DomainError) -> JsonResponse:
    """A request the domain refused, in the same shape: 401, 403, 404, 413, 429 by its code, else 400."""
    return error_response(_STATUS.get(exc.code, 403 if exc.code in _FORBIDDEN else 400), exc.code, exc.detail)


class BadRequest(Exception):
    """A request refused as a whole; ``response`` is its error answer."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail
        self.response = error_response(status, code, detail)


class NotJson(BadRequest):
    """415: the body is not declared ``application/json``."""

    def __init__(self) -> None:
        super().__init__(415, "unsupported_media_type", "Send the body as application/json")


def sends_json(request: HttpRequest) -> bool:
    """Whether the body is declared ``application/json`` (any charset parameter: JSON is UTF-8)."""
    return (request.content_type or "").lower() == "application/json"


def read_json(request: HttpRequest, *, limit: int | None = None) -> dict[str, Any]:
    """The JSON object a request carries, or ``BadRequest``: 415 ``unsupported_media_type``, 413
    ``too_large`` (over ``limit`` bytes, by default ``RT_LONGPOLL_BODY_MAX_BYTES``), 400 ``bad_json``
    (not UTF-8 JSON within the frames' bounds, or not an object).

    Only ``application/json`` is read (our clients send it, with or without a charset): a form
    or multipart body is refused before anything parses it, and ``request.POST`` is never read.
    """
    if not sends_json(request):
        raise NotJson
    try:
        data = parse_json(request.body, limit=limit or settings.RT_LONGPOLL_BODY_MAX_BYTES)
    except FrameError as exc:
        raise BadRequest(413 if exc.code == "too_large" else 400, exc.code, exc.detail) from None
    if not isinstance(data, dict):
        raise BadRequest(400, "bad_json", "The body must be a JSON object")
    return data
