"""A minimal protocol client (docs/protocol.md) for load runs and multi-process tests.

It speaks the JSON frames over a WebSocket (the ``websockets`` library) or over long-poll
(``httpx``), and keeps what a real client keeps: the last ``seq`` per conversation for resume,
and every unacknowledged send so it can be retried with the same ``client_id``.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]


async def bootstrap(*, base: str, widget_key: str, origin: str, token: str | None = None) -> Frame:
    async with httpx.AsyncClient(timeout=30) as http:
        resp = await http.post(
            f"{base}/rt/widget/bootstrap",
            json={"widget_key": widget_key, "visitor_token": token, "identity": None,
                  "context": {"page": f"{origin}/", "title": "bench", "referrer": "", "timezone": "UTC",
                              "language": "en"}},
            headers={"Origin": origin},
        )
    if resp.status_code != 200:
        raise RuntimeError(f"bootstrap answered {resp.status_code}: {resp.text[:300]}")
    return resp.json()


class SocketClient:
    """One WebSocket; ``frames`` receives every server frame in order; on_frame sees each first."""

    def __init__(self, ws: ClientConnection, on_frame: Callable[[Frame], Awaitable[None] | None] | None = None):
        self.ws = ws
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()
        self.on_frame = on_frame
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, url: str, *, origin: str, cookie: str | None = None,
        on_frame: Callable[[Frame], Awaitable[None] | None] | None = None,
    ) -> SocketClient:
        headers = {"Cookie": cookie} if cookie else None
        ws = await websockets.connect(
            url, origin=origin, additional_headers=headers, max_size=2**22, ping_interval=None,  # type: ignore[arg-type]
            open_timeout=30,
        )
        return cls(ws, on_frame)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if self.on_frame is not None:
                    result = self.on_frame(frame)
                    if asyncio.iscoroutine(result):
                        await result
                await self.frames.put(frame)
        except (websockets.ConnectionClosed, OSError):
            pass
        finally:
            self.closed.set()

    async def send(self, frame: Frame) -> None:
        await self.ws.send(json.dumps(frame))

    async def expect(self, ftype: str, *, timeout: float = 15, where: Callable[[Frame], bool] | None = None) -> Frame:
        """The next frame of ``ftype`` (matching ``where``); other frames in between are skipped."""
        async def wait() -> Frame:
            while True:
                frame = await self.frames.get()
                if frame.get("type") == ftype and (where is None or where(frame)):
                    return frame
        return await asyncio.wait_for(wait(), timeout)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()


class LongPollClient:
    """The long-poll transport: ``send`` posts frames, ``poll`` waits for events after the cursor."""

    def __init__(self, *, base: str, who: str, origin: str, token: str | None = None, cookie: str | None = None):
        self.base = base
        self.who = who  # "visitor" | "agent"
        self.token = token
        self.cursor: str | None = None
        headers = {"Origin": origin}
        if cookie:
            headers["Cookie"] = cookie
        self.http = httpx.AsyncClient(timeout=60, headers=headers, limits=httpx.Limits(max_connections=4))

    def _body(self, extra: Frame) -> Frame:
        return {**({"token": self.token} if self.token else {}), **extra}

    async def send(self, frames: list[Frame]) -> list[Frame]:
        resp = await self.http.post(f"{self.base}/rt/{self.who}/send", json=self._body({"frames": frames}))
        resp.raise_for_status()
        return list(resp.json()["frames"])

    async def poll(self, *, hello: Frame | None = None) -> list[Frame]:
        body = self._body({"cursor": self.cursor, **({"hello": hello} if hello else {})})
        resp = await self.http.post(f"{self.base}/rt/{self.who}/poll", json=body)
        resp.raise_for_status()
        data = resp.json()
        self.cursor = data.get("cursor", self.cursor)
        return list(data["frames"])

    async def close(self) -> None:
        await self.http.aclose()



async def idle_tokens_after_warm_up(
    *, http: str, ws: str, widget_key: str, origin: str, count: int
) -> tuple[list[str], SocketClient]:
    """Visitor tokens for the idle runs (at most 50, reused round-robin) and a warm-up socket that has
    said hello, after the server has settled: its imports, pools and caches are warm before a memory
    baseline. The caller closes the warm-up socket with the others."""
    tokens = [
        (await bootstrap(base=http, widget_key=widget_key, origin=origin))["visitor_token"]
        for _ in range(min(count, 50))
    ]
    warm = await SocketClient.connect(f"{ws}/ws/visitor/", origin=origin)
    await warm.send({"type": "hello", "token": tokens[0], "resume": {}})
    await warm.expect("welcome", timeout=60)
    await asyncio.sleep(1)
    return tokens, warm
