"""The dashboard, two agents side by side in Chromium: labels (add, remove, filter) live for the other
agent; a reply takes an unassigned chat, live for the other; search across every status; the
"Click to enable sound" prompt while the browser holds audio."""
from __future__ import annotations

import uuid
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import serious_violations
from tests.browser.dashboard_helpers import ensure_dashboard_built

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}

# Chromium's autoplay policy, as a desktop browser applies it: audio stays "suspended" until the user
# clicked or typed on the page (headless Chromium under Playwright lets everything play and reports
# the page as already activated, so the policy is played here by a stand-in AudioContext that
# resumes only within 5 s of a real (trusted) click or key press, and counts the beeps it would make).
HELD_AUDIO = """
(() => {
  window.__beeps = 0;
  let gestureAt = -Infinity;
  const gesture = (e) => { if (e.isTrusted) gestureAt = performance.now(); };
  window.addEventListener("pointerdown", gesture, true);
  window.addEventListener("keydown", gesture, true);
  class HeldAudioContext extends EventTarget {
    constructor() { super(); this.state = "suspended"; this.currentTime = 0; this.destination = {}; }
    resume() {
      if (performance.now() - gestureAt < 5000 && this.state !== "running") {
        this.state = "running";
        this.dispatchEvent(new Event("statechange"));
      }
      return Promise.resolve();
    }
    createOscillator() {
      window.__beeps++;
      return { type: "", frequency: {}, connect: (node) => node, start() {}, stop() {} };
    }
    createGain() {
      return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (node) => node };
    }
  }
  window.AudioContext = HeldAudioContext;
})();
"""


@pytest.fixture(scope="module", autouse=True)
def dashboard_built() -> None:
    ensure_dashboard_built()


def dashboard(ctx: Any, live_server: Any) -> Any:
    page = ctx.new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    # "All", any status: every conversation of the tenant is in the list.
    page.click("button.tab[data-view='all']")
    page.select_option("select[aria-label='Status']", "")
    return page


def set_presence(page: Any, value: str) -> None:
    """Away: auto-assignment gives this agent nothing, so a new chat stays unassigned. The choice is
    stored on the server: tests set it back to available."""
    page.click(".rail .me")
    page.click(f".menu-item[data-presence='{value}']")
    expect(page.locator(f".rail .me .presence-dot.{'away' if value == 'away' else 'online'}")).to_have_count(1)


def row(page: Any, conversation: str) -> Any:
    return page.locator(f".conv-item[data-conversation='{conversation}']")


def test_labels_added_filtered_and_removed_live_for_the_other_agent(
    live_server: Any, agent_context: Any, visitor: Any, artifacts: Any
) -> None:
    tag = uuid.uuid4().hex[:5]
    made = {}
    for name, color in ((f"vip-{tag}", "#b45309"), (f"refund-{tag}", "#0369a1")):
        res = live_server.api("POST", "labels", {"name": name, "color": color})
        assert res.status_code == 201, res.text
        made[name] = res.json()["id"]
    labelled = visitor().say(f"Please refund order {tag}")["conversation"]
    other = visitor().say(f"Just browsing {tag}")["conversation"]
    # bypass_csp: axe-core is injected into the pages below.
    olivia = dashboard(agent_context("owner", viewport=WIDE, bypass_csp=True), live_server)
    alice = dashboard(agent_context("agent", viewport=WIDE, bypass_csp=True), live_server)
    expect(row(alice, labelled)).to_be_visible()
    expect(row(alice, other)).to_be_visible()

    # Olivia labels the conversation from its header menu.
    row(olivia, labelled).click()
    olivia.wait_for_selector(".composer-input")
    olivia.click("button[aria-label='Labels']")
    menu_item = olivia.locator(f".labels-menu [role=menuitemcheckbox][data-label='{made[f'vip-{tag}']}']")
    expect(menu_item).to_have_attribute("aria-checked", "false")
    menu_item.click()
    expect(olivia.locator(f".conv-labels .label-chip:has-text('vip-{tag}')")).to_be_visible()
    olivia.click("button[aria-label='Labels']")
    expect(menu_item).to_have_attribute("aria-checked", "true")
    olivia.locator(f".labels-menu [role=menuitemcheckbox][data-label='{made[f'refund-{tag}']}']").click()
    expect(olivia.locator(".conv-labels .label-chip")).to_have_count(2)
    olivia.screenshot(path=str(artifacts / "dashboard-labels-header.png"))
    assert serious_violations(olivia) == []

    # Alice sees both on the inbox row without reloading (a `conversation` frame).
    expect(row(alice, labelled).locator(".label-chip")).to_have_text([f"refund-{tag}", f"vip-{tag}"])
    # She filters the inbox by one: only that conversation stays, and the tab counts follow.
    alice.select_option("select[aria-label='Label']", made[f"vip-{tag}"])
    expect(row(alice, other)).to_have_count(0)
    expect(row(alice, labelled)).to_be_visible()
    expect(alice.locator("button.tab[data-view='all'] .tab-count")).to_contain_text("1")
    alice.screenshot(path=str(artifacts / "dashboard-labels-filter.png"))
    assert serious_violations(alice) == []

    # Olivia takes "vip" off with the chip's button: it leaves Alice's filtered list live.
    olivia.click(f"button[aria-label='Remove label vip-{tag}']")
    expect(olivia.locator(".conv-labels .label-chip")).to_have_text([f"refund-{tag}"])
    expect(row(alice, labelled)).to_have_count(0)
    alice.select_option("select[aria-label='Label']", "")
    expect(row(alice, labelled).locator(".label-chip")).to_have_text([f"refund-{tag}"])
    stored = live_server.api("GET", f"conversations/{labelled}").json()
    assert [label["name"] for label in stored["labels"]] == [f"refund-{tag}"]


