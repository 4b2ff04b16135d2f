"""The bench client follows the failure contract (docs/protocol.md, "Failures and retries")."""
from __future__ import annotations

import json

import httpx
import pytest
from websockets.asyncio.server import serve

from bench.realtime import client as bench
from bench.realtime.client import LongPollClient, Refused, SocketClient, backoff_delay, reconnect_delay


def test_back_off_is_exponential_with_equal_jitter_capped_and_honours_retry_after():
    assert [backoff_delay(n, rand=lambda: 0.0) for n in range(7)] == [0.25, 0.5, 1.0, 2.0, 4.0, 7.5, 7.5]
    assert backoff_delay(3, rand=lambda: 0.999) == pytest.approx(3.998)
    assert backoff_delay(0, rand=lambda: 0.0, retry_after=2.0) == 2.0
    assert backoff_delay(50, rand=lambda: 1.0) == 15.0


def test_reconnect_after_1012_is_prompt_with_jitter_and_other_drops_follow_the_contract():
    assert reconnect_delay(close_code=1012, healthy=True, attempt=0, rand=lambda: 0.5) == 0.5
    assert reconnect_delay(close_code=1012, healthy=True, attempt=0, rand=lambda: 0.0) == 0.0
    assert reconnect_delay(close_code=1012, healthy=False, attempt=3, rand=lambda: 0.0) == 2.0  # back-off
    assert reconnect_delay(close_code=1006, healthy=True, attempt=0, rand=lambda: 0.9) == 0.0
    assert reconnect_delay(close_code=1013, healthy=True, attempt=0, rand=lambda: 0.0) == 0.25


async def test_long_poll_retries_503_after_retry_after_with_the_same_body_and_stops_on_401():
    bodies: list[dict] = []
    answers = [httpx.Response(503, headers={"Retry-After": "2"}, json={"error": {"code": "unavailable"}}),
               httpx.Response(500, text="oops"),
               httpx.Response(200, json={"frames": [{"type": "pong"}], "cursor": "c2"})]

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return answers.pop(0)

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    lp = LongPollClient(base="http://h", who="visitor", origin="http://o", token="t",
                        transport=httpx.MockTransport(handler), sleep=sleep)
    lp.cursor = "c1"
    assert await lp.poll() == [{"type": "pong"}]
    assert lp.cursor == "c2"
    assert [b["cursor"] for b in bodies] == ["c1", "c1", "c1"]  # a retry keeps its cursor
    assert waits[0] >= 2.0 and len(waits) == 2
    assert lp.retried == [503, 500]
    await lp.close()

    refused = LongPollClient(base="http://h", who="agent", origin="http://o", sleep=sleep,
                             transport=httpx.MockTransport(lambda r: httpx.Response(401, json={})))
    with pytest.raises(Refused):
        await refused.send([{"type": "ping"}])
    await refused.close()


async def test_a_socket_refused_with_1013_is_opened_again_and_4401_is_final(monkeypatch):
    monkeypatch.setattr(bench, "backoff_delay", lambda attempt, **kw: 0.01)
    seen: list[int] = []

    async def server(ws):
        seen.append(1)
        hello = json.loads(await ws.recv())
        if len(seen) == 1:
            await ws.send(json.dumps({"type": "error", "code": "unavailable"}))
            await ws.close(1013)
        elif hello.get("token") == "bad":
            await ws.close(4401)
        else:
            await ws.send(json.dumps({"type": "welcome"}))
            await ws.wait_closed()

    async with serve(server, "127.0.0.1", 0) as srv:
        port = srv.sockets[0].getsockname()[1]
        sock, welcome = await SocketClient.open(f"ws://127.0.0.1:{port}/", origin="http://o",
                                                hello={"type": "hello", "token": "t"})
        assert welcome == {"type": "welcome"} and len(seen) == 2
        await sock.close()
        with pytest.raises(Refused):
            await SocketClient.open(f"ws://127.0.0.1:{port}/", origin="http://o",
                                    hello={"type": "hello", "token": "bad"})
