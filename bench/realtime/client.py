"""A minimal protocol client (docs/protocol.md) for load runs and multi-process tests.

It speaks the JSON frames over a WebSocket (the ``websockets`` library) or over long-poll
(``httpx``), and keeps what a real client keeps: the last ``seq`` per conversation for resume,
and every unacknowledged send so it can be retried with the same ``client_id``. Failures are
retried as docs/protocol.md, "Failures and retries" says: retryable codes and statuses with
exponential back-off and jitter, never sooner than ``Retry-After``; 4401/4403 (401/403) never.
"""
from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Container
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

Frame = dict[str, Any]

# docs/protocol.md, "Failures and retries".
FATAL_CLOSE_CODES = frozenset({4401, 4403})
RETRY_LATER_CLOSE_CODES = frozenset({1013, 4429})
# "Service restart": the node is stopping (a rolling deploy); reconnect promptly, spread over this.
SERVICE_RESTART_CLOSE_CODE = 1012
RESTART_JITTER_SECONDS = 1.0
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 15.0


def backoff_delay(attempt: int, *, retry_after: float | None = None, rand: Callable[[], float] = random.random,
                  base: float = BACKOFF_BASE_SECONDS, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Seconds before retry number ``attempt`` (0 = the first): half of min(cap, base·2ⁿ) fixed,
    half random ("equal jitter"), and never less than the server's ``Retry-After``."""
    ceiling = min(cap, base * 2 ** min(attempt, 20))
    return max(ceiling / 2 + ceiling / 2 * rand(), retry_after or 0.0)


def reconnect_delay(*, close_code: int | None, healthy: bool, attempt: int,
                    rand: Callable[[], float] = random.random) -> float:
    """Seconds before reopening a socket that closed with ``close_code``: after 1012 from a healthy
    session a random pause of up to RESTART_JITTER_SECONDS; after another drop of a healthy session
    none; "not now" (1013, 4429) and anything else back off."""
    if healthy and close_code == SERVICE_RESTART_CLOSE_CODE:
        return rand() * RESTART_JITTER_SECONDS
    if healthy and close_code not in RETRY_LATER_CLOSE_CODES:
        return 0.0
    return backoff_delay(attempt, rand=rand)


def retry_after(resp: httpx.Response) -> float | None:
    """The answer's ``Retry-After`` in seconds (only the seconds form: our server sends that)."""
    try:
        return max(0.0, float(resp.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None


def last_contiguous_seq(seqs: Container[int]) -> int:
    """The last seq of the gap-free run 1, 2, … that ``seqs`` holds (0 when it lacks seq 1): what a
    client resumes from."""
    n = 0
    while n + 1 in seqs:
        n += 1
    return n


class Refused(Exception):
    """The server refused for good (4401/4403, or HTTP 401/403): retrying cannot help."""


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
    """One WebSocket; ``frames`` receives every server frame in order; on_frame sees each first.

    ``skim`` (optional) sees each raw text frame before it is decoded and may consume it (return
    True): a load client counts frames it does not need to read without paying for their decoding.
    """

    def __init__(self, ws: ClientConnection, on_frame: Callable[[Frame], Awaitable[None] | None] | None = None,
                 skim: Callable[[str], bool] | None = None):
        self.ws = ws
        self.frames: asyncio.Queue[Frame] = asyncio.Queue()
        self.on_frame = on_frame
        self.skim = skim
        self.closed = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, url: str, *, origin: str, cookie: str | None = None,
        on_frame: Callable[[Frame], Awaitable[None] | None] | None = None, skim: Callable[[str], bool] | None = None,
    ) -> SocketClient:
        headers = {"Cookie": cookie} if cookie else None
        ws = await websockets.connect(
            url, origin=origin, additional_headers=headers, max_size=2**22, ping_interval=None,  # type: ignore[arg-type]
            open_timeout=30,
        )
        return cls(ws, on_frame, skim)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                if self.skim is not None and isinstance(raw, str) and self.skim(raw):
                    continue
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

    @classmethod
    async def open(
        cls, url: str, *, origin: str, hello: Frame, cookie: str | None = None, attempts: int = 8,
        on_frame: Callable[[Frame], Awaitable[None] | None] | None = None,
    ) -> tuple[SocketClient, Frame]:
        """Connect and say ``hello`` until a ``welcome`` comes, retrying what may be retried."""
        for attempt in range(attempts):
            try:
                client = await cls.connect(url, origin=origin, cookie=cookie, on_frame=on_frame)
            except (OSError, websockets.InvalidStatus, websockets.InvalidHandshake, TimeoutError):
                code: int | None = None
            else:
                await client.send(hello)
                welcome = await client.first_of("welcome")
                if welcome is not None:
                    return client, welcome
                code = client.close_code
                await client.close()
                if code in FATAL_CLOSE_CODES:
                    raise Refused(f"the server refused the socket with {code}")
            # A first try that met a stopping node (1012) comes back promptly, to another one.
            await asyncio.sleep(reconnect_delay(close_code=code, healthy=attempt == 0 and code == 1012,
                                                attempt=attempt))
        raise ConnectionError(f"no welcome from {url} after {attempts} attempts")

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    async def first_of(self, ftype: str, *, timeout: float = 30) -> Frame | None:
        """The next frame of ``ftype``, or None when the socket closes first."""
        async def wait() -> Frame | None:
            # The reader queues every frame before it sets ``closed``: once closed, drain the rest.
            while not (self.closed.is_set() and self.frames.empty()):
                getting = asyncio.ensure_future(self.frames.get())
                closing = asyncio.ensure_future(self.closed.wait())
                await asyncio.wait({getting, closing}, return_when=asyncio.FIRST_COMPLETED)
                closing.cancel()
                if not getting.done():
                    getting.cancel()
                    continue
                frame = getting.result()
                if frame.get("type") == ftype:
                    return frame
            return None
        return await asyncio.wait_for(wait(), timeout)

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

    def __init__(self, *, base: str, who: str, origin: str, token: str | None = None, cookie: str | None = None,
                 attempts: int = 8, transport: httpx.AsyncBaseTransport | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.base = base
        self.who = who  # "visitor" | "agent"
        self.token = token
        self.cursor: str | None = None
        self.attempts = attempts
        self.sleep = sleep
        # What was retried (an HTTP status, or the network error's name): load runs report it,
        # since a retried request is an error the client hid.
        self.retried: list[int | str] = []
        headers = {"Origin": origin}
        if cookie:
            headers["Cookie"] = cookie
        self.http = httpx.AsyncClient(timeout=60, headers=headers, limits=httpx.Limits(max_connections=4),
                                      transport=transport)

    def _body(self, extra: Frame) -> Frame:
        return {**({"token": self.token} if self.token else {}), **extra}

    async def _post(self, endpoint: str, body: Frame) -> Frame:
        """POST, retrying network errors and retryable statuses (the same body: sends keep their
        client_ids, polls their cursor, so a retry is safe)."""
        for attempt in range(self.attempts):
            try:
                resp = await self.http.post(f"{self.base}/rt/{self.who}/{endpoint}", json=body)
            except httpx.TransportError as exc:
                wait = backoff_delay(attempt)
                failure: int | str = type(exc).__name__
            else:
                if resp.status_code in (401, 403):
                    raise Refused(f"{endpoint} answered {resp.status_code}: {resp.text[:200]}")
                if resp.status_code not in RETRYABLE_STATUSES:
                    resp.raise_for_status()
                    return dict(resp.json())
                wait = backoff_delay(attempt, retry_after=retry_after(resp))
                failure = resp.status_code
            if attempt + 1 < self.attempts:
                self.retried.append(failure)
                await self.sleep(wait)
        raise ConnectionError(f"{endpoint}: no answer after {self.attempts} attempts")

    async def send(self, frames: list[Frame]) -> list[Frame]:
        return list((await self._post("send", self._body({"frames": frames})))["frames"])

    async def poll(self, *, hello: Frame | None = None) -> list[Frame]:
        body = self._body({"cursor": self.cursor, **({"hello": hello} if hello else {})})
        data = await self._post("poll", body)
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
