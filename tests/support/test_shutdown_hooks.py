"""`manage.py serve` stops through config/shutdown_hooks.py: the hooks the apps registered run as
uvicorn begins its shutdown, and push's answers the long-polls waiting in the process at once."""
from __future__ import annotations

import asyncio
from typing import Any

import uvicorn

from config import shutdown_hooks
from push import draining
from support.management.commands.serve import DrainingServer


def test_hooks_run_once_each_in_the_order_they_were_registered(monkeypatch):
    monkeypatch.setattr(shutdown_hooks, "_hooks", [])
    ran: list[str] = []

    def first() -> None:
        ran.append("first")

    def second() -> None:
        ran.append("second")

    shutdown_hooks.register(first)
    shutdown_hooks.register(second)
    shutdown_hooks.register(first)
    shutdown_hooks.run()
    assert ran == ["first", "second"]


def test_push_registers_its_drain():
    assert draining.begin in shutdown_hooks._hooks


async def test_a_stopping_server_answers_the_waiting_long_polls_before_uvicorn_closes(monkeypatch):
    waiting: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    monkeypatch.setattr(draining, "draining", False)
    monkeypatch.setattr(draining, "polls", {waiting})
    seen_by_uvicorn: list[bool] = []

    async def uvicorn_shutdown(server: uvicorn.Server, sockets: Any = None) -> None:
        seen_by_uvicorn.append(draining.draining)

    monkeypatch.setattr(uvicorn.Server, "shutdown", uvicorn_shutdown)
    await DrainingServer(uvicorn.Config("config.asgi:application")).shutdown()
    assert seen_by_uvicorn == [True]
    assert waiting.get_nowait() is draining.DRAIN_EVENT
