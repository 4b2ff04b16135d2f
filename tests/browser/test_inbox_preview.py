"""The inbox's preview lines come with the conversation rows: no message request per row."""
from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.dashboard_helpers import Visitor, ensure_dashboard_built
from tests.browser.test_dashboard import WIDE

pytestmark = pytest.mark.browser

MESSAGES_URL = re.compile(r"/api/v1/conversations/[^/]+/messages")


@pytest.fixture(scope="module", autouse=True)
def dashboard_built() -> None:
    ensure_dashboard_built()


@pytest.fixture
def visitors(live_server: Any) -> Iterator[list[Visitor]]:
    made = [Visitor(live_server.url, live_server.seed["tenant"]["widget_key"]) for _ in range(3)]
    yield made
    for v in made:
        v.close()


def preview_of(page: Any, conversation: str) -> str:
    return page.inner_text(f".conv-item[data-conversation='{conversation}'] .conv-preview")


def test_previews_need_no_message_requests(agent_context: Any, live_server: Any, visitors: list[Visitor]) -> None:
    first, second, third = visitors
    a = first.say("Is the   Falcon kit\nin stock?")["conversation"]
    b = second.say("Where is my order #1234?")["conversation"]
    note = live_server.api("POST", f"/conversations/{b}/messages",
                           {"body": "Checked: it left the warehouse", "kind": "note",
                            "author": live_server.seed["agent"]["id"]})
    assert note.status_code == 201, note.text

    page = agent_context(viewport=WIDE).new_page()
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    page.click("button.tab[data-view='all']")
    page.select_option("select[aria-label='Status']", "")
    page.wait_for_selector(f".conv-item[data-conversation='{a}'] .conv-preview:has-text('Falcon kit in stock?')")
    assert preview_of(page, a) == "Is the Falcon kit in stock?"
    assert preview_of(page, b) == "Note: Checked: it left the warehouse"

    # Live: a new conversation and a new message update their rows from the `conversation` frames.
    c = third.say("Do you ship to Norway?")["conversation"]
    page.wait_for_selector(f".conv-item[data-conversation='{c}'] .conv-preview:has-text('ship to Norway')")
    first.say("Thanks, ordering now")
    page.wait_for_selector(f".conv-item[data-conversation='{a}'] .conv-preview:has-text('ordering now')")
    page.wait_for_timeout(500)  # time for any stray preview fetch to start
    assert [u for u in requested if MESSAGES_URL.search(u)] == []
