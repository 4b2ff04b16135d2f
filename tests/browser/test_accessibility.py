"""axe-core in headless Chromium: no serious or critical violations on the widget (closed and open),
the dashboard (inbox, a conversation with its menus, stats, the setup checklist, every settings
section) and the sign-up and sign-in pages.

Each check runs axe (the npm package) inside the page or the widget's frame; a failure lists every
violating node. Screenshots of the checked states go to test-artifacts/a11y-*.png.
"""
from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import serious_violations
from tests.browser.dashboard_helpers import ensure_dashboard_built
from tests.browser.widget_helpers import agent_follow_new_conversation, send_visitor

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}


@pytest.fixture(scope="module", autouse=True)
def dashboard_built() -> None:
    ensure_dashboard_built()


def assert_clean(target: Any, what: str, include: str | None = None) -> None:
    found = serious_violations(target, include=include)
    assert not found, f"{what}: " + "\n".join(found)


def test_widget_closed_and_open(live_server: Any, new_context: Any, agent_socket: Any, artifacts: Any) -> None:
    page = new_context(bypass_csp=True).new_page()
    page.goto(live_server.url + "/demo/")
    launcher = page.locator("switchboard-widget .launcher")
    expect(launcher).to_be_visible(timeout=20_000)
    assert_clean(page, "host page, widget closed", include="switchboard-widget")
    launcher.click()
    frame_el = page.locator("switchboard-widget iframe")
    expect(frame_el).to_be_visible()
    frame = frame_el.element_handle().content_frame()
    expect(page.frame_locator("switchboard-widget iframe").locator("textarea").first).to_be_visible()
    assert_clean(page, "host page, widget open", include="switchboard-widget")
    assert_clean(frame, "widget, open")  # the offline form when nobody is online, else the chat
    page.screenshot(path=str(artifacts / "a11y-widget-open.png"))

    # With an agent online: the chat, with a sent message (its time and receipt) and the reply.
    agent = agent_socket()
    page.reload()
    page.locator("switchboard-widget .launcher").click()
    widget = page.frame_locator("switchboard-widget iframe")
    send_visitor(widget, "Is the axe happy?")
    conv = agent_follow_new_conversation(agent, live_server, "Is the axe happy?")
    agent.send({"type": "send", "conversation": conv, "client_id": "a11y-1", "body": "Very happy."})
    expect(widget.locator(".row.theirs .bubble", has_text="Very happy.")).to_be_visible()
    frame = page.locator("switchboard-widget iframe").element_handle().content_frame()
    assert_clean(frame, "widget, chat")
    page.screenshot(path=str(artifacts / "a11y-widget-chat.png"))


def test_dashboard_inbox_conversation_and_menus(
    live_server: Any, agent_context: Any, visitor: Any, artifacts: Any
) -> None:
    label = live_server.api("POST", "labels", {"name": "a11y-check", "color": "#0ea5e9"})
    assert label.status_code in (201, 400), label.text  # 400: made by an earlier run of this module
    first = visitor().say("Checking the dashboard with axe")
    page = agent_context("owner", viewport=WIDE, bypass_csp=True).new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    page.click("button.tab[data-view='all']")
    page.select_option("select[aria-label='Status']", "")
    page.wait_for_selector(f".conv-item[data-conversation='{first['conversation']}']")
    assert_clean(page, "inbox")
    page.click(f".conv-item[data-conversation='{first['conversation']}']")
    page.wait_for_selector(".composer-input", timeout=30_000)
    page.wait_for_selector(".msg.in .body:has-text('Checking the dashboard')")
    assert_clean(page, "conversation")
    page.click("button[aria-label='Labels']")
    expect(page.locator(".labels-menu")).to_be_visible()
    assert_clean(page, "labels menu")
    page.screenshot(path=str(artifacts / "a11y-dashboard-labels-menu.png"))
    page.keyboard.press("Escape")
    page.click("button[aria-label='Snooze']")
    assert_clean(page, "snooze menu")
    page.keyboard.press("Escape")
    page.goto(live_server.url + "/app/stats")
    page.wait_for_selector("#app[data-ready='true']")
    page.wait_for_selector(".stats")
    assert_clean(page, "stats")


def test_setup_checklist(live_server: Any, agent_context: Any) -> None:
    page = agent_context("owner", viewport=WIDE, bypass_csp=True).new_page()
    page.goto(live_server.url + "/app/setup")
    page.wait_for_selector(".setup h1")
    assert_clean(page, "setup checklist")


def test_settings_every_section(live_server: Any, agent_context: Any, artifacts: Any) -> None:
    """Every section the settings nav lists (read from the page, so new sections are checked too)."""
    page = agent_context("owner", viewport=WIDE, bypass_csp=True).new_page()
    page.goto(live_server.url + "/app/settings")
    page.wait_for_selector(".settings-nav-item")
    sections = page.eval_on_selector_all(".settings-nav-item", "links => links.map(a => a.dataset.section)")
    assert "widget" in sections, sections
    for section in sections:
        page.goto(f"{live_server.url}/app/settings/{section}")
        page.wait_for_selector(f".settings-nav-item[data-section='{section}'][aria-current='page']")
        page.wait_for_selector(".settings-section")
        page.wait_for_load_state("networkidle")
        assert_clean(page, f"settings: {section}")
    page.screenshot(path=str(artifacts / "a11y-settings-last.png"), full_page=True)


def test_sign_up_page(live_server: Any, new_context: Any, artifacts: Any) -> None:
    page = new_context(bypass_csp=True).new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    expect(page.locator("form:not(.lang-switch)")).to_be_visible()
    assert_clean(page, "sign-up")
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("form:not(.lang-switch)")).to_be_visible()
    assert_clean(page, "sign-in")
