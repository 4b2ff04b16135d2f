"""Which language a page is in: the signed-in user's choice, then the language cookie, then the browser.

Django's ``LocaleMiddleware`` reads the cookie and ``Accept-Language``; the user's own choice
(``User.language``, set from the language switch) is applied on top of it once the user is known,
by ``TenantScopeMiddleware`` (no extra middleware hop). The TypeScript apps get the same choice in
their page config and fall back to ``navigator.languages`` (docs/i18n.md).
"""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def bcp47(code: str) -> str:
    """Django's ``zh-hans`` as browsers and the TypeScript catalogs spell it, ``zh-Hans``."""
    if not code:
        return ""
    lang, _, script = code.partition("-")
    if len(script) == 4:
        return f"{lang}-{script.title()}"
    return f"{lang}-{script.upper()}" if script else lang


def django_code(tag: str) -> str:
    """A language tag (``zh-Hans``, ``zh-CN``, ``en-GB``) as one of ``settings.LANGUAGES``, or ``""``."""
    tag = (tag or "").strip().lower()
    if not tag:
        return ""
    try:
        return translation.get_supported_language_variant(tag)
    except LookupError:
        return ""


def activate_user_language(request: HttpRequest, user: Any) -> None:
    """The user's saved choice wins over the cookie and the browser for this request."""
    choice = getattr(user, "language", "")
    if choice and choice in language_codes():
        translation.activate(choice)
        request.LANGUAGE_CODE = choice  # type: ignore[attr-defined]


def remember_language(response: HttpResponse, code: str) -> None:
    """The choice also goes into Django's language cookie, so pages after sign-out keep it."""
    if code:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE,
        )
    else:
        response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, path=settings.LANGUAGE_COOKIE_PATH)


def html_lang(request: HttpRequest) -> dict[str, str]:
    """Context processor: ``<html lang="{{ html_lang }}">`` in the page's language (``zh-Hans``, ``en``)."""
    return {"html_lang": bcp47(translation.get_language() or settings.LANGUAGE_CODE)}


def user_language(user: Any) -> str:
    """The language of what this user reads away from a request (emails, push): their choice, else the default."""
    choice = getattr(user, "language", "")
    return choice if choice in language_codes() else settings.LANGUAGE_CODE


def contact_language(contact: Any) -> str:
    """A visitor's language for emails: the one their widget last reported, else the default."""
    reported = (getattr(contact, "context", None) or {}).get("language", "")
    return django_code(reported if isinstance(reported, str) else "") or settings.LANGUAGE_CODE


def activate_contact_language(contact: Any) -> None:
    """The rest of a visitor's request (its refusals) in the language their widget last reported."""
    translation.activate(contact_language(contact))


def speaking(language: str | None) -> AbstractContextManager[object]:
    """``language`` active for a block, if given; nothing is switched when it is already the active
    one (most of the time). A switch leaves a storage of asgiref's ``Local`` in the current context,
    and a socket task (or a database hop, whose context flows back) keeps it for the socket's life:
    ~0.5 KB an idle socket (tests/realtime/test_socket_memory.py)."""
    if not language or language == translation.get_language():
        return nullcontext()
    return translation.override(language)
