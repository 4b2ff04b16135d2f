"""The API docs pages, served entirely from our own static files (drf-spectacular-sidecar)."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView

from support.api import schema  # noqa: F401  (registers the token security scheme)


class SchemaView(SpectacularAPIView):
    """The OpenAPI document (``/api/schema/``), generated with our additions of support/api/schema.py."""


class RedocView(SpectacularRedocView):
    """ReDoc without the upstream template's Google Fonts links. Its bundle also shows a logo from
    Redocly's CDN: the page's CSP keeps images on our origin so nothing is fetched from elsewhere."""

    template_name = "api/redoc.html"

    @extend_schema(exclude=True)  # a page, not an API operation (as the parent's own get)
    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = "img-src 'self' data: blob:"
        return response
