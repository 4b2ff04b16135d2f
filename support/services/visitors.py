"""Visitor sessions: widget bootstrap, the signed visitor token, Origin checks, identity verification.

A visitor token is a ``django.core.signing.TimestampSigner`` signature of (tenant, contact) public
ids. It expires ``VISITOR_TOKEN_MAX_AGE_DAYS`` after it was issued, and every bootstrap with a valid
token issues a fresh one for the same contact (the widget stores it in ``localStorage``), so an
active visitor keeps their conversations while a token copied off a machine stops working.
Identity verification: the host site passes ``user_id`` and ``hex(HMAC-SHA256(identity_secret,
user_id))``; a valid pair links the visitor to the contact with that ``external_id`` (merging an
anonymous visitor's conversations into it), an invalid one is refused.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scope

from support.access import access_contact, access_tenant
from support.errors import DomainError, NotFound, PermissionDenied
from support.events import fanout
from support.language import contact_language, speaking
from support.models import Contact, Conversation, Tenant
from support.services.contacts import create_contact, update_contact

# ".2": the timestamped format. Tokens of the first (untimestamped) format fail the signature check.
_TOKEN_SALT = "switchboard.visitor-token.2"
_TOKEN_MAX_CHARS = 300
_CONTEXT_KEYS = ("page", "title", "referrer", "timezone", "language", "user_agent")
_CONTEXT_VALUE_MAX = 500
_USER_ID_MAX = 128


class Unauthenticated(DomainError):
    code = "unauthenticated"


class OriginForbidden(PermissionDenied):
    code = "origin_forbidden"


def contact_group(tenant_id: int, contact_id: int) -> str:
    """Visitor connections listen here to learn of conversations started in another tab."""
    return f"t{tenant_id}.ct.{contact_id}"


class _TokenSigner(signing.TimestampSigner):
    """Django's ``TimestampSigner`` on a given clock, so tests move time instead of sleeping."""

    def __init__(self, now: datetime | None) -> None:
        super().__init__(salt=_TOKEN_SALT)
        self.now = now

    def _clock(self) -> float:
        return (self.now or timezone.now()).timestamp()

    def timestamp(self) -> str:
        return signing.b62_encode(int(self._clock()))

    def unsign(self, value: str, max_age: Any = None) -> str:
        result = signing.Signer.unsign(self, value)
        try:
            payload, stamp = result.rsplit(self.sep, 1)
            issued = signing.b62_decode(stamp)
        except ValueError:  # signed by us but not in this format
            raise signing.BadSignature("The visitor token has no timestamp") from None
        if max_age is not None and self._clock() - issued > max_age:
            raise signing.SignatureExpired("The visitor token has expired")
        return payload


def visitor_token(contact: Contact, *, now: datetime | None = None) -> str:
    """A token for ``contact``, valid for ``VISITOR_TOKEN_MAX_AGE_DAYS`` from ``now``."""
    return _TokenSigner(now).sign_object({"t": contact.tenant.public_id, "c": contact.public_id})


def contact_from_token(token: object, *, now: datetime | None = None) -> Contact:
    """The contact a visitor token was issued to (with its tenant), or ``Unauthenticated``.

    Expired, tampered, foreign-format and unknown-contact tokens are all refused alike.
    """
    if not isinstance(token, str) or not token or len(token) > _TOKEN_MAX_CHARS:
        raise Unauthenticated(_("A visitor token is required"))
    try:
        data = _TokenSigner(now).unsign_object(token, max_age=settings.VISITOR_TOKEN_MAX_AGE_DAYS * 86400)
    except signing.SignatureExpired:
        raise Unauthenticated(_("The visitor token has expired")) from None
    except (signing.BadSignature, ValueError):
        raise Unauthenticated(_("The visitor token is not valid")) from None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str) or not isinstance(data.get("c"), str):
        raise Unauthenticated(_("The visitor token is not valid"))
    try:
        tenant = access_tenant(data["t"])
        contact = access_contact(tenant, data["c"])
    except NotFound:
        raise Unauthenticated(_("The visitor token is not valid")) from None
    contact.tenant = tenant
    return contact


class OriginRule(Enum):
    """When ``authenticate_visitor`` checks the Origin of what carries the token."""

    REQUIRED = "required"  # sockets, long-poll, uploads: a browser page, which always sends one
    IF_SENT = "if_sent"  # MQTT credentials: apps send none; a browser's must be allowed
    NOT_CHECKED = "not_checked"  # file downloads: an ``<img src>`` sends none; the token alone


