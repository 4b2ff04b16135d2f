"""Which bridge holds which MQTT client, in the cache (Redis when several bridges run).

Each bridge renews ``mqtt:bridge:<id>`` (its channel-layer channel) every few seconds; a client's
``mqtt:owner:<client id>`` names the bridge that answered its last hello. A bridge that crashed
stops renewing, so within ``BRIDGE_TTL_SECONDS`` its clients count as held by nobody.
"""
from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

BRIDGE_TTL_SECONDS = 6


def _bridge_key(bridge_id: str) -> str:
    return f"mqtt:bridge:{bridge_id}"


def _owner_key(client: str) -> str:
    return f"mqtt:owner:{client}"


def alive(bridge_id: str, channel: str | None) -> None:
    cache.set(_bridge_key(bridge_id), channel or "", timeout=BRIDGE_TTL_SECONDS)


def claim(client: str, bridge_id: str) -> str | None:
    """This bridge holds ``client`` now; the channel of the live bridge that held it before, if another."""
    previous = cache.get(_owner_key(client))
    cache.set(_owner_key(client), bridge_id, timeout=settings.MQTT_CREDENTIALS_TTL_SECONDS)
    if not previous or previous == bridge_id:
        return None
    return cache.get(_bridge_key(previous)) or None


def release(client: str, bridge_id: str) -> None:
    if cache.get(_owner_key(client)) == bridge_id:
        cache.delete(_owner_key(client))


def owner_channel(client: str) -> str | None:
    """The channel of the live bridge holding ``client``, or None (nobody, or it is gone)."""
    bridge_id = cache.get(_owner_key(client))
    if not bridge_id:
        return None
    return cache.get(_bridge_key(bridge_id)) or None


def forget_bridge(bridge_id: str, clients: list[str]) -> None:
    for client in clients:
        release(client, bridge_id)
    cache.delete(_bridge_key(bridge_id))
