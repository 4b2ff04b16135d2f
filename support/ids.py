"""Opaque identifiers shown outside the database, and secrets.

Database primary keys stay internal; everything a browser, API client or webhook sees is a
prefixed random token, so ids reveal neither order nor volume and cannot be guessed.
"""
from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def opaque_id(prefix: str, length: int = 20) -> str:
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
