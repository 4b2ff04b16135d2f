"""OpenAPI additions: the token security scheme, the error shape on every operation, shared parameters."""
from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "detail"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable: not_found, invalid, throttled, …"},
                "detail": {"type": "string"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "On 400 invalid: the problems of each input field",
                },
            },
        }
    },
}
_COMMON = {
    "400": "Invalid input (`invalid`, or a specific code such as `invalid_cursor`)",
    "401": "No or bad credentials (`not_authenticated`, `invalid_token`)",
    "403": "Not allowed (`read_only_token`, `admin_required`, `session_required`, CSRF)",
    "404": "No such object, or another tenant's (`not_found`)",
    "429": "Too many requests (`throttled`); see the Retry-After header",
}
_WRITES = {
    "409": "Same Idempotency-Key still in progress (`idempotency_key_in_use`)",
    "413": "Body or file too large (`too_large`)",
    "415": "Unsupported Content-Type (`unsupported_media_type`)",
    "422": "Same Idempotency-Key with another body (`idempotency_key_reused`)",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="Run this POST at most once per key (per token) for 24 h; a repeat replays the first answer "
    "with `Idempotent-Replayed: true`.",
)
CURSOR = OpenApiParameter("cursor", OpenApiTypes.STR, description="Opaque cursor from the previous page's `next`")
LIMIT = OpenApiParameter("limit", OpenApiTypes.INT, description="Page size, 1–100 (default 25)")


def deleted(description: str = "Deleted") -> OpenApiResponse:
    return OpenApiResponse(description=description)


def example(name: str, value: Any, *, request: bool = False, status: int | None = None) -> OpenApiExample:
    return OpenApiExample(
        name, value=value, request_only=request, response_only=not request,
        status_codes=[str(status)] if status else None,
    )


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "support.api.authentication.BearerTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http", "scheme": "bearer", "bearerFormat": "sb_<prefix>_<secret>",
            "description": "A tenant API token, created by an owner or admin. `read` tokens may only GET.",
        }


def add_error_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: every /api/v1/ operation documents the error shape of its failures."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            extra = dict(_COMMON)
            if method != "get":
                extra.update(_WRITES)
            for status, description in extra.items():
                content = {"application/json": {"schema": ref}}
                responses.setdefault(status, {"description": description, "content": content})
    return result


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "support.api.authentication.TenantSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "apiKey", "in": "cookie", "name": "sessionid",
            "description": "The dashboard's session; unsafe methods also need the X-CSRFToken header.",
        }
