"""Delayed calls of one event loop in a heap behind a single loop timer: what every open socket
waits for (its hello deadline, its next presence heartbeat, uvicorn's keepalive ping) costs an entry
here instead of a loop timer or a sleeping task of its own (docs/performance.md, "Idle memory").

No Django here: push/uvicorn_ws.py uses it before the app is loaded.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)

RESOLUTION_SECONDS = 0.001


class Timer:
    """One pending call of ``Timers``; ``cancel()`` makes it a no-op."""

    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback: Callable[[], None] | None = callback

    def cancel(self) -> None:
        self.callback = None


class Timers:
    """Delayed calls of one event loop in a heap, behind a single loop timer.

    A sleeping task per socket (hello deadline, heartbeat) costs ~1.8 KB each; an entry here ~0.2 KB.
    Callbacks run on the loop and must not block: those with async work start a task for it.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Timers] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)  # not a strong one: this is the value of a weak key
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._armed: asyncio.TimerHandle | None = None
        self._armed_at = 0.0

    @classmethod
    def of_running_loop(cls) -> Timers:
        loop = asyncio.get_running_loop()
        timers = cls._by_loop.get(loop)
        if timers is None:
            timers = cls._by_loop[loop] = cls(loop)
        return timers

    def now(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(callback)
        due = self.loop.time() + delay
        heapq.heappush(self._heap, (due, next(self._order), timer))
        if self._armed is None or due < self._armed_at:
            self._arm(due)
        return timer

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop of these timers is gone")
        return loop

    def __len__(self) -> int:
        """Pending calls, cancelled ones included until their time comes."""
        return len(self._heap)

    def _arm(self, due: float) -> None:
        if self._armed is not None:
            self._armed.cancel()
        self._armed, self._armed_at = self.loop.call_at(due, self._fire), due

    def _fire(self) -> None:
        self._armed = None
        # Everything due within the clock's resolution goes now: uvloop's clock counts whole
        # milliseconds, so its timer can fire with loop.time() a fraction of one short of the due
        # time, and re-arming for that fraction spun the loop until the millisecond turned.
        now = self.loop.time() + RESOLUTION_SECONDS
        while self._heap and self._heap[0][0] <= now:
            _due, _n, timer = heapq.heappop(self._heap)
            callback, timer.callback = timer.callback, None
            if callback is not None:
                try:
                    callback()
                except Exception:
                    log.exception("timer callback failed")
        if self._heap:
            self._arm(self._heap[0][0])
