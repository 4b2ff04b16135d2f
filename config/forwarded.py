"""The client's address and scheme behind a proxy: ``X-Forwarded-For`` / ``X-Forwarded-Proto``,
believed only from a TCP peer in ``FORWARDED_ALLOW_IPS`` (docs/operations.md, "Behind a load balancer").

What uvicorn's proxy-headers middleware does, with the same rules, applied by ``config.asgi.route``
to the scope before it picks the app: a middleware would keep a frame awaiting the app for the
whole life of every socket (docs/performance.md, "Idle memory"). ``manage.py serve`` therefore runs
uvicorn with ``proxy_headers=False``.
"""
from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, MutableMapping
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """The peers whose forwarding headers are believed: ``["*"]`` (any), or addresses and networks
    (as ``settings.FORWARDED_ALLOW_IPS`` holds them, already checked and normalised)."""

    def __init__(self, allowed: Iterable[str]) -> None:
        allowed = list(allowed)
        self.any = allowed == ["*"]
        self.addresses: set[IPAddress] = set()
        self.networks: list[IPNetwork] = []
        for entry in [] if self.any else allowed:
            try:
                if "/" in entry:
                    self.networks.append(ipaddress.ip_network(entry, strict=False))
                else:
                    self.addresses.add(ipaddress.ip_address(entry))
            except ValueError:
                raise ValueError(f"not an IP address or network: {entry!r}") from None
        # A node sees few distinct peers (its proxies) and many clients in the headers.
        self._trusts = functools.lru_cache(maxsize=4096)(self._compute_trust)

    def trusts(self, host: str | None) -> bool:
        if self.any:
            return True
        if not host or len(host) > 253:  # nothing, or too long to be an address (kept out of the cache)
            return False
        return self._trusts(host)

    def _compute_trust(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address in self.addresses or any(address in network for network in self.networks)

    def client(self, forwarded_for: str) -> tuple[str, int]:
        """The client of an ``X-Forwarded-For`` chain: the right-most entry that is not a trusted proxy
        (each proxy appends the peer it saw); the left-most when all are (or when any peer is)."""
        entries = [entry.strip() for entry in forwarded_for.split(",")]
        if not self.any:
            for entry in reversed(entries):
                host, port = _host_port(entry)
                if not self.trusts(host):
                    return host, port
        return _host_port(entries[0])

    def apply(self, scope: MutableMapping[str, Any]) -> None:
        """Rewrite an HTTP or WebSocket scope's ``client`` and ``scheme`` from the forwarding headers,
        if its peer is trusted; otherwise (and for other scopes) leave it as it is."""
        if scope["type"] not in ("http", "websocket"):
            return
        peer = scope.get("client")
        if not self.trusts(peer[0] if peer else None):
            return
        proto: bytes | None = None
        forwarded: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"x-forwarded-proto":
                proto = value
            elif name == b"x-forwarded-for":
                forwarded.append(value)
        if proto is not None:
            scheme = proto.decode("latin-1").strip()
            if scheme in ("http", "https", "ws", "wss"):
                scope["scheme"] = scheme.replace("http", "ws") if scope["type"] == "websocket" else scheme
        if forwarded:
            host, port = self.client(b", ".join(forwarded).decode("latin-1"))
            if host:  # an empty header names no one: the peer stays
                scope["client"] = (host, port)


def _host_port(entry: str) -> tuple[str, int]:
    """``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:5678`` or a bare IPv6 address; anything
    malformed is kept whole with port 0 (so it can never pass for a trusted address)."""
    if entry.startswith("["):
        end = entry.find("]")
        if end == -1:
            return entry, 0
        host, rest = entry[1:end], entry[end + 1:]
        if not rest:
            return host, 0
        if not rest.startswith(":"):
            return entry, 0
        return host, _port(rest[1:])
    if entry.count(":") == 1:
        host, port = entry.rsplit(":", 1)
        try:
            return host, int(port)
        except ValueError:
            return entry, 0
    return entry, 0


def _port(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0


@functools.lru_cache(maxsize=8)
def trusted_proxies(allowed: tuple[str, ...]) -> TrustedProxies:
    """One ``TrustedProxies`` per setting value (the setting is read per scope: tests change it)."""
    return TrustedProxies(allowed)
