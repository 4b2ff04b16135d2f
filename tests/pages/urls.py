"""The product's routes plus two that fail on purpose, for the error-page tests."""
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as product_urls


def _forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied("not for you")


def _broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("boom: a secret detail")


urlpatterns = [path("test-forbidden/", _forbidden), path("test-broken/", _broken), *product_urls]
