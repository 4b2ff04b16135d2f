"""MQTT credentials: a broker client per app connection, allowed only its own two topics.

Issuing creates, through the dynamic-security plugin, a role whose ACLs allow publishing to
``<base>/in`` and subscribing to ``<base>/out`` (the plugin's defaults refuse everything else) and a
client bound to one client id with that role; the row in ``MqttCredential`` remembers it so that
revoking and expiring can delete both. Every step is idempotent: a half-done revocation or expiry
is simply done again by the next sweep.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django_scopes import scopes_disabled

from push.models_mqtt import MqttCredential
from push.mqtt import topics
from push.mqtt.broker import BrokerUnavailable, CommandFailed, admin, parse_url
from support.models import ApiToken, Contact, Membership, Tenant

log = logging.getLogger(__name__)

BRIDGE_ROLE = BRIDGE_USER = "sb-bridge"
# Issued to one subject at once; older ones beyond this are revoked (an app that leaks clients).
LIVE_PER_SUBJECT = 20


@dataclass(frozen=True)
class Issued:
    username: str
    password: str
    base: str
    expires_at: datetime

    def payload(self) -> dict[str, Any]:
        """What the app needs to connect (docs/protocol.md, "MQTT")."""
        public = urlsplit(settings.MQTT_PUBLIC_URL or settings.MQTT_URL)
        default_port = 8883 if public.scheme == "mqtts" else 1883
        return {
            "host": public.hostname, "port": public.port or default_port, "tls": public.scheme == "mqtts",
            "client_id": self.username, "username": self.username, "password": self.password,
            "publish": f"{self.base}/in", "subscribe": f"{self.base}/out",
            "keepalive": settings.MQTT_KEEPALIVE_SECONDS, "expires_at": self.expires_at.isoformat(),
        }


def _role(username: str) -> str:
    return f"sb-{username}"


def issue(*, tenant: Tenant, contact: Contact | None = None, membership: Membership | None = None,
          api_token: ApiToken | None = None, now: datetime | None = None) -> Issued:
    """New credentials for ``contact`` or ``membership`` (an agent's may be asked for with ``api_token``,
    which then revokes them when it is revoked). Raises ``BrokerUnavailable``/``CommandFailed``."""
    subject = contact or membership
    if subject is None or (contact is not None and membership is not None):
        raise ValueError("issue() needs exactly one of contact or membership")
    username = f"m{secrets.token_hex(10)}"
    password = secrets.token_urlsafe(24)
    base = topics.base_topic(tenant=tenant.public_id, subject=subject.public_id, client=username)
    expires_at = (now or timezone.now()) + timedelta(seconds=settings.MQTT_CREDENTIALS_TTL_SECONDS)
    # The row first: a client the broker knows always has a row, so expiry finds it.
    row = MqttCredential.objects.create(
        tenant=tenant, username=username, contact=contact, membership=membership, api_token=api_token,
        base_topic=base, expires_at=expires_at,
    )
    try:
        admin().apply([
            {"command": "createRole", "rolename": _role(username), "acls": [
                {"acltype": "publishClientSend", "topic": f"{base}/in", "allow": True},
                {"acltype": "subscribeLiteral", "topic": f"{base}/out", "allow": True},
                {"acltype": "publishClientReceive", "topic": f"{base}/out", "allow": True},
            ]},
            {"command": "createClient", "username": username, "password": password, "clientid": username,
             "roles": [{"rolename": _role(username)}]},
        ])
    except (BrokerUnavailable, CommandFailed):
        row.revoked = True  # the sweep deletes whatever half of it the broker may have
        row.save(update_fields=["revoked"])
        raise
    _limit_live(contact=contact, membership=membership)
    return Issued(username=username, password=password, base=base, expires_at=expires_at)


def _limit_live(*, contact: Contact | None, membership: Membership | None) -> None:
    live = MqttCredential.objects.filter(contact=contact, membership=membership, revoked=False)
    extra = list(live.order_by("-expires_at").values_list("pk", flat=True)[LIVE_PER_SUBJECT:])
    if extra:
        MqttCredential.objects.filter(pk__in=extra).update(revoked=True)
        forget(MqttCredential.objects.filter(pk__in=extra))


def revoke(*, contact: Contact | None = None, membership: Membership | None = None,
           api_token: ApiToken | None = None) -> int:
    """Revoke every credential of ``contact``, ``membership`` or issued with ``api_token``: the
    broker drops their connections.

    Marks the rows first, so a broker that is down now is told by the next sweep; returns how many.
    """
    if contact is None and membership is None and api_token is None:
        raise ValueError("revoke() needs a contact, a membership or an API token")
    with scopes_disabled():
        if contact is not None:
            rows = MqttCredential.objects.filter(contact=contact)
        elif membership is not None:
            rows = MqttCredential.objects.filter(membership=membership)
        else:
            rows = MqttCredential.objects.filter(api_token=api_token)
        count = rows.update(revoked=True)
        forget(MqttCredential.objects.filter(pk__in=list(rows.values_list("pk", flat=True))))
    return count


def forget(rows: Any) -> int:
    """Delete these credentials' clients and roles in the broker, then their rows (idempotent).

    Deleting a client disconnects it. When the broker cannot be reached the rows stay (revoked)
    for the next sweep.
    """
    done = 0
    for row in list(rows):
        try:
            admin().apply([
                {"command": "deleteClient", "username": row.username},
                {"command": "deleteRole", "rolename": _role(row.username)},
            ])
        except (BrokerUnavailable, CommandFailed) as exc:
            log.warning("MQTT credential %s not yet removed from the broker: %s", row.username, exc)
            continue
        MqttCredential.objects.filter(pk=row.pk).delete()
        done += 1
    return done


def expire(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Remove expired, revoked and orphaned credentials from the broker and the database (the beat task)."""
    if not settings.MQTT_URL:
        return 0
    at = now or timezone.now()
    with scopes_disabled():
        # Also those whose contact or member was deleted (the foreign key is nulled, not cascaded,
        # so that the broker is still told).
        due = (MqttCredential.objects.filter(expires_at__lte=at) | MqttCredential.objects.filter(revoked=True)
               | MqttCredential.objects.filter(contact=None, membership=None))
        return forget(due.order_by("expires_at")[:limit])


