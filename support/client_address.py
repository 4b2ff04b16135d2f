"""The client address that rate limits and throttles count by, for every transport and view.

One subscriber's IPv6 network is a /64 whose addresses it may pick at will, so an IPv6 client
counts by its /64; an IPv4 client (IPv4-mapped IPv6 included) by its address; any other
spelling of an address by its canonical form.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from django.http import HttpRequest

UNKNOWN = "unknown"


def client_address(raw: object) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``raw`` (as the server saw it) names, an IPv4-mapped IPv6 one as IPv4; None if none."""
    try:
        address = ipaddress.ip_address(str(raw or "").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
    return address


def address_group(raw: object) -> str:
    """The key ``raw`` (an address as the server saw it) counts under: ``a.b.c.d`` or ``x:y:z:w::/64``."""
    address = client_address(raw)
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def request_address_group(request: HttpRequest) -> str:
    """``address_group`` of the request's ``REMOTE_ADDR``.

    ``REMOTE_ADDR`` only, never a header here: the server sets it from ``X-Forwarded-For`` when,
    and only when, the connection comes from a proxy in ``FORWARDED_ALLOW_IPS`` (docs/operations.md,
    "Behind a load balancer").
    """
    return address_group(request.META.get("REMOTE_ADDR"))


def scope_address_group(scope: Mapping[str, Any]) -> str:
    """``address_group`` of an ASGI connection's peer (``scope["client"]``, which the server sets from
    ``X-Forwarded-For`` on the same terms as ``REMOTE_ADDR``)."""
    client = scope.get("client")
    return address_group(client[0] if client else None)
