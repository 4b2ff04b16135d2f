"""The webhook signature: ``X-Switchboard-Signature: t=<unix seconds>,v1=<hex>``.

``v1`` is HMAC-SHA256 over ``f"{t}.{body}"`` keyed with the endpoint's secret. Receivers
recompute it, compare in constant time, and reject old timestamps (replays). docs/operations.md
shows the receiving side; ``verify_signature`` here is the same check, used by our tests.
"""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Switchboard-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def compute_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(*, secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={compute_signature(secret=secret, timestamp=timestamp, body=body)}"


def verify_signature(
    *, secret: str, header: str, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS
) -> bool:
    """True if ``header`` signs ``body`` with ``secret`` and its timestamp is within ``tolerance``."""
    fields: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = compute_signature(secret=secret, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
