"""The agent dashboard in headless Chromium: chatting with a visitor, long-polling, offline, XSS, PWA."""
from __future__ import annotations

import io
import json
import re
import time
from typing import Any

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser.dashboard_helpers import BLOCK_WEBSOCKETS, ensure_dashboard_built, signed_identity

pytestmark = pytest.mark.browser

WIDE = {"width": 1440, "height": 900}
NARROW = {"width": 390, "height": 844}


@pytest.fixture(scope="module", autouse=True)
def dashboard_built() -> None:
    ensure_dashboard_built()


def open_dashboard(ctx: Any, live_server: Any, path: str = "/app/") -> Any:
    page = ctx.new_page()
    page.goto(live_server.url + path)
    page.wait_for_selector("#app[data-ready='true']")
    return page


def open_conversation(page: Any, conversation: str) -> None:
    # "All" shows the conversation whoever auto-assignment gave it to.
    page.click("button.tab[data-view='all']")
    page.select_option("select[aria-label='Status']", "")
    page.click(f".conv-item[data-conversation='{conversation}']")
    page.wait_for_selector(".composer-input", timeout=30_000)  # history loads slowly on a busy CI machine


def wait_until(page: Any, expression: str, arg: Any = None, timeout: float = 10) -> Any:
    """Polls an async page expression until it is truthy (wait_for_function does not await promises)."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still falsy after {timeout}s: {expression}")
        page.wait_for_timeout(150)


def thread_bodies(page: Any) -> list[str]:
    return page.eval_on_selector_all(".messages .msg:not(.pending) .body", "els => els.map(e => e.textContent)")


def test_agent_and_visitor_chat_both_ways(agent_context: Any, live_server: Any, visitor: Any, artifacts: Any) -> None:
    v = visitor()
    first = v.say("Hi, is the Falcon kit in stock?")
    page = open_dashboard(agent_context(viewport=WIDE), live_server)
    # The unread conversation shows in the title badge.
    page.wait_for_function(r"/^\(\d+\) Inbox · Switchboard$/.test(document.title)")
    open_conversation(page, first["conversation"])
    page.wait_for_selector(".msg.in .body:has-text('Falcon kit in stock')")

    # The tabs show their counts under the current filters (All, any status here), one request for
    # all three, and the count is part of the tab's accessible name.
    counts = page.evaluate('fetch("/api/v1/conversations/counts").then(r => r.json())')
    assert counts["all"] >= 1 and set(counts) == {"mine", "unassigned", "all"}
    wait_until(page, """n => document.querySelector("button.tab[data-view='all'] .tab-count")
        ?.firstChild?.textContent === String(n)""", counts["all"])
    noun = "conversation" if counts["all"] == 1 else "conversations"
    assert page.get_by_role("tab", name=f"All {counts['all']} {noun}", exact=True).count() == 1
    # A new conversation's live frame refreshes the counts (debounced, no reload).
    extra = visitor().say("Do you ship to Norway?")
    wait_until(page, """n => document.querySelector("button.tab[data-view='all'] .tab-count")
        ?.firstChild?.textContent === String(n)""", counts["all"] + 1)
    # Resolved again, so it takes no agent's capacity from the tests after this one.
    done = live_server.api("PATCH", f"conversations/{extra['conversation']}", {"status": "resolved"})
    assert done.status_code == 200, done.text

    # The visitor types: the agent sees it; the agent types: the visitor is told.
    # Typing is ephemeral: like a real widget, the visitor repeats it while typing, so one sent
    # before the dashboard's subscription reached the server is simply followed by the next.
    for _ in range(8):
        v.send_frame({"type": "typing", "conversation": v.conversation, "on": True})
        try:
            page.wait_for_selector(".typing-indicator:has-text('typing')", timeout=2000)
            break
        except PlaywrightTimeout:
            continue
    else:
        raise AssertionError("the visitor's typing never showed")
    page.fill(".composer-input", "Yes")
    page.type(".composer-input", "! We have 3 left.")
    typing = v.wait_for(lambda f: f["type"] == "typing" and f.get("on") is True)
    assert typing["author"]["type"] == "agent"

    page.keyboard.press("Enter")
    reply = v.wait_for(lambda f: f["type"] == "message" and f["message"]["author"]["type"] == "agent"
                       and f["message"]["kind"] == "text")
    assert reply["message"]["body"] == "Yes! We have 3 left."
    page.wait_for_selector(".msg.out:not(.pending) .body:has-text('We have 3 left')")

    # The visitor reads the reply: the agent sees the receipt.
    v.send_frame({"type": "read", "conversation": v.conversation, "seq": reply["message"]["seq"]})
    page.wait_for_selector(".receipt.seen")

    # And a second visitor message arrives live.
    v.say("Great, I'll order one now.")
    page.wait_for_selector(".msg.in .body:has-text('order one now')")
    assert thread_bodies(page)[-2:] == ["Yes! We have 3 left.", "Great, I'll order one now."]

    # An internal note is shown to the team, marked as such, and never reaches the visitor.
    page.click(".ctab.note")
    page.fill(".composer-input", "VIP customer: offer free shipping")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.out.note:not(.pending) .body:has-text('free shipping')")
    assert "Internal note" in page.inner_text(".msg.note .meta")
    page.click(".ctab:not(.note)")
    page.fill(".composer-input", "Thanks! It ships tomorrow.")
    page.keyboard.press("Enter")
    got = v.wait_for(lambda f: f["type"] == "message" and f["message"]["author"]["type"] == "agent"
                     and f["message"]["kind"] != "event")
    assert got["message"]["body"] == "Thanks! It ships tomorrow."
    assert not any("free shipping" in str(f) for f in v.seen)
    page.screenshot(path=str(artifacts / "dashboard-conversation-1440.png"))

    # Search finds the conversation by what was said in it.
    page.fill("input.search", "Falcon kit")
    page.wait_for_function("document.querySelectorAll('.conv-item').length === 1")
    assert page.get_attribute(".conv-item", "data-conversation") == first["conversation"]

    # Presence: the agent steps away, and the team list says so (then comes back).
    me = live_server.seed["agent"]["id"]
    page.click(".rail .me")
    page.click(".menu-item[data-presence='away']")
    page.wait_for_selector(f".team-row[data-agent='{me}'] .presence-dot.away")
    # The server took it (not only the screen): the API reports the agent away.
    wait_until(page, """me => fetch("/api/v1/agents").then(r => r.json())
        .then(d => d.results.some(a => a.id === me && a.presence === "away"))""", me)
    page.click(".rail .me")
    page.click(".menu-item[data-presence='available']")
    page.wait_for_selector(f".team-row[data-agent='{me}'] .presence-dot.online")


def test_long_polling_when_websockets_are_blocked(agent_context: Any, live_server: Any, visitor: Any) -> None:
    v = visitor()
    first = v.say("Hello over a strict proxy")
    ctx = agent_context(viewport=WIDE)
    ctx.add_init_script(BLOCK_WEBSOCKETS)
    page = open_dashboard(ctx, live_server)
    page.wait_for_selector("#app[data-connection='polling']", timeout=15_000)
    open_conversation(page, first["conversation"])
    page.wait_for_selector(".msg.in .body:has-text('strict proxy')")
    page.fill(".composer-input", "Reply through long-polling")
    page.keyboard.press("Enter")
    got = v.wait_for(lambda f: f["type"] == "message" and f["message"]["author"]["type"] == "agent"
                     and f["message"]["kind"] == "text")
    assert got["message"]["body"] == "Reply through long-polling"
    v.say("Received, thanks")
    page.wait_for_selector(".msg.in .body:has-text('Received, thanks')")
    # Long-polling is a working connection: nothing alarming is shown.
    assert page.locator(".banner").is_hidden()
    assert page.evaluate("window.__wsBlocked") is True


def test_twenty_messages_sent_while_agent_offline_arrive_once_in_order(
    agent_context: Any, live_server: Any, visitor: Any
) -> None:
    v = visitor()
    first = v.say("Message 0")
    ctx = agent_context(viewport=WIDE)
    page = open_dashboard(ctx, live_server)
    open_conversation(page, first["conversation"])
    page.wait_for_selector(".msg.in .body:has-text('Message 0')")
    ctx.set_offline(True)
    page.wait_for_selector(".banner.offline")
    acks = v.say_many([f"Message {i}" for i in range(1, 21)])
    assert [m["seq"] for m in acks] == sorted(m["seq"] for m in acks)
    ctx.set_offline(False)
    page.wait_for_selector(".msg.in .body:has-text('Message 20')", timeout=20_000)
    bodies = [b for b in thread_bodies(page) if b.startswith("Message ")]
    assert bodies == [f"Message {i}" for i in range(21)]
    seqs = page.eval_on_selector_all(".messages [data-seq]", "els => els.map(e => Number(e.dataset.seq))")
    assert len(seqs) == len(set(seqs)) and seqs == sorted(seqs)
    page.wait_for_selector(".banner", state="hidden")


def test_user_content_is_shown_as_text_and_never_runs(agent_context: Any, live_server: Any, visitor: Any) -> None:
    name = '<img src=x onerror="window.__xss=1">Mallory'
    script = "<script>window.__xss=2</script>"
    img = '<img src=x onerror="window.__xss=3;alert(1)">'
    [(secret,)] = live_server.sql("SELECT identity_secret FROM support_tenant WHERE slug = ?", ("demo",))
    v = visitor(identity=signed_identity(secret, "user-xss-1", name=name, email="mallory@shop.example"))
    first = v.say(script)
    v.say(img)
    ctx = agent_context(viewport=WIDE)
    dialogs: list[str] = []
    page = ctx.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    open_conversation(page, first["conversation"])
    page.wait_for_selector(".msg.in .body >> nth=1")
    assert thread_bodies(page)[-2:] == [script, img]
    assert page.inner_text(".conv-title h2") == name
    assert page.locator(f".conv-item[data-conversation='{first['conversation']}'] .conv-name").inner_text() == name
    assert page.locator(".messages img, .conv-list img, .contact-panel img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert dialogs == []

    # Web addresses in messages become links; other schemes and markup stay text.
    tricky = 'Track it: https://shop.example/t?id=7&x="><b>bold</b> or javascript:window.__xss=4'
    v.say(tricky)
    page.wait_for_selector(".msg.in .body a")
    links = page.eval_on_selector_all(".messages .body a", "els => els.map(a => [a.getAttribute('href'), a.rel])")
    assert links == [["https://shop.example/t?id=7&x=", "noopener noreferrer nofollow"]]
    assert thread_bodies(page)[-1] == tricky
    assert page.locator(".messages b").count() == 0


def tiny_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (24, 16), (79, 70, 229)).save(out, format="PNG")
    return out.getvalue()


def test_composer_canned_responses_attachments_and_actions(
    agent_context: Any, live_server: Any, visitor: Any, artifacts: Any
) -> None:
    v = visitor()
    first = v.say("Where is my order?")
    res = live_server.api("POST", "canned-responses", {
        "shortcut": "shipping", "title": "Shipping times", "body": "Orders ship within 2 working days."})
    assert res.status_code in (201, 400, 409), res.text  # 400/409: made by an earlier test on this server

    page = open_dashboard(agent_context(viewport=WIDE), live_server)
    open_conversation(page, first["conversation"])
    page.fill(".composer-input", "/ship")
    page.wait_for_selector(".suggest-item:has-text('/shipping')")
    page.screenshot(path=str(artifacts / "dashboard-canned-1440.png"))
    page.keyboard.press("Enter")
    assert page.input_value(".composer-input") == "Orders ship within 2 working days."
    page.keyboard.press("Enter")
    got = v.wait_for(lambda f: f["type"] == "message" and f["message"]["author"]["type"] == "agent"
                     and f["message"]["kind"] == "text")
    assert got["message"]["body"] == "Orders ship within 2 working days."

    # A disallowed file is refused before upload, with a clear message; an image gets a preview.
    page.set_input_files(".composer input[type=file]",
                         {"name": "setup.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ\x90\x00"})
    assert "can't be sent" in page.inner_text(".composer-error")
    page.set_input_files(".composer input[type=file]",
                         {"name": "label.png", "mimeType": "image/png", "buffer": tiny_png()})
    page.wait_for_selector(".composer-file img")
    assert page.locator(".composer-error").is_hidden()
    page.click("button.send")
    page.wait_for_selector(".msg.out:not(.pending) .att-image img")
    sent = v.wait_for(lambda f: f["type"] == "message" and f["message"].get("attachment"))
    assert sent["message"]["attachment"]["name"] == "label.png"

    # Unassign, snooze, resolve, reopen: each shows in the header.
    # (Away first: an available agent with room would get the unassigned conversation straight back
    # from auto-assignment, and the unassigned state below would last only a moment.)
    page.click(".rail .me")
    page.click(".menu-item[data-presence='away']")
    page.select_option(".assign select", "")
    page.wait_for_selector(".event-line:has-text('unassigned')")
    # Unassigned: the bar above the composer takes it back in one click.
    page.click(".take-bar button:has-text('Assign to me')")
    page.wait_for_selector(".event-line:has-text('took the conversation')")
    page.wait_for_selector(".take-bar", state="hidden")
    assert page.input_value(".assign select") == f"agent:{live_server.seed['agent']['id']}"
    page.click(".rail .me")
    page.click(".menu-item[data-presence='available']")
    page.click("button:has-text('Snooze')")
    page.click(".menu-item:has-text('1 hour')")
    page.wait_for_selector(".conv-title .chip.status-snoozed")
    page.click("button:has-text('Resolve')")
    page.wait_for_selector(".conv-title .chip.status-resolved")
    page.click("button:has-text('Reopen')")
    page.wait_for_selector(".conv-title .chip.status-open")


def test_manifest_service_worker_push_and_offline_shell(agent_context: Any, live_server: Any, artifacts: Any) -> None:
    ctx = agent_context(viewport=WIDE)
    page = open_dashboard(ctx, live_server)
    manifest_url = page.get_attribute("link[rel='manifest']", "href")
    manifest = page.evaluate("url => fetch(url).then(r => r.json())", manifest_url)
    assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}
    scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
    assert scope == live_server.url + "/app/"
    # The worker has precached the shell (page, script, styles) once it is active.
    wait_until(page, """() => caches.keys().then(keys => keys.find(k => k.startsWith('sb-shell-')))
        .then(name => name && caches.open(name)).then(c => c && c.match('/app/')).then(r => !!r)""")

    # A web push reaches the worker, which shows a notification that opens the conversation.
    ctx.grant_permissions(["notifications"], origin=live_server.url)
    cdp = ctx.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda e: registrations.extend(e["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        ours = [r for r in registrations if r["scopeURL"] == live_server.url + "/app/" and not r["isDeleted"]]
        if ours:
            break
        page.wait_for_timeout(100)
    registration = ours[0]
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": live_server.url, "registrationId": registration["registrationId"],
        "data": json.dumps({"title": "New message from Ada", "body": "Is it in stock?", "conversation": "cv_test123",
                            "url": live_server.url + "/app/?conversation=cv_test123"}),
    })
    wait_until(page, "() => navigator.serviceWorker.ready.then(r => r.getNotifications()).then(n => n.length > 0)")
    shown = page.evaluate("""navigator.serviceWorker.ready.then(r => r.getNotifications())
        .then(ns => ns.map(n => ({title: n.title, body: n.body, data: n.data})))""")
    assert shown[0]["title"] == "New message from Ada" and shown[0]["body"] == "Is it in stock?"
    assert shown[0]["data"]["url"] == "/app/c/cv_test123"
    ctx.set_offline(True)
    page.reload()
    page.wait_for_selector(".rail")
    page.wait_for_selector(".banner.offline")
    assert re.search(r"offline", page.inner_text(".banner"), re.I)
    page.screenshot(path=str(artifacts / "dashboard-offline-shell.png"))
    ctx.set_offline(False)


def test_stats_page_and_narrow_layout(agent_context: Any, live_server: Any, visitor: Any, artifacts: Any) -> None:
    v = visitor()
    first = v.say("Do you ship to Mars?")
    page = open_dashboard(agent_context("owner", viewport=WIDE), live_server, "/app/stats")
    page.wait_for_selector(".tile-value")
    # Today's conversation shows as a bar in both charts (today's hour and today).
    wait_until(page, """() => [...document.querySelectorAll('.chart')].every(
        c => [...c.querySelectorAll('.bar')].some(b => Number(b.getAttribute('height')) > 0))""")
    assert page.locator(".chart .bar.current").count() == 2
    labels = page.eval_on_selector_all(".tile-label", "els => els.map(e => e.textContent)")
    assert "Open now" in labels and "Agents online" in labels
    page.screenshot(path=str(artifacts / "dashboard-stats-1440.png"))

    narrow = open_dashboard(agent_context(viewport=NARROW), live_server)
    narrow.click("button.tab[data-view='all']")
    narrow.wait_for_selector(f".conv-item[data-conversation='{first['conversation']}']")
    narrow.screenshot(path=str(artifacts / "dashboard-inbox-390.png"))
    narrow.click(f".conv-item[data-conversation='{first['conversation']}']")
    narrow.wait_for_selector(".msg.in .body:has-text('ship to Mars')")
    assert narrow.locator(".inbox").is_hidden()
    narrow.screenshot(path=str(artifacts / "dashboard-conversation-390.png"))
