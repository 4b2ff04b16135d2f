"""Following one conversation across processes, as the failover tests do: what a side has seen of it
(``Seen``), an agent socket that watches it and replies (``WatchingAgent``), and waiting for a
condition with a deadline (``wait_until``)."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.realtime.client import SocketClient, last_contiguous_seq


@dataclass
class Seen:
    """What one side received of one conversation, counted the way a client would."""

    seqs: dict[int, str] = field(default_factory=dict)  # seq -> message id
    duplicates: list[int] = field(default_factory=list)
    client_ids: list[str] = field(default_factory=list)  # of `message` frames, in arrival order

    def message(self, message: dict) -> None:
        if message["seq"] in self.seqs:
            self.duplicates.append(message["seq"])
        self.seqs[message["seq"]] = message["id"]
        if message.get("client_id"):
            self.client_ids.append(message["client_id"])

    def acked(self, message: dict) -> None:
        # An ack for a retried send may repeat a message already seen: expected, not a duplicate.
        self.seqs.setdefault(message["seq"], message["id"])

    @property
    def last_contiguous(self) -> int:
        return last_contiguous_seq(self.seqs)


async def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str, every: float = 0.05) -> None:
    """Return once ``predicate()`` holds, checking every ``every`` s; AssertionError after ``timeout`` s."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


@dataclass
class WatchingAgent:
    """The stack's first agent on a socket of one node, following one conversation from seq 0:
    ``seen`` its message frames and acks, ``acks`` the seq of each of its own sends by client_id."""

    sock: SocketClient
    conversation: str
    seen: Seen
    acks: dict[str, int]

    @classmethod
    async def connect(cls, stack: Any, node: Any, conversation: str) -> WatchingAgent:
        seen = Seen()
        acks: dict[str, int] = {}

        def on_frame(frame: dict) -> None:
            if frame["type"] == "message" and frame["message"]["conversation"] == conversation:
                seen.message(frame["message"])
            elif frame["type"] == "ack":
                acks[frame["client_id"]] = frame["message"]["seq"]
                seen.acked(frame["message"])

        cookie = f"{stack.seed['session_cookie']}={stack.seed['agent_sessions'][0]}"
        sock = await SocketClient.connect(f"{node.ws}/ws/agent/", origin=node.http, cookie=cookie, on_frame=on_frame)
        await sock.send({"type": "hello", "resume": {conversation: 0}, "inbox_since": None})
        await sock.expect("welcome", timeout=60)
        return cls(sock, conversation, seen, acks)

    async def reply(self, count: int, *, pause: float) -> None:
        """Send replies ``a-0`` … ``a-{count-1}``, ``pause`` s apart."""
        for i in range(count):
            await self.sock.send({"type": "send", "client_id": f"a-{i}", "conversation": self.conversation,
                                  "body": f"reply {i}"})
            await asyncio.sleep(pause)
