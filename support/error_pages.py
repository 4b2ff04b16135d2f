"""Styled error pages for users even when DEBUG is on (the embedded default runs with DEBUG).

Django shows its debug pages (every URL pattern, tracebacks) whenever DEBUG is on. Platform staff
keep them; everyone else gets the product's own 403/404/500, as in production. Installed only when
DEBUG is on: without DEBUG, Django's handler403/404/500 already render these pages.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

from support import views_pages

logger = logging.getLogger("django.request")


def _is_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


class UserErrorPagesMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # Checked per request: the test runner switches DEBUG off after settings were read.
        if not settings.DEBUG or _is_staff(request):
            return None
        if isinstance(exception, Http404):
            return views_pages.not_found(request, exception)
        if isinstance(exception, PermissionDenied):
            return views_pages.forbidden(request, exception)
        # Still logged with its traceback: only the page the user sees changes.
        logger.error("Internal Server Error: %s", request.path, exc_info=exception)
        return views_pages.server_error(request)

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        # No URL pattern matched: Django's debug 404 lists every pattern. resolver_match stays None
        # only when resolving failed (a view's own 404 page has one and is left alone).
        if (settings.DEBUG and response.status_code == 404 and getattr(request, "resolver_match", None) is None
                and not _is_staff(request)):
            return views_pages.not_found(request)
        return response
