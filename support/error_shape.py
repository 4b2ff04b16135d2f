"""The one JSON error shape of every endpoint that answers JSON (the REST API, the realtime and
widget HTTP endpoints, notifications, inbound mail, Stripe webhooks):
``{"error": {"code", "detail", "fields"?}}`` with an HTTP status. ``code`` is machine-readable and
documented (docs/api.md, docs/protocol.md); ``fields`` names the fields at fault, where there are any.
"""
from __future__ import annotations

from typing import Any

from django.http import JsonResponse


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        error["fields"] = fields
    return {"error": error}


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=status)
