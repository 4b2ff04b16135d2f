"""Sending Web Push notifications (RFC 8030/8291/8292) to agents' browsers with pywebpush and VAPID.

pywebpush encrypts the payload (aes128gcm) and signs the VAPID claim; the HTTP request itself goes
through ``push.webhooks.ssrf`` because push endpoints are URLs a browser told us, so they get the
same guard as webhook URLs, and must point to a known push service (``WEBPUSH_ALLOWED_HOSTS``),
checked when a browser subscribes and again before every push. A push service answering 404/410
means the subscription is gone for good: we delete it.
"""
from __future__ import annotations

import enum
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django_scopes import scope

from push.models import PushSubscription
from push.webhooks import ssrf
from support.errors import ValidationFailed

log = logging.getLogger(__name__)

# How long a push service keeps an undelivered notification for an offline browser.
PUSH_TTL_SECONDS = 3600


class PushResult(enum.Enum):
    SENT = "sent"
    GONE = "gone"  # the subscription was deleted
    FAILED = "failed"


ENDPOINT_MAX_CHARS = 1000


def is_configured() -> bool:
    return bool(settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY)


def is_allowed_host(host: str) -> bool:
    """Whether ``host`` is a push service in ``WEBPUSH_ALLOWED_HOSTS`` (``*.name``: any host under name)."""
    host = host.lower().rstrip(".")
    for entry in settings.WEBPUSH_ALLOWED_HOSTS:
        entry = entry.lower().rstrip(".")
        if entry.startswith("*.") and host.endswith(entry[1:]) and len(host) > len(entry) - 1:
            return True
        if host == entry:
            return True
    return False


def check_endpoint(endpoint: object) -> str:
    """The endpoint URL if a push may be sent to it; ``ValidationFailed`` (``invalid_subscription``) if not.

    It must be https (``WEBPUSH_ALLOW_PRIVATE_ENDPOINTS``, for tests, also lets http and private
    addresses through) to a host on the allow-list; an address literal must be public. Names are
    resolved, and their addresses checked, by ``ssrf.request`` at every send.
    """
    try:
        url = ssrf.check_url(endpoint)
    except ssrf.UnsafeTarget as exc:
        raise ValidationFailed(f"endpoint: {exc.detail}", code="invalid_subscription") from None
    if len(url) > ENDPOINT_MAX_CHARS:
        raise ValidationFailed("endpoint is too long", code="invalid_subscription")
    parts = urlsplit(url)
    if parts.scheme != "https" and not settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS:
        raise ValidationFailed("endpoint must be an https URL", code="invalid_subscription")
    host = parts.hostname or ""
    if not is_allowed_host(host):
        raise ValidationFailed(
            f"endpoint: {host} is not a known push service (WEBPUSH_ALLOWED_HOSTS)", code="invalid_subscription"
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS and not ssrf.is_public_address(str(literal)):
        raise ValidationFailed("endpoint points to a private address", code="invalid_subscription")
    return url


@dataclass
class _Response:
    """The few attributes of a ``requests.Response`` that pywebpush reads."""

    status_code: int
    reason: str
    text: str
    headers: dict[str, str]


class _GuardedSession:
    """Stands in for ``requests`` inside pywebpush so the POST is made by our SSRF-guarded client."""

    def post(self, url: str, *, data: Any = None, headers: dict[str, Any] | None = None,
             timeout: float | None = None, **_: Any) -> _Response:
        content = data if isinstance(data, bytes) else str(data or "").encode()
        answer = ssrf.request(
            "POST", url, allow_private=settings.WEBPUSH_ALLOW_PRIVATE_ENDPOINTS,
            headers={key: str(value) for key, value in (headers or {}).items()}, content=content,
            timeout=float(timeout or settings.WEBPUSH_TIMEOUT_SECONDS),
        )
        return _Response(answer.status_code, answer.reason, answer.body, answer.headers)


def send_push(*, subscription: PushSubscription, payload: dict[str, Any]) -> PushResult:
    """Encrypt ``payload`` (JSON) for one browser and hand it to its push service."""
    if not is_configured():
        log.warning("Web push is not configured (VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY); skipping")
        return PushResult.FAILED
    # Imported here: pywebpush pulls in requests, aiohttp and more (~25 MB), which only the
    # processes that send push notifications need (docs/performance.md, "idle memory").
    import httpx
    from pywebpush import WebPushException, webpush

    status: int | None = None
    try:
        # Again at send time: the allow-list may have changed since the browser subscribed.
        check_endpoint(subscription.endpoint)
        webpush(
            subscription_info={"endpoint": subscription.endpoint,
                               "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
            data=json.dumps(payload, separators=(",", ":")),
            vapid_private_key=settings.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            timeout=settings.WEBPUSH_TIMEOUT_SECONDS,
            ttl=PUSH_TTL_SECONDS,
            requests_session=_GuardedSession(),  # type: ignore[arg-type]
        )
    except WebPushException as exc:
        status = getattr(exc.response, "status_code", None)
        if status in (404, 410):
            with scope(tenant=subscription.tenant):
                PushSubscription.objects.filter(pk=subscription.pk).delete()
            log.info("Push subscription %s is gone (%s); deleted", subscription.public_id, status)
            return PushResult.GONE
        log.warning("Push to %s failed: %s", subscription.public_id, exc)
    except (ValidationFailed, ssrf.UnsafeTarget, httpx.HTTPError, ValueError) as exc:
        # ValueError: keys the browser sent that cannot be used for encryption.
        log.warning("Push to %s failed: %s", subscription.public_id, exc)
    else:
        _mark(subscription, success=True)
        return PushResult.SENT
    _mark(subscription, success=False)
    return PushResult.FAILED


def _mark(subscription: PushSubscription, *, success: bool) -> None:
    field = "last_success_at" if success else "last_failure_at"
    with scope(tenant=subscription.tenant):
        PushSubscription.objects.filter(pk=subscription.pk).update(**{field: timezone.now()})
