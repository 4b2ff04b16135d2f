"""Keyboard order on a host page: a closed widget is neither visible nor focusable; Tab goes from
the host's controls to the launcher and on, never into the hidden chat frame."""
from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

# Where focus is, seen from the host page: a host control's id or text, "launcher", "frame" or "page".
WHERE = """() => {
  const a = document.activeElement;
  if (!a || a === document.body) return "page";
  if (a.tagName === "SWITCHBOARD-WIDGET") {
    const inner = a.shadowRoot.activeElement;
    return inner && inner.classList.contains("launcher") ? "launcher" : "frame";
  }
  return a.id || a.textContent.trim();
}"""


def host_page(page: Page, live_server: Any) -> None:
    """The demo host page: nav links, then the "Talk to an engineer" button (#open-chat), then the widget."""
    page.goto(live_server.url + "/demo/")
    expect(page.locator("switchboard-widget .launcher")).to_be_visible(timeout=20_000)


def tab(page: Page) -> str:
    page.keyboard.press("Tab")
    return page.evaluate(WHERE)


def test_tab_order_with_the_widget_closed_skips_the_hidden_frame(live_server: Any, new_context: Any) -> None:
    page = new_context().new_page()
    host_page(page, live_server)
    page.focus("#open-chat")
    seen = [tab(page) for _ in range(4)]
    # Last host control → launcher → out of the page → round to the first host control; never the frame.
    assert "frame" not in seen, seen
    assert seen[0] == "launcher", seen
    assert "Products" in seen[1:], seen
    assert page.locator("switchboard-widget iframe").is_hidden()


def test_tab_order_with_the_widget_open_and_after_closing(live_server: Any, new_context: Any) -> None:
    page = new_context().new_page()
    host_page(page, live_server)
    page.focus("#open-chat")
    assert tab(page) == "launcher"
    page.keyboard.press("Enter")
    frame = page.frame_locator("switchboard-widget iframe")
    expect(frame.locator(".panel :focus")).to_have_count(1)  # the app focuses its first field
    # While open, Tab stays in the visible panel (a dialog) ...
    for _ in range(8):
        assert tab(page) == "frame"
        assert frame.locator(".panel").evaluate("(p) => p.contains(document.activeElement)")
    # ... Esc closes it and gives focus back to the launcher, and Tab goes on to the host page.
    page.keyboard.press("Escape")
    expect(page.locator("switchboard-widget .launcher")).to_be_focused()
    expect(page.locator("switchboard-widget iframe")).to_be_hidden()
    seen = [tab(page) for _ in range(3)]
    assert "frame" not in seen and "Products" in seen, seen
