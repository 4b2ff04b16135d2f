"""Who an agent's long-poll request is, without Django's middleware: its CSRF token and login session.

The checks are Django's own (CsrfViewMiddleware's hooks, the session engine's SessionStore,
``django.contrib.auth.get_user``, the tenant choice of support.middleware), run only where these
requests need them: the CSRF check on the event loop, the session in the database trip.
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware

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


def session_store(request: HttpRequest) -> Any:
    """The request's login session (unloaded: the first read of it costs one cache or database read)."""
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))


def agent_membership(request: HttpRequest) -> Membership | None:
    """The membership of the signed-in user in the tenant chosen in their session (on the database thread).

    As SessionMiddleware + AuthenticationMiddleware + TenantScopeMiddleware would: a session whose
    password hash no longer matches is flushed (signed out); a session that auth updated is saved.
    """
    session = session_store(request)
    request.session = session
    user = get_user(request)
    membership = session_membership(user, session)
    if session.modified and not session.is_empty():
        session.save()
    return membership
