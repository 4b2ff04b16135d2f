"""At most one update per key per interval, always the latest: how an agent connection's inbox
rows are paced (a conversation that changes 50 times a second is sent a few times, ending on its
last state)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Scheduler(Protocol):
    """What ``Coalescer`` needs of a clock (``push.consumers.Timers`` in production)."""

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...


class Coalescer:
    """Leading edge at once, trailing edge at the end of the interval.

    ``admit(key, item)`` says whether ``item`` may go now. If one for the same key went less than
    ``interval`` ago, ``item`` is held instead (replacing a held one unless ``newer`` says the held
    one is newer) and handed to ``release`` when the interval ends — so the last state always goes
    out, and a burst of any length costs at most two sends per key per interval.
    """

    __slots__ = ("_held", "_sent_at", "_timer", "interval", "newer", "release", "scheduler")

    def __init__(
        self,
        *,
        interval: float,
        scheduler: Scheduler,
        release: Callable[[list[Any]], None],
        newer: Callable[[Any, Any], bool] = lambda held, item: False,
    ) -> None:
        self.interval, self.scheduler, self.release, self.newer = interval, scheduler, release, newer
        self._sent_at: dict[Any, float] = {}
        self._held: dict[Any, Any] = {}
        self._timer: Any = None

    def admit(self, key: Any, item: Any) -> bool:
        now = self.scheduler.now()
        if key in self._held:
            if not self.newer(self._held[key], item):
                self._held[key] = item
            return False
        last = self._sent_at.get(key)
        if last is None or now - last >= self.interval:
            if len(self._sent_at) >= 64:
                self._forget_before(now - self.interval)
            self._sent_at[key] = now
            return True
        self._held[key] = item
        if self._timer is None:
            self._timer = self.scheduler.call_later(last + self.interval - now, self._flush)
        return False

    @property
    def holding(self) -> int:
        return len(self._held)

    def _flush(self) -> None:
        self._timer = None
        now = self.scheduler.now()
        due = [key for key in self._held if now - self._sent_at.get(key, now - self.interval) >= self.interval]
        items = []
        for key in due:
            items.append(self._held.pop(key))
            self._sent_at[key] = now  # the trailing send opens the next interval
        if self._held:
            wait = min(self._sent_at[key] + self.interval for key in self._held) - now
            self._timer = self.scheduler.call_later(max(wait, 0.0), self._flush)
        if items:
            self.release(items)

    def _forget_before(self, moment: float) -> None:
        self._sent_at = {key: at for key, at in self._sent_at.items() if at > moment or key in self._held}

    def cancel(self) -> None:
        """Drop what is held (the connection is gone)."""
        self._held.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
