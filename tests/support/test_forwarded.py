"""config/forwarded.py: X-Forwarded-For / -Proto believed only from trusted peers, by uvicorn's rules
(the served app end to end: tests/support/test_client_ip.py)."""
from __future__ import annotations

from typing import Any

import pytest

from config.forwarded import TrustedProxies


def scope(peer: str | None, *headers: tuple[bytes, bytes], kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "client": (peer, 40000) if peer else None, "scheme": "ws" if kind == "websocket" else "http",
            "headers": list(headers)}


def test_a_trusted_peer_names_the_client_and_the_scheme():
    proxies = TrustedProxies(["10.0.0.0/8", "127.0.0.1"])
    http = scope("10.1.2.3", (b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https"))
    proxies.apply(http)
    assert http["client"] == ("203.0.113.9", 0) and http["scheme"] == "https"
    socket = scope("127.0.0.1", (b"x-forwarded-for", b"203.0.113.9:5050"), (b"x-forwarded-proto", b"https"),
                   kind="websocket")
    proxies.apply(socket)
    assert socket["client"] == ("203.0.113.9", 5050) and socket["scheme"] == "wss"


def test_an_untrusted_peer_or_another_scope_is_left_alone():
    proxies = TrustedProxies(["10.0.0.0/8"])
    spoofed = scope("198.51.100.7", (b"x-forwarded-for", b"203.0.113.9"), (b"x-forwarded-proto", b"https"))
    proxies.apply(spoofed)
    assert spoofed["client"] == ("198.51.100.7", 40000) and spoofed["scheme"] == "http"
    unix = scope(None, (b"x-forwarded-for", b"203.0.113.9"))
    proxies.apply(unix)
    assert unix["client"] is None
    lifespan = {"type": "lifespan"}
    proxies.apply(lifespan)
    assert lifespan == {"type": "lifespan"}


def test_the_client_is_the_right_most_untrusted_entry():
    proxies = TrustedProxies(["10.0.0.0/8", "2001:db8::/32"])
    assert proxies.client("192.0.2.77, 203.0.113.1") == ("203.0.113.1", 0)  # a forged left part is skipped
    assert proxies.client("203.0.113.1, 10.9.9.9,10.1.1.1") == ("203.0.113.1", 0)
    assert proxies.client("[2001:db9::5]:443, [2001:db8::1]:80") == ("2001:db9::5", 443)
    assert proxies.client("10.1.1.1, 10.2.2.2") == ("10.1.1.1", 0)  # all trusted: the left-most
    assert proxies.client("[2001:db8::1") == ("[2001:db8::1", 0)  # malformed: kept whole, never trusted
    assert proxies.client("203.0.113.1:http") == ("203.0.113.1:http", 0)


def test_any_peer_with_a_star_and_an_empty_header_keeps_the_peer():
    proxies = TrustedProxies(["*"])
    assert proxies.trusts(None) and proxies.trusts("198.51.100.7")
    assert proxies.client("192.0.2.77, 203.0.113.1") == ("192.0.2.77", 0)
    empty = scope("198.51.100.7", (b"x-forwarded-for", b""), (b"x-forwarded-proto", b"gopher"))
    proxies.apply(empty)
    assert empty["client"] == ("198.51.100.7", 40000) and empty["scheme"] == "http"


def test_a_bad_entry_is_refused():
    with pytest.raises(ValueError, match="not an IP address or network: 'proxy.local'"):
        TrustedProxies(["proxy.local"])