def test_a_reply_takes_an_unassigned_chat_live_for_the_other_agent(
    live_server: Any, agent_context: Any, visitor: Any, artifacts: Any
) -> None:
    olivia = dashboard(agent_context("owner", viewport=WIDE), live_server)
    alice = dashboard(agent_context("agent", viewport=WIDE), live_server)
    set_presence(olivia, "away")
    set_presence(alice, "away")
    try:
        taken_by_reply(live_server, olivia, alice, visitor, artifacts)
    finally:
        set_presence(olivia, "available")
        set_presence(alice, "available")


def taken_by_reply(live_server: Any, olivia: Any, alice: Any, visitor: Any, artifacts: Any) -> None:
    conv = visitor().say("Is anyone there?")["conversation"]
    alice.click("button.tab[data-view='unassigned']")
    expect(row(alice, conv)).to_be_visible()

    row(olivia, conv).click()
    expect(olivia.locator(".take-bar")).to_be_visible()
    olivia.fill(".composer-input", "Hi! I'm on it.")
    olivia.keyboard.press("Enter")
    olivia.wait_for_selector(".msg.out:not(.pending) .body:has-text(\"I'm on it\")")
    # Olivia has it now: her header says so, the "nobody is on it" bar is gone ...
    expect(olivia.locator(".take-bar")).to_be_hidden()
    expect(olivia.locator(".assign select")).to_have_value(f"agent:{live_server.seed['owner']['id']}")
    # ... and Alice's Unassigned list lets it go, live.
    expect(row(alice, conv)).to_have_count(0)
    alice.click("button.tab[data-view='all']")
    expect(row(alice, conv).locator(".chip.assignee")).to_have_text("Olivia Owner")
    assert live_server.api("GET", f"conversations/{conv}").json()["assignee"]["id"] == live_server.seed["owner"]["id"]
    alice.screenshot(path=str(artifacts / "dashboard-taken-by-reply.png"))


def test_search_looks_in_every_status(live_server: Any, agent_context: Any, visitor: Any, artifacts: Any) -> None:
    word = f"sprocket{uuid.uuid4().hex[:6]}"
    v = visitor()
    conv = v.say(f"My {word} arrived bent")["conversation"]
    done = live_server.api("PATCH", f"conversations/{conv}", {"status": "resolved"})
    assert done.status_code == 200, done.text
    page = agent_context("agent", viewport=WIDE).new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    page.click("button.tab[data-view='all']")
    page.select_option("select[aria-label='Status']", "open")
    expect(row(page, conv)).to_have_count(0)
    page.fill("input[type=search]", word)
    # Found although resolved and the status filter says Open; the note says why.
    expect(row(page, conv)).to_be_visible()
    expect(row(page, conv).locator(".chip.status-resolved")).to_be_visible()
    expect(page.locator("#search-note")).to_have_text("Searching every status")
    page.screenshot(path=str(artifacts / "dashboard-search-all-statuses.png"))
    page.fill("input[type=search]", "")
    expect(row(page, conv)).to_have_count(0)
    expect(page.locator("#search-note")).to_be_hidden()


def test_sound_held_by_the_browser_asks_for_a_click(
    live_server: Any, agent_context: Any, visitor: Any, artifacts: Any
) -> None:
    ctx = agent_context("agent", viewport=WIDE)
    ctx.add_init_script(HELD_AUDIO)
    page = ctx.new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    prompt = page.locator(".sound-prompt")
    expect(prompt).to_be_visible()
    expect(prompt.get_by_role("button")).to_have_text("Click to enable sound")
    page.screenshot(path=str(artifacts / "dashboard-sound-prompt.png"))
    # A new chat while audio is held: no sound is pretended, the prompt stays.
    visitor().say("Hello? (held audio)")
    page.wait_for_function("() => document.title.startsWith('(')")
    assert page.evaluate("window.__beeps") == 0
    expect(prompt).to_be_visible()

    prompt.get_by_role("button").click()
    expect(prompt).to_be_hidden()
    visitor().say("Hello again (sound on)")
    page.wait_for_function("() => window.__beeps > 0")
