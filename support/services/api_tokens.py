"""Creating, checking and revoking tenant API tokens (``sb_<prefix>_<secret>``)."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django_scopes import scopes_disabled

from support.errors import ValidationFailed
from support.events.outbox import emit_event
from support.models import ApiToken, Tenant, User

TOKEN_PREFIX = "sb"
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_PREFIX_LEN = 10
_SECRET_LEN = 40
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown to the user once, never stored


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def create_token(*, tenant: Tenant, name: str, scope: str, created_by: User | None) -> IssuedToken:
    name = (name or "").strip()
    if not name or len(name) > 80:
        raise ValidationFailed(_("A token needs a name of 1–80 characters"), code="invalid_name")
    if scope not in ApiToken.Scope.values:
        raise ValidationFailed(_("Unknown scope %(scope)s") % {"scope": repr(scope)}, code="invalid_scope")
    prefix, secret = _random(_PREFIX_LEN), _random(_SECRET_LEN)
    token = ApiToken.objects.with_scope(tenant=tenant).create(
        tenant=tenant, name=name, scope=scope, prefix=prefix, secret_hash=hash_secret(secret), created_by=created_by
    )
    return IssuedToken(token=token, plaintext=f"{TOKEN_PREFIX}_{prefix}_{secret}")


@transaction.atomic
def revoke_token(*, token: ApiToken) -> ApiToken:
    """Revoke ``token``; ``api_token.revoked`` tells what was obtained with it (MQTT credentials) to go too."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        emit_event(tenant=token.tenant, type="api_token.revoked", payload={"token": token.public_id},
                   ordering_key=token.public_id)
    return token


def authenticate_token(*, plaintext: str) -> ApiToken | None:
    """The active token matching ``plaintext``, or None. Constant-time on the secret."""
    parts = plaintext.split("_")
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    prefix, secret = parts[1], parts[2]
    if len(prefix) != _PREFIX_LEN or len(secret) != _SECRET_LEN:
        return None
    # The token names its own tenant: there is no tenant to scope by until this row is found.
    with scopes_disabled():
        token = ApiToken.objects.select_related("tenant").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.secret_hash, hash_secret(secret)):
        return None
    if token.revoked_at is not None:
        return None
    _touch(token)
    return token


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    # A conditional UPDATE: many concurrent requests of one token write at most once a minute.
    with scopes_disabled():
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    token.last_used_at = now
