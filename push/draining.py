"""A node's drain when it is told to stop (a rolling deploy): `manage.py serve` runs the shutdown
hooks (config/shutdown_hooks.py), push/apps.py registers ``begin()`` among them, and every
long-poll waiting in this process answers now, empty, instead of at its timeout.

uvicorn itself stops accepting, closes each WebSocket with 1012 ("service restart") and waits for
in-flight HTTP answers; only a waiting long-poll would hold the exit for ``LONGPOLL_TIMEOUT_SECONDS``.
"""
from __future__ import annotations

import asyncio
from typing import Any

# The wake-up queue of every long-poll waiting in this process (push/longpoll.py registers them).
polls: set[asyncio.Queue[Any]] = set()
draining = False
DRAIN_EVENT: dict[str, Any] = {"type": "node.draining"}


def begin() -> None:
    """Wake every waiting long-poll; polls that start from now on answer without waiting."""
    global draining
    draining = True
    for queue in list(polls):
        queue.put_nowait(DRAIN_EVENT)
