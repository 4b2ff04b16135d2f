"""Outgoing HTTP to addresses that users chose (webhook URLs, browser push endpoints).

A URL is checked when it is saved and again at send time: the host is resolved, every address
must be public (not private, loopback, link-local, multicast, reserved or unspecified), and the
request then connects to the very address that was checked, keeping the name in the Host header
and TLS SNI/certificate check. So a DNS answer that changes between check and connect (DNS
rebinding) cannot point the request inside our network.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

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


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified
    ) and ip.is_global


def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve the URL's host; every address must be public unless ``allow_private``."""
    url = check_url(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"The host {host!r} cannot be resolved ({exc})") from None
    addresses = tuple(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise UnsafeTarget(f"The host {host!r} has no address")
    if not allow_private:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeTarget(
                    f"The host {host!r} resolves to {address}, a private or reserved address", code="unsafe_url"
                )
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
