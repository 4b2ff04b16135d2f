"""Outgoing HTTP to addresses that users chose (webhook URLs, browser push endpoints).

A URL is checked when it is saved and again at send time: the host is resolved, every address
must be public (not private, loopback, link-local, multicast, reserved or unspecified — nor an
IPv6 address that carries such an IPv4 address, see ``is_public_address``), and the request then
connects to the very address that was checked, keeping the name in the Host header
and TLS SNI/certificate check. So a DNS answer that changes between check and connect (DNS
rebinding) cannot point the request inside our network.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from support.errors import ValidationFailed

URL_MAX_CHARS = 2000
RESPONSE_KEEP_BYTES = 4096


class UnsafeTarget(ValidationFailed):
    code = "unsafe_url"


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    status_code: int
    reason: str
    body: str  # the first RESPONSE_KEEP_BYTES, decoded leniently
    headers: dict[str, str]


def check_url(url: object) -> str:
    """The URL if its form is acceptable (http/https, a host, no credentials); else UnsafeTarget."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeTarget("A URL is required")
    url = url.strip()
    if len(url) > URL_MAX_CHARS:
        raise UnsafeTarget(f"The URL is longer than {URL_MAX_CHARS} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"Not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("Only http and https URLs are allowed")
    if not parts.hostname:
        raise UnsafeTarget("The URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Credentials in the URL are not supported; verify the signature instead")
    if port == 0:
        raise UnsafeTarget("The URL's port is invalid")
    return url


# IPv6 ranges that carry an IPv4 address. A packet to one of them ends at (or is translated or
# tunnelled to) that IPv4 address, so the IPv4 address decides whether the target is public.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")  # RFC 3056: the IPv4 address is bits 16-47
# Refused whatever they carry: IPv4-compatible addresses (deprecated, RFC 4291; also holds :: and
# ::1), local-use NAT64 (RFC 8215: a translator inside someone's network, the IPv4 address at a
# position that network chose) and Teredo (RFC 4380, obsolete: the path runs through a relay and a
# server we do not choose, and the client IPv4 address is only XOR-ed).
ALWAYS_REFUSED = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("2001::/32"),
)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo server and client)."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip in NAT64_WELL_KNOWN:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo  # (server, client), the client already un-XOR-ed
    return ()


def _is_public_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    ) and ip.is_global


def is_public_address(address: str) -> bool:
    """Whether a request may go to ``address``.

    An IPv6 address that carries an IPv4 address (IPv4-mapped, NAT64 64:ff9b::/96, 6to4
    2002::/16) is as public as the IPv4 address it carries; the ``ALWAYS_REFUSED`` ranges never are.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in ALWAYS_REFUSED):
            return False
        carried = embedded_ipv4(ip)
        if carried:
            return all(_is_public_ip(v4) for v4 in carried)
    return _is_public_ip(ip)


def _refusal(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    carried = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else ()
    also = f" (it carries IPv4 {', '.join(map(str, carried))})" if carried else ""
    return f"{address}, a private or reserved address{also}"


def _lookup_failure(host: str, exc: socket.gaierror) -> str:
    """What a failed DNS look-up means for the person who typed the address (never ``[Errno -2] …``)."""
    if exc.errno == socket.EAI_AGAIN:
        return f"The host {host!r} could not be looked up right now (no answer from DNS); try again in a moment"
    if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
        return f"The host {host!r} was not found; check the address for typos"
    return f"The host {host!r} could not be looked up"


def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host; every address must be public unless ``allow_private``."""
    url = check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise UnsafeTarget(f"The host {host!r} is not a valid host name") from None
    except socket.gaierror as exc:
        raise UnsafeTarget(_lookup_failure(host, exc)) from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTarget(f"The host {host!r} has no address")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeTarget(f"The host {host!r} resolves to {_refusal(address)}", code="unsafe_url")
    return Target(scheme=parts.scheme, host=host, port=port, addresses=addresses)


def request(
    method: str,
    url: str,
    *,
    allow_private: bool,
    headers: dict[str, str],
    content: bytes,
    timeout: float,
) -> Answer:
    """Send one request to the checked address; raises UnsafeTarget or httpx.HTTPError."""
    target = resolve(url, allow_private=allow_private)
    address = target.addresses[0]
    parts = urlsplit(url)
    ip_host = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{ip_host}:{target.port}", parts.path or "/", parts.query, ""))
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    deadline = time.monotonic() + timeout
    import httpx  # on use: a web node that never sends a webhook does not carry it (tests/test_web_node_imports.py)

    # trust_env=False: no proxy from the environment may route around the address check.
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        with client.stream(
            method, pinned, headers={**headers, "Host": host_header}, content=content, extensions=extensions
        ) as response:
            kept = bytearray()
            for chunk in response.iter_bytes():
                kept += chunk
                if len(kept) >= RESPONSE_KEEP_BYTES or time.monotonic() > deadline:
                    break
            return Answer(
                status_code=response.status_code,
                reason=response.reason_phrase,
                body=bytes(kept[:RESPONSE_KEEP_BYTES]).decode("utf-8", errors="replace"),
                headers=dict(response.headers),
            )
