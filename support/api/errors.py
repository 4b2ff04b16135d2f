"""One JSON error shape for every API failure: ``{"error": {"code", "detail", "fields"?}}``.

``code`` is machine-readable and stable; ``fields`` maps input fields to their problems on 400s.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

from support.error_shape import error_body
from support.errors import DomainError, NotFound, PermissionDenied, ValidationFailed

logger = logging.getLogger(__name__)

# DRF's default codes, renamed where the default is vague.
_CODE_NAMES = {
    "not_authenticated": "not_authenticated",
    "authentication_failed": "invalid_token",
    "permission_denied": "forbidden",
    "not_found": "not_found",
    "method_not_allowed": "method_not_allowed",
    "not_acceptable": "not_acceptable",
    "unsupported_media_type": "unsupported_media_type",
    "throttled": "throttled",
    "parse_error": "malformed_body",
}
# Domain codes that mean "too big" rather than "wrong".
_TOO_LARGE_CODES = {"too_large"}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with another one in progress."
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def _fields(detail: Any) -> dict[str, Any]:
    """Serializer errors as ``{field: [messages]}`` (nested serializers flattened with dots)."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            out[prefix or "non_field_errors"] = [str(v) for v in value]
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), sub)
        else:
            out[prefix or "non_field_errors"] = [str(value)]

    walk("", detail)
    return out


def _first_code(detail: Any, default: str) -> str:
    code = getattr(detail, "code", None)
    return str(code) if code else default


class FieldRefused(exceptions.ValidationError):
    """A service refused one input: the answer keeps the service's code and detail and names the field
    in ``fields``, so a form can show the message under it."""

    def __init__(self, field: str, error: DomainError) -> None:
        super().__init__({field: [error.detail]})
        self.domain_code = error.code
        self.domain_detail = error.detail


@contextmanager
def refusals_by_field(fields: dict[str, str]) -> Iterator[None]:
    """A service's ``ValidationFailed`` whose code is in ``fields`` ({code: input}) becomes a
    ``FieldRefused`` naming that input; other errors pass unchanged."""
    try:
        yield
    except ValidationFailed as exc:
        field = fields.get(exc.code)
        if field is None:
            raise
        raise FieldRefused(field, exc) from None


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        exc = _from_domain(exc)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()

    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.exception("Unhandled error in API view %s", type(view).__name__ if view else "?", exc_info=exc)
        return Response(error_body("server_error", "Something went wrong on our side."), status=500)

    headers: dict[str, str] = {}
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    auth_header = getattr(exc, "auth_header", None)
    if auth_header:
        headers["WWW-Authenticate"] = auth_header

    if isinstance(exc, FieldRefused):
        body = error_body(exc.domain_code, exc.domain_detail, _fields(exc.detail))
    elif isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if isinstance(detail, dict) and set(detail) == {"non_field_errors"} and len(detail["non_field_errors"]) == 1:
            only = detail["non_field_errors"][0]  # type: ignore[index]
            body = error_body(_first_code(only, "invalid"), str(only))
        elif isinstance(detail, list) and len(detail) == 1:
            body = error_body(_first_code(detail[0], "invalid"), str(detail[0]))
        else:
            body = error_body("invalid", "Some fields are invalid.", _fields(detail))
    else:
        raw = _first_code(exc.detail, exc.default_code)
        if isinstance(exc, exceptions.Throttled):
            detail_text = "Too many requests; retry after the time in the Retry-After header."
        else:
            detail_text = str(exc.detail)
        body = error_body(_CODE_NAMES.get(raw, raw), detail_text)
    return Response(body, status=exc.status_code, headers=headers)


def _from_domain(exc: DomainError) -> exceptions.APIException:
    if isinstance(exc, NotFound):
        return exceptions.NotFound(exc.detail, code=exc.code)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(exc.detail, code=exc.code)
    if exc.code in _TOO_LARGE_CODES:
        return PayloadTooLarge(exc.detail, code=exc.code)
    # ValidationFailed and any other refusal: a 400 that keeps the domain's code.
    return exceptions.ValidationError([exceptions.ErrorDetail(exc.detail, code=exc.code)])


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Unknown URLs under /api/v1/ answer in the API's error shape, not an HTML page."""
    return JsonResponse(error_body("not_found", "No such endpoint."), status=404)
