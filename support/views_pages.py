"""Product pages outside the apps: the home page ``/`` and the styled 403/404/500 error pages."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template import loader

from support.language import html_lang


def home(request: HttpRequest) -> HttpResponse:
    """Signed-in users go to their dashboard; everyone else sees what the product is and how to start."""
    if request.user.is_authenticated:
        return HttpResponseRedirect("/app/")
    return render(request, "pages/home.html")


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "403.html", status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "404.html", {"request_path": request.path}, status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No request context: whatever broke (the database, a context processor) must not break this page.
    return HttpResponse(loader.get_template("500.html").render(html_lang(request)), status=500)
