"""Opaque identifiers shown outside the database, and secrets.

Database primary keys stay internal; everything a browser, API client or webhook sees is a
prefixed random token, so ids reveal neither order nor volume and cannot be guessed.
"""
from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def opaque_id(prefix: str, length: int = 20) -> str:
    """``prefix_`` and ``length`` characters drawn uniformly from ``_ALPHABET``.

    One draw from the system's random source for the whole id, written in base 36: a draw per
    character (``secrets.choice``) cost a system call each, and every stored message and outbox
    event needs an id.
    """
    number = secrets.randbelow(len(_ALPHABET) ** length)
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return f"{prefix}_" + "".join(chars)


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)
