"""`manage.py serve` on SIGTERM (one step of a rolling deploy), on real PostgreSQL and Redis: every
open WebSocket is closed with 1012 ("service restart", docs/protocol.md), a waiting long-poll
answers at once instead of at its timeout, and the node exits cleanly; with ``--workers 2`` the
same holds for both worker processes behind the one port."""
from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bench.realtime.client import LongPollClient, SocketClient, bootstrap
from bench.realtime.harness import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_closes_sockets_with_1012_answers_long_polls_and_exits(require_postgres, redis_url, workers):
    # A poll left to itself would wait ten minutes: only the drain can answer it within the test's timeout.
    stack = Stack(database_url=os.environ["DATABASE_URL"], redis_url=redis_url,
                  extra_env={"LONGPOLL_TIMEOUT_SECONDS": "600", "PRESENCE_TTL_SECONDS": "700"},
                  server_command=[sys.executable, "manage.py", "serve", "--host", "127.0.0.1", "--port", "{port}",
                                  "--workers", str(workers)])
    with stack:
        node = stack.start_server()
        if workers > 1:
            assert len(children_of(node.process.pid)) == workers
        sockets = []
        for _ in range(3 * workers):
            boot = await bootstrap(base=node.http, widget_key=stack.seed["widget_key"], origin=stack.origin)
            sock = await SocketClient.connect(f"{node.ws}/ws/visitor/", origin=stack.origin)
            await sock.send({"type": "hello", "token": boot["visitor_token"], "resume": {}})
            await sock.expect("welcome", timeout=60)
            sockets.append(sock)
        boot = await bootstrap(base=node.http, widget_key=stack.seed["widget_key"], origin=stack.origin)
        poller = LongPollClient(base=node.http, who="visitor", origin=stack.origin, token=boot["visitor_token"],
                                attempts=1)  # no retry: the first answer must be the drain's
        first = await poller.poll(hello={"type": "hello", "token": boot["visitor_token"], "resume": {}})
        assert [f["type"] for f in first][:1] == ["welcome"]
        waiting = asyncio.create_task(poller.poll())
        await asyncio.sleep(2)  # the poll reaches the server and waits
        assert not waiting.done()

        node.process.send_signal(signal.SIGTERM)

        assert await asyncio.wait_for(waiting, 60) == []
        for sock in sockets:
            await asyncio.wait_for(sock.closed.wait(), 60)
        assert [sock.close_code for sock in sockets] == [1012] * len(sockets)
        # uvicorn re-raises the SIGTERM it handled once it has shut down (so a supervisor sees the
        # signal); the supervising parent of --workers exits 0 once its workers have.
        assert await asyncio.to_thread(node.process.wait, 60) in (0, -signal.SIGTERM)
        assert node.log_path.read_text().count("Finished server process") == workers
        await poller.close()
