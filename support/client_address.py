"""The client address that rate limits and throttles count by, for every transport and view.

One subscriber's IPv6 network is a /64 whose addresses it may pick at will, so an IPv6 client
counts by its /64; an IPv4 client (IPv4-mapped IPv6 included) by its address; any other
spelling of an address by its canonical form.
"""
from __future__ import annotations

import ipaddress

from django.http import HttpRequest

UNKNOWN = "unknown"


def address_group(raw: object) -> str:
    """The key ``raw`` (an address as the server saw it) counts under: ``a.b.c.d`` or ``x:y:z:w::/64``."""
    try:
        address = ipaddress.ip_address(str(raw or "").split("%", 1)[0])
    except ValueError:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def request_address_group(request: HttpRequest) -> str:
    """``address_group`` of the request's ``REMOTE_ADDR``.

    ``REMOTE_ADDR`` only, never a header here: the server sets it from ``X-Forwarded-For`` when,
    and only when, the connection comes from a proxy in ``FORWARDED_ALLOW_IPS`` (docs/operations.md,
    "Behind a load balancer").
    """
    return address_group(request.META.get("REMOTE_ADDR"))
