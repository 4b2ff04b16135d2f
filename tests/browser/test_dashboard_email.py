"""An email conversation in the dashboard (headless Chromium): marked in the inbox, subject and
sender shown, replies by email with a switch to chat and back."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import LIVE_INBOUND_SECRET
from tests.browser.dashboard_helpers import ensure_dashboard_built
from tests.browser.test_dashboard import WIDE, open_conversation, open_dashboard

pytestmark = pytest.mark.browser

MAIL = (Path(__file__).parent.parent / "email" / "mime" / "alternative.eml").read_bytes()


@pytest.fixture(scope="module", autouse=True)
def dashboard_built() -> None:
    ensure_dashboard_built()


def test_an_email_conversation_in_the_dashboard(agent_context: Any, live_server: Any, artifacts: Any) -> None:
    slug = live_server.seed["tenant"]["slug"]
    response = httpx.post(f"{live_server.url}/inbound/email", params={"to": f"{slug}@in.example"}, content=MAIL,
                          headers={"Content-Type": "message/rfc822", "Authorization": f"Bearer {LIVE_INBOUND_SECRET}"},
                          timeout=30)
    assert response.status_code == 200, response.text
    conversation = response.json()["results"][0]["conversation"]

    page = open_dashboard(agent_context(viewport=WIDE), live_server)
    open_conversation(page, conversation)
    row = page.locator(f".conv-item[data-conversation='{conversation}']")
    assert row.locator(".chip.email").inner_text().strip() == "Email"
    header = page.locator(".conv-header")
    assert header.locator(".conv-subject").inner_text() == "Where is my order?"
    assert header.locator(".chip.email").is_visible()
    page.wait_for_selector(".msg .email-line")
    assert page.locator(".msg .email-line").first.inner_text() == (
        "Maria Santos <maria@santos-bakery.example> · Where is my order?")
    bar = page.locator(".channel-bar")
    assert bar.inner_text().startswith("Replies go by email to maria@santos-bakery.example")
    page.screenshot(path=str(artifacts / "dashboard-email-1440.png"))

    bar.get_by_role("button", name="Switch to chat").click()
    page.wait_for_selector(".channel-bar", state="hidden")
    page.wait_for_selector(".event-line:has-text('switched replies to the chat')")
    header.get_by_role("button", name="Reply by email").click()
    page.wait_for_selector(".channel-bar:not([hidden])")
    page.wait_for_selector(".event-line:has-text('switched replies to email')")
