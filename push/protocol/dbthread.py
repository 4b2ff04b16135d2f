"""Running session work on the database thread (Channels' ``database_sync_to_async``)."""
from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async

from support.events import fanout


def on_db_thread(fn: Any) -> Any:
    """``fn`` on the database thread; its wake-up publishes go to this event loop, not wait there."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()

        def call() -> Any:
            with fanout.sending_on(loop):
                return fn(*args, **kwargs)

        return await database_sync_to_async(call)()

    return run
