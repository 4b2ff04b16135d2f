"""What a serving process does first when it is told to stop (a rolling deploy, docs/operations.md).

`manage.py serve` calls ``run()`` as uvicorn starts its shutdown; the apps register, from their
``AppConfig.ready``, what must answer now instead of holding the exit (push/apps.py: the waiting
long-polls, push/draining.py). The serving command so needs no app's internals, and the apps need
no entry point's.
"""
from __future__ import annotations

from collections.abc import Callable

_hooks: list[Callable[[], None]] = []


def register(hook: Callable[[], None]) -> None:
    """Run ``hook`` (no arguments) when this process begins to stop; registered twice, it runs once."""
    if hook not in _hooks:
        _hooks.append(hook)


def run() -> None:
    """Run every registered hook, in the order they were registered."""
    for hook in list(_hooks):
        hook()
