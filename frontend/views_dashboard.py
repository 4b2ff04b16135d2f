"""The agent dashboard's pages: the SPA shell, its service worker, and the PWA manifest (/app/)."""
from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET

from push.webhooks.events import WEBHOOK_EVENT_TYPES
from support import views_pages
from support.language import bcp47, language_codes
from support.services.attachments import ALLOWED_TYPES

BUILD_DIR = "dist/dashboard"
THEME_COLOR = "#4f46e5"
ICONS = {
    "favicon": "frontend/icons/favicon-32.png",
    "192": "frontend/icons/icon-192.png",
    "512": "frontend/icons/icon-512.png",
    "maskable": "frontend/icons/maskable-512.png",
}


class BuildMissing(RuntimeError):
    """The frontend was not built (`make frontend` / `npm run build` in frontend/)."""


def _read_build_file(name: str) -> bytes:
    path = finders.find(f"{BUILD_DIR}/{name}")
    if not path:
        raise BuildMissing(f"frontend/static/{BUILD_DIR}/{name} is missing: run `make frontend`")
    return Path(str(path)).read_bytes()


def _load_manifest() -> dict[str, Any]:
    return json.loads(_read_build_file("manifest.json"))


# In production the build never changes under a running process; in DEBUG it is re-read so a
# rebuild shows up without a restart.
_cached_manifest = lru_cache(maxsize=1)(_load_manifest)


def build_manifest() -> dict[str, Any]:
    return _load_manifest() if settings.DEBUG else _cached_manifest()


def shell_assets() -> dict[str, list[str]]:
    """Static URLs of the dashboard's hashed JS and CSS (from Vite's manifest.json)."""
    entry = build_manifest()["src/dashboard/main.ts"]
    return {
        "js": [static(f"{BUILD_DIR}/{entry['file']}")],
        "css": [static(f"{BUILD_DIR}/{css}") for css in entry.get("css", [])],
    }


def _login_url() -> str:
    try:
        return reverse(settings.LOGIN_URL)
    except NoReverseMatch:
        return "/accounts/login/"


def _logout_url() -> str:
    try:
        return reverse("logout")
    except NoReverseMatch:
        return "/accounts/logout/"


def _client_config(request: HttpRequest) -> dict[str, Any]:
    return {
        "attachments": {
            "maxBytes": settings.ATTACHMENT_MAX_BYTES,
            # The composer refuses other files before uploading; the upload service checks again.
            "contentTypes": list(ALLOWED_TYPES),
        },
        "messageMaxChars": settings.MESSAGE_MAX_CHARS,
        "vapidPublicKey": settings.VAPID_PUBLIC_KEY or "",
        "loginUrl": _login_url(),
        "logoutUrl": _logout_url(),
        # The events a webhook endpoint can subscribe to (the settings' checkboxes).
        "webhookEventTypes": list(WEBHOOK_EVENT_TYPES),
        # The agent's choice (their profile, else the language cookie); "" lets the app follow the browser.
        "language": bcp47(getattr(request.user, "language", "") or _cookie_language(request)),
        "setLanguageUrl": reverse("set_language"),
        "languages": [{"code": bcp47(code), "name": name} for code, name in settings.LANGUAGES],
    }


def _cookie_language(request: HttpRequest) -> str:
    code = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    return code if code in language_codes() else ""


@require_GET
@never_cache
@ensure_csrf_cookie
def shell(request: HttpRequest, path: str = "") -> HttpResponse:
    """The single-page app. It carries no user data, so the service worker may cache it."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), _login_url())
    membership = getattr(request, "membership", None)
    if membership is None:
        return render(request, "frontend/dashboard_no_workspace.html", status=403)
    if path.startswith("settings") and not membership.is_admin:
        # The workspace's settings are for its owners and admins; agents get the styled 403 page.
        return views_pages.forbidden(request)
    try:
        assets = shell_assets()
    except (BuildMissing, KeyError) as exc:
        return HttpResponse(f"The dashboard is not built: {exc}", status=503, content_type="text/plain")
    return render(request, "frontend/dashboard.html", {
        "assets": assets,
        "config": _client_config(request),
        "theme_color": THEME_COLOR,
        "favicon": static(ICONS["favicon"]),
        "apple_icon": static(ICONS["192"]),
    })


def _precache_urls() -> list[str]:
    assets = shell_assets()
    return ["/app/", *assets["js"], *assets["css"], "/app/manifest.webmanifest", static(ICONS["192"]),
            static(ICONS["favicon"])]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """/app/sw.js: the built worker with the current precache list prepended (scope /app/)."""
    try:
        code = _read_build_file("sw.js").decode()
        urls = _precache_urls()
    except (BuildMissing, KeyError) as exc:
        raise Http404(str(exc)) from exc
    # The source map sits next to the built file, not under /app/.
    code = "\n".join(line for line in code.splitlines() if not line.startswith("//# sourceMappingURL="))
    version = hashlib.sha256(("\n".join(urls) + code).encode()).hexdigest()[:16]
    shell_info = {"version": version, "urls": urls, "icon": static(ICONS["192"])}
    body = f"self.__SB_SHELL__ = {json.dumps(shell_info)};\n{code}\n"
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/app/"
    # Browsers must always see the newest worker so a deploy reaches everyone.
    response["Cache-Control"] = "no-cache, no-store, must-revalidate"
    return response


@require_GET
def web_manifest(request: HttpRequest) -> JsonResponse:
    """/app/manifest.webmanifest: makes the dashboard installable."""
    manifest = {
        "name": "Switchboard",
        "short_name": "Switchboard",
        "description": "Your team's customer conversations, live.",
        "id": "/app/",
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "background_color": "#f6f7f9",
        "theme_color": THEME_COLOR,
        "icons": [
            {"src": static(ICONS["192"]), "sizes": "192x192", "type": "image/png", "purpose": "any"},
            {"src": static(ICONS["512"]), "sizes": "512x512", "type": "image/png", "purpose": "any"},
            {"src": static(ICONS["maskable"]), "sizes": "512x512", "type": "image/png", "purpose": "maskable"},
        ],
    }
    response = JsonResponse(manifest, content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response