def authenticate_visitor(
    *, token: object, origin: str | None, own_origins: Collection[str], origin_rule: OriginRule = OriginRule.REQUIRED,
    now: datetime | None = None,
) -> Contact:
    """The visitor (contact, with its tenant) that a visitor endpoint's token speaks for: the one
    check of every visitor endpoint (socket, long-poll, MQTT credentials, uploads, downloads).

    Raises ``Unauthenticated`` (no valid token), ``OriginForbidden`` (the page is not one of the
    tenant's allowed origins, per ``origin_rule``) or ``PermissionDenied`` ``verification_required``
    (the tenant requires verified visitors and this one is not).
    """
    contact = contact_from_token(token, now=now)
    with speaking(contact_language(contact)):  # the refusals in the widget's language
        if origin_rule is OriginRule.REQUIRED or (origin_rule is OriginRule.IF_SENT and origin is not None):
            check_origin(tenant=contact.tenant, origin=origin, own_origins=own_origins)
        require_chat_allowed(contact)
    return contact


def own_origins(*, scheme: str, host: str | None) -> set[str]:
    """This site's own origins for a request or socket that reached us as ``scheme://host`` (the
    widget's iframe is served from here): ``SITE_URL`` and that one."""
    return {settings.SITE_URL, f"{scheme}://{host}"} if host else {settings.SITE_URL}


def check_origin(*, tenant: Tenant, origin: str | None, own_origins: Collection[str]) -> None:
    """The page talking to us must be one of the tenant's allowed origins, or our own (the iframe).

    An empty ``allowed_origins`` allows only our own origin. A missing Origin is refused: every
    browser sends one on WebSocket handshakes and on POSTs.
    """
    normalised = normalise_origin(origin)
    allowed = {normalise_origin(o) for o in (tenant.allowed_origins or []) if isinstance(o, str)} | {
        normalise_origin(o) for o in own_origins
    }
    if normalised is None or normalised not in allowed:
        raise OriginForbidden(_("This site may not use the widget"))


def normalise_origin(origin: str | None) -> str | None:
    if not origin or origin == "null":
        return None
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default_port = 443 if parts.scheme == "https" else 80
    try:
        port = parts.port
    except ValueError:
        return None
    suffix = f":{port}" if port and port != default_port else ""
    return f"{parts.scheme}://{parts.hostname}{suffix}"


