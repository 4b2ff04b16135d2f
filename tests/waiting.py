"""Waiting, in a test's thread, for what other threads or processes do on their own time."""
from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, *, every: float = 0.05) -> bool:
    """Whether ``predicate()`` came true within ``timeout`` seconds, asked every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False
