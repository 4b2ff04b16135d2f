"""Helpers for the dashboard's browser tests: a scripted visitor (HTTP bootstrap + WebSocket) and setup.

The visitor speaks docs/protocol.md directly, so the dashboard tests depend only on the server,
not on the widget's UI.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import queue
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.frames import wait_for_frame

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_BUILD = ROOT / "frontend" / "static" / "dist" / "dashboard"

# Replaces WebSocket with one that never connects, like a proxy that blocks upgrades.
BLOCK_WEBSOCKETS = """
(() => {
  class BlockedWebSocket {
    constructor(url) {
      this.url = url; this.readyState = 0;
      setTimeout(() => {
        this.readyState = 3;
        if (this.onerror) this.onerror(new Event("error"));
        if (this.onclose) this.onclose({ code: 1006, reason: "", wasClean: false });
      }, 30);
    }
    send() { throw new Error("not open"); }
    close() {}
  }
  BlockedWebSocket.CONNECTING = 0; BlockedWebSocket.OPEN = 1; BlockedWebSocket.CLOSING = 2; BlockedWebSocket.CLOSED = 3;
  window.WebSocket = BlockedWebSocket;
  window.__wsBlocked = true;
})();
"""


def signed_identity(secret: str, user_id: str, **fields: str) -> dict[str, str]:
    """A host site's identity for the widget: the user id with its HMAC (docs/protocol.md, Bootstrap)."""
    digest = hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return {"user_id": user_id, "hash": digest, **fields}


def ensure_dashboard_built() -> None:
    if (DASHBOARD_BUILD / "manifest.json").exists() and (DASHBOARD_BUILD / "sw.js").exists():
        return
    if not shutil.which("npm") or not (ROOT / "frontend" / "node_modules").exists():
        pytest.skip("dashboard not built (run `make frontend` or `cd frontend && npm ci && npm run build`)")
    subprocess.run(["npm", "run", "build:dashboard"], cwd=ROOT / "frontend", check=True, capture_output=True)


class Visitor:
    """A visitor on the tenant's site: bootstraps over HTTP, then chats over /ws/visitor/."""

    def __init__(
        self, url: str, widget_key: str, *, page: str = "/pricing", timezone: str = "Europe/Paris",
        identity: dict[str, str] | None = None,
    ) -> None:
        from websockets.sync.client import connect

        res = httpx.post(
            f"{url}/rt/widget/bootstrap",
            json={"widget_key": widget_key, "visitor_token": None, "identity": identity,
                  "context": {"page": f"{url}{page}", "title": "Pricing — Acme Rockets", "referrer": "",
                              "timezone": timezone, "language": "en"}},
            headers={"Origin": url}, timeout=10,
        )
        res.raise_for_status()
        data = res.json()
        self.token: str = data["visitor_token"]
        self.contact_id: str = data["contact"]["id"]
        self.conversation: str | None = None
        self.frames: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.ws = connect(url.replace("http://", "ws://") + "/ws/visitor/", origin=url, open_timeout=10)  # type: ignore[arg-type]
        threading.Thread(target=self._read, daemon=True).start()
        self.send_frame({"type": "hello", "token": self.token, "resume": {}})
        self.wait_for(lambda f: f["type"] == "welcome")

    def _read(self) -> None:
        try:
            for raw in self.ws:
                self.frames.put(json.loads(raw))
        except Exception:  # noqa: BLE001 - the socket closing ends the reader
            return

    def send_frame(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def say(self, body: str) -> dict[str, Any]:
        """Sends a message and returns the committed message from its ack."""
        client_id = uuid.uuid4().hex
        self.send_frame({"type": "send", "client_id": client_id, "conversation": self.conversation, "body": body})
        ack = self.wait_for(lambda f: f["type"] == "ack" and f.get("client_id") == client_id)
        self.conversation = ack["message"]["conversation"]
        return ack["message"]

    def say_many(self, bodies: list[str]) -> list[dict[str, Any]]:
        """Sends several messages back to back (one socket keeps their order), then waits for every ack."""
        assert self.conversation, "say() the first message: it starts the conversation"
        ids = [uuid.uuid4().hex for _ in bodies]
        for client_id, body in zip(ids, bodies, strict=True):
            self.send_frame({"type": "send", "client_id": client_id, "conversation": self.conversation, "body": body})
        return [self.wait_for(lambda f, c=c: f["type"] == "ack" and f.get("client_id") == c)["message"] for c in ids]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10) -> dict[str, Any]:
        """The first frame (already received or arriving within ``timeout``) that matches."""
        return wait_for_frame(self.frames, self.seen, predicate, timeout=timeout, who="visitor")

    def close(self) -> None:
        self.ws.close()
