"""Which bridge holds which MQTT client, in the cache (Redis when several bridges run).

Each bridge renews ``mqtt:bridge:<id>`` every few seconds; a client's
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


def alive(bridge_id: str) -> None:
    cache.set(_bridge_key(bridge_id), "1", timeout=BRIDGE_TTL_SECONDS)


def claim(client: str, bridge_id: str) -> str | None:
    """This bridge holds ``client`` now; the live bridge that held it before, if another."""
    previous = cache.get(_owner_key(client))
    cache.set(_owner_key(client), bridge_id, timeout=settings.MQTT_CREDENTIALS_TTL_SECONDS)
    if not previous or previous == bridge_id or not cache.get(_bridge_key(previous)):
        return None
    return str(previous)


def release(client: str, bridge_id: str) -> None:
    if cache.get(_owner_key(client)) == bridge_id:
        cache.delete(_owner_key(client))


def live_owner(client: str) -> str | None:
    """The live bridge holding ``client``, or None (nobody, or it is gone)."""
    bridge_id = cache.get(_owner_key(client))
    if not bridge_id or not cache.get(_bridge_key(bridge_id)):
        return None
    return str(bridge_id)


def forget_bridge(bridge_id: str, clients: list[str]) -> None:
    for client in clients:
        release(client, bridge_id)
    cache.delete(_bridge_key(bridge_id))
