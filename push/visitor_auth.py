"""Which visitor a plain HTTP request speaks for (long-poll, uploads, downloads, MQTT credentials):
``support.services.visitors.authenticate_visitor``, the one check of every visitor endpoint, given
the request's Origin and the origins this site answers on. Sockets call it from
``push.protocol.opening`` with their handshake's Origin and Host.
"""
from __future__ import annotations

from django.http import HttpRequest

from support.language import activate_contact_language
from support.models import Contact
from support.services.visitors import OriginRule, authenticate_visitor, own_origins


def request_own_origins(request: HttpRequest) -> set[str]:
    return own_origins(scheme=request.scheme or "http", host=request.get_host())


def request_visitor(request: HttpRequest, token: object, *, origin_rule: OriginRule = OriginRule.REQUIRED) -> Contact:
    """``authenticate_visitor`` for ``request``: its ``Origin`` header against the tenant's list. The
    rest of the request speaks the language the visitor's widget last reported."""
    contact = authenticate_visitor(
        token=token, origin=request.headers.get("Origin"), own_origins=request_own_origins(request),
        origin_rule=origin_rule,
    )
    activate_contact_language(contact)
    return contact
