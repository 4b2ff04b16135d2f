"""Who an agent is, without Django's or Channels' middleware: the login session (for the agent
socket and long-poll alike, ``login_session``) and, for a long-poll request, its CSRF token.

The checks are Django's own (CsrfViewMiddleware's hooks, the session engine's SessionStore,
``django.contrib.auth.get_user``, the tenant choice of support.middleware), run only where these
requests need them: the CSRF check on the event loop, the session in a database trip.
"""
from __future__ import annotations

import time
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.cookie import parse_cookie
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.http import http_date

from support.middleware import session_membership
from support.models import Membership


def _no_view(request: HttpRequest) -> HttpResponse:  # pragma: no cover - never called
    raise AssertionError("the CSRF hooks only inspect the request")


# It caches CSRF_TRUSTED_ORIGINS when first used: rebuilt when a test overrides settings.
_csrf = CsrfViewMiddleware(_no_view)

if settings.CSRF_USE_SESSIONS:
    # Refused when the server starts, not on each poll: this path checks CSRF before it reads the
    # session, so the secret must come from the csrftoken cookie.
    raise ImproperlyConfigured("CSRF_USE_SESSIONS is not supported: the long-poll path reads the CSRF cookie")


@receiver(setting_changed)
def _rebuild_csrf(**kwargs: Any) -> None:
    global _csrf
    _csrf = CsrfViewMiddleware(_no_view)


def csrf_passes(request: HttpRequest) -> bool:
    """Whether a POST passes Django's CSRF check: Origin (or, over HTTPS, Referer) against this host and
    ``CSRF_TRUSTED_ORIGINS``, and the ``X-CSRFToken`` header (masked or not) against the ``csrftoken`` cookie.

    A refusal is logged by Django ("Forbidden (…)") with its reason. The cookie-based secret is read
    (``CSRF_USE_SESSIONS`` is refused at start: it would need the session before this check).
    """
    _csrf.process_request(request)
    return _csrf.process_view(request, _no_view, (), {}) is None


def session_key(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The login session's cookie (``SESSION_COOKIE_NAME``) from an ASGI scope's headers, parsed as
    Django parses a request's cookies (the first ``cookie`` header, as Channels' CookieMiddleware read it)."""
    for name, value in headers:
        if name == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(settings.SESSION_COOKIE_NAME)
    return None


def login_session(key: str | None) -> tuple[Any, SessionBase]:
    """The user signed in to the session ``key`` (``AnonymousUser`` if none) and that session, as
    SessionMiddleware + AuthenticationMiddleware would find them (on the database thread).

    A missing, unknown or expired session is anonymous (the engine loads it empty); so is an inactive
    user (the backend's ``get_user``). A session whose password hash no longer matches is flushed
    (signed out); one that auth updated (verified by a fallback secret) is saved, under a new key
    (``get_user`` cycles it): the caller hands the browser that key (``set_renewed_cookie``).
    """
    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()  # all that ``get_user`` reads of a request is its session
    request.session = session = engine.SessionStore(key)
    user = get_user(request)
    if session.modified and not session.is_empty():
        session.save()
    return user, session


def set_renewed_cookie(response: HttpResponse, key: str | None, session: SessionBase) -> None:
    """Set the session cookie on ``response`` if ``session``'s key is no longer ``key``, the one the
    request came with; else leave it alone.

    The key changes when the session was verified by a ``SECRET_KEY_FALLBACKS`` secret after the
    secret was rotated: ``get_user`` moved it to a new key and deleted the old one, and a browser
    left with the old cookie would be signed out. The cookie's attributes are SessionMiddleware's
    (``process_response``, which has no public part to call for them alone).
    """
    new_key = session.session_key
    if new_key is None or new_key == key:
        return
    if session.get_expire_at_browser_close():
        max_age, expires = None, None
    else:
        max_age = session.get_expiry_age()
        expires = http_date(time.time() + max_age)
    response.set_cookie(
        settings.SESSION_COOKIE_NAME, new_key, max_age=max_age, expires=expires,
        domain=settings.SESSION_COOKIE_DOMAIN, path=settings.SESSION_COOKIE_PATH,
        secure=bool(settings.SESSION_COOKIE_SECURE), httponly=bool(settings.SESSION_COOKIE_HTTPONLY),
        samesite=settings.SESSION_COOKIE_SAMESITE,
    )


def cookie_headers(response: HttpResponse) -> list[tuple[bytes, bytes]]:
    """A response's cookies as ASGI ``Set-Cookie`` headers, as Django's ASGIHandler sends them."""
    return [(b"Set-Cookie", morsel.output(header="").encode("ascii").strip()) for morsel in response.cookies.values()]


def renewed_cookie_headers(key: str | None, session: SessionBase) -> list[tuple[bytes, bytes]]:
    """``set_renewed_cookie``'s cookie as ASGI headers (for a WebSocket handshake's response): none
    if the key did not change."""
    response = HttpResponse()
    set_renewed_cookie(response, key, session)
    return cookie_headers(response)


def agent_membership(request: HttpRequest) -> Membership | None:
    """The membership of the signed-in user in the tenant chosen in their session (on the database thread),
    as SessionMiddleware + AuthenticationMiddleware + TenantScopeMiddleware would find it."""
    user, request.session = login_session(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
    return session_membership(user, request.session)