def is_live(*, username: str, now: datetime | None = None) -> bool:
    """The bridge's check: is this client's credential issued, unrevoked and unexpired?"""
    at = now or timezone.now()
    with scopes_disabled():
        # A revoked API token's credentials are dead at once, before its handler has revoked them.
        return MqttCredential.objects.filter(
            Q(api_token__isnull=True) | Q(api_token__revoked_at__isnull=True),
            username=username, revoked=False, expires_at__gt=at,
        ).exists()


def bridge_url() -> str:
    """The bridges' own broker client: ``sb-bridge``, its password derived from the admin's (no extra secret)."""
    address = parse_url(settings.MQTT_URL)
    password = hmac.new(address.password.encode(), b"switchboard mqtt bridge", hashlib.sha256).hexdigest()
    scheme = "mqtts" if address.tls else "mqtt"
    return f"{scheme}://{BRIDGE_USER}:{password}@{address.host}:{address.port}"


def ensure_bridge_client() -> str:
    """Create (or update) the bridges' client and role in the broker; returns the bridges' MQTT URL."""
    url = bridge_url()
    password = parse_url(url).password
    admin().apply([
        {"command": "createRole", "rolename": BRIDGE_ROLE, "acls": [
            {"acltype": "subscribePattern", "topic": topics.IN_FILTER, "allow": True},
            {"acltype": "subscribePattern", "topic": topics.SHARED_IN_FILTER, "allow": True},
            {"acltype": "publishClientReceive", "topic": topics.IN_FILTER, "allow": True},
            {"acltype": "publishClientSend", "topic": f"{topics.PREFIX}/+/+/+/out", "allow": True},
        ]},
        {"command": "createClient", "username": BRIDGE_USER, "password": password,
         "roles": [{"rolename": BRIDGE_ROLE}]},
        {"command": "setClientPassword", "username": BRIDGE_USER, "password": password},
    ])
    return url