def identity_hash(tenant: Tenant, user_id: str) -> str:
    return hmac.new(tenant.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Identity:
    user_id: str
    name: str | None
    email: str | None


def verify_identity(tenant: Tenant, identity: object) -> Identity:
    """A host-site identity whose HMAC checks out, else ``identity_invalid``."""
    if not isinstance(identity, dict):
        raise PermissionDenied(_("identity must be an object"), code="identity_invalid")
    user_id, given = identity.get("user_id"), identity.get("hash")
    if not isinstance(user_id, str) or not 0 < len(user_id) <= _USER_ID_MAX or not isinstance(given, str):
        raise PermissionDenied(_("identity needs user_id and hash"), code="identity_invalid")
    expected = identity_hash(tenant, user_id)
    if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace")):
        raise PermissionDenied(_("The identity hash does not match"), code="identity_invalid")
    name, email = identity.get("name"), identity.get("email")
    return Identity(
        user_id, name if isinstance(name, str) else None, email if isinstance(email, str) else None
    )


def require_chat_allowed(contact: Contact) -> None:
    """With verification "required", only verified contacts may start or read conversations."""
    if contact.tenant.identity_verification == Tenant.Verification.REQUIRED and contact.external_id is None:
        raise PermissionDenied(_("This site requires a signed-in visitor"), code="verification_required")


def _clean_context(context: object) -> dict[str, str]:
    if not isinstance(context, dict):
        return {}
    return {
        key: value[:_CONTEXT_VALUE_MAX] for key in _CONTEXT_KEYS if isinstance(value := context.get(key), str)
    }


@dataclass(frozen=True)
class VisitorSession:
    contact: Contact
    token: str


def bootstrap_visitor(
    *, tenant: Tenant, token: object = None, identity: object = None, context: object = None,
    now: datetime | None = None,
) -> VisitorSession:
    """Find or create the visitor's contact and return it with its token (re-issued once a day).

    An anonymous visitor keeps their contact across page loads (the token); a bootstrap with a token
    older than a day renews it, so only a visitor away longer than ``VISITOR_TOKEN_MAX_AGE_DAYS`` (or one whose token
    is expired, forged or foreign) starts over as a new anonymous contact. A verified identity
    takes over the contact with that ``external_id`` and brings the anonymous contact's
    conversations along. A token of a *verified* contact is not reused without an identity, so a
    signed-out user on a shared computer does not see the previous user's chats.
    """
    verified = verify_identity(tenant, identity) if identity is not None else None
    if verified is None and tenant.identity_verification == Tenant.Verification.REQUIRED:
        raise PermissionDenied(_("This site requires a signed-in visitor"), code="verification_required")
    try:
        previous: Contact | None = contact_from_token(token, now=now) if token is not None else None
    except Unauthenticated:
        previous = None  # an expired, forged or foreign token just means a new visitor
    if previous is not None and previous.tenant_id != tenant.pk:
        previous = None
    with scope(tenant=tenant):
        for attempt in range(2):
            try:
                contact = _find_or_create(tenant, previous, verified)
                break
            except IntegrityError:
                # A concurrent bootstrap of the same identity created the contact first.
                if attempt:
                    raise
        contact.context = _clean_context(context) or contact.context
        contact.last_seen_at = now or timezone.now()
        contact.save(update_fields=["context", "last_seen_at"])
    contact.tenant = tenant
    if isinstance(token, str) and previous is not None and contact.pk == previous.pk and _fresh(token, now):
        # Issued less than a day ago: keep it, so page loads in quick succession (and tabs) carry
        # one stable token; the sliding renewal happens at most daily.
        return VisitorSession(contact, token)
    return VisitorSession(contact, visitor_token(contact, now=now))


#: A token younger than this is handed back unchanged by bootstrap instead of being re-issued.
TOKEN_RENEW_AFTER_SECONDS = 24 * 3600


def _fresh(token: str, now: datetime | None) -> bool:
    try:
        _TokenSigner(now).unsign(token, max_age=TOKEN_RENEW_AFTER_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired: old enough to renew
        return False
    return True


@transaction.atomic
def _find_or_create(tenant: Tenant, previous: Contact | None, verified: Identity | None) -> Contact:
    if verified is None:
        if previous is not None and previous.external_id is None:
            return previous
        return create_contact(tenant=tenant)
    known = Contact.objects.select_for_update().filter(tenant=tenant, external_id=verified.user_id).first()
    if known is not None:
        if previous is not None and previous.external_id is None and previous.pk != known.pk:
            _merge_into(previous, known)
        contact = known
    elif previous is not None and previous.external_id is None:
        contact = previous
        contact.external_id = verified.user_id
        contact.save(update_fields=["external_id"])
    else:
        contact = create_contact(tenant=tenant)
        contact.external_id = verified.user_id
        contact.save(update_fields=["external_id"])
    if verified.name is not None or verified.email is not None:
        contact = update_contact(contact=contact, name=verified.name, email=verified.email)
    return contact


def _merge_into(anonymous: Contact, known: Contact) -> None:
    """Move an anonymous visitor's conversations to the verified contact they turned out to be."""
    moved = list(Conversation.objects.filter(contact=anonymous).values_list("pk", flat=True))
    if not moved:
        return
    now = timezone.now()
    Conversation.objects.filter(pk__in=moved).update(contact=known, updated_at=now)
    tenant_id, known_id = known.tenant_id, known.pk

    def wake() -> None:
        fanout.publish(contact_group(tenant_id, known_id), {"type": "contact.changed"})
        for conv_id in moved:
            fanout.publish_inbox(tenant_id, conv_id)

    transaction.on_commit(wake)


def is_open_now(tenant: Tenant, *, now: datetime | None = None) -> bool:
    """Whether ``now`` falls in the tenant's business hours (none configured = always open)."""
    hours: Any = tenant.business_hours
    if not hours or not isinstance(hours, dict):
        return True
    try:
        zone = ZoneInfo(tenant.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (now or timezone.now()).astimezone(zone)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    minute = local.hour * 60 + local.minute
    for span in hours.get(day) or []:
        try:
            start, end = (int(t[:2]) * 60 + int(t[3:5]) for t in span)
        except (TypeError, ValueError, IndexError):
            continue
        if start <= minute < end:
            return True
    return False
