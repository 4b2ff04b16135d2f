"""Waiting for a matching frame from a test socket client's reader thread."""
from __future__ import annotations

import queue
import time
from collections.abc import Callable
from typing import Any

Frame = dict[str, Any]


def wait_for_frame(
    frames: queue.Queue[Frame], seen: list[Frame], predicate: Callable[[Frame], bool], *, timeout: float, who: str
) -> Frame:
    """The first frame (already seen, or arriving within ``timeout``) that matches; others are kept in ``seen``."""
    for frame in seen:
        if predicate(frame):
            seen.remove(frame)
            return frame
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{who} saw no matching frame within {timeout}s; unmatched: {seen[-10:]}")
        try:
            frame = frames.get(timeout=left)
        except queue.Empty:
            continue
        if predicate(frame):
            return frame
        seen.append(frame)
