"""Helpers for driving the visitor widget on the demo host page (shared by the widget tests)."""
from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import FrameLocator, Page, expect

from tests.browser.conftest import AgentSocket, LiveServer

# Deletes window.WebSocket before any page script runs: the client must fall back to long-polling.
NO_WEBSOCKET = "delete window.WebSocket; Object.defineProperty(window, 'WebSocket', {value: undefined});"


def open_demo(page: Page, live_server: LiveServer, *, path: str = "/demo/") -> FrameLocator:
    """Load the demo page, wait for the launcher, open the widget; returns the widget iframe."""
    page.goto(live_server.url + path)
    launcher = page.locator("switchboard-widget .launcher")
    expect(launcher).to_be_visible(timeout=20_000)
    launcher.click()
    frame = page.frame_locator("switchboard-widget iframe")
    expect(frame.locator("textarea").first).to_be_visible()
    return frame


def composer(frame: FrameLocator) -> Any:
    return frame.locator("footer.composer textarea")


def send_visitor(frame: FrameLocator, text: str) -> None:
    box = composer(frame)
    box.fill(text)
    box.press("Enter")


def agent_follow_new_conversation(agent: AgentSocket, live_server: LiveServer, body: str, *,
                                  timeout: float = 15) -> str:
    """The conversation holding the visitor message ``body`` (unique per test); the agent subscribes
    to it from seq 0. Found in the database, not from inbox frames, which other conversations of
    the shared tenant (e.g. drained from the assignment queue) may also produce."""
    deadline = time.monotonic() + timeout
    while True:
        rows = live_server.sql(
            "SELECT DISTINCT c.public_id FROM support_conversation c JOIN support_message m "
            "ON m.conversation_id = c.id WHERE m.body = ? AND m.author_type = 'contact'",
            (body,),
        )
        if rows:
            assert len(rows) == 1, f"several conversations hold {body!r}"
            conv = rows[0][0]
            agent.send({"type": "subscribe", "conversation": conv, "last_seq": 0})
            return conv
        if time.monotonic() > deadline:
            raise AssertionError(f"no conversation with a visitor message {body!r} within {timeout}s")
        time.sleep(0.1)


def visitor_starts_conversation(new_context: Any, live_server: LiveServer, agent: AgentSocket,
                                body: str) -> tuple[Any, Page, FrameLocator, str]:
    """A fresh browser context opens the demo page and its visitor sends ``body`` (unique per test);
    ``agent`` follows the new conversation: the context, page, widget frame and conversation id."""
    ctx = new_context()
    page = ctx.new_page()
    frame = open_demo(page, live_server)
    send_visitor(frame, body)
    return ctx, page, frame, agent_follow_new_conversation(agent, live_server, body)


def agent_bodies(live_server: LiveServer, conversation: str, author: str) -> list[str]:
    """Message bodies of one conversation by author type, in seq order, straight from the database."""
    rows = live_server.sql(
        "SELECT m.body FROM support_message m JOIN support_conversation c ON c.id = m.conversation_id "
        "WHERE c.public_id = ? AND m.author_type = ? ORDER BY m.seq",
        (conversation, author),
    )
    return [r[0] for r in rows]
