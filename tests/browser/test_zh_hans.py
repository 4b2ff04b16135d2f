"""The main flows in Simplified Chinese, in headless Chromium with a Chinese browser (locale zh-CN):
sign-in, the dashboard's inbox and a conversation, the language switch, and the visitor widget.
Screenshots go to test-artifacts/ (zh-*.png)."""
from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.dashboard_helpers import Visitor, ensure_dashboard_built
from tests.browser.widget_helpers import agent_follow_new_conversation, composer, open_demo, send_visitor

pytestmark = pytest.mark.browser

CHINESE = {"locale": "zh-CN", "viewport": {"width": 1440, "height": 900}}
LATIN_WORDS = re.compile(r"\b[A-Za-z]{4,}\b")


@pytest.fixture(scope="module", autouse=True)
def dashboard_built() -> None:
    ensure_dashboard_built()


def english_words(text: str, *, allowed: set[str]) -> list[str]:
    return [w for w in LATIN_WORDS.findall(text) if w not in allowed]


def test_sign_in_then_inbox_and_conversation_in_chinese(new_context: Any, live_server: Any, artifacts: Any) -> None:
    visitor = Visitor(live_server.url, live_server.seed["tenant"]["widget_key"])
    visitor.say("你好，猎鹰套件有货吗？")
    page = new_context(**CHINESE).new_page()
    page.goto(live_server.url + "/accounts/login/")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    expect(page.locator("h1")).to_have_text("登录")
    expect(page.get_by_label("邮箱")).to_be_visible()
    page.screenshot(path=str(artifacts / "zh-sign-in.png"))

    agent = live_server.seed["agent"]
    page.get_by_label("邮箱").fill(agent["email"])
    page.get_by_label("密码").fill(agent["password"])
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r"/app/"))
    page.wait_for_selector("#app[data-ready='true']")
    assert page.get_attribute("html", "lang") == "zh-Hans"
    expect(page.get_by_role("navigation", name="主导航")).to_be_visible()
    expect(page.locator("section.inbox")).to_have_attribute("aria-label", "收件箱")
    page.click("button.tab[data-view='all']")
    page.select_option("select[aria-label='状态']", "")
    item = page.locator(".conv-item", has_text="猎鹰套件").first
    expect(item).to_be_visible()
    page.screenshot(path=str(artifacts / "zh-inbox.png"))
    # The rail, tabs and filters are all Chinese (names and messages are data, left out).
    chrome = page.eval_on_selector_all(
        "nav.rail [aria-label], button.tab, section.inbox select option, section.inbox input[placeholder]",
        "els => els.map(e => [e.getAttribute('aria-label'), e.getAttribute('title'), e.getAttribute('placeholder'),"
        " e.matches('button, option') ? e.textContent : ''].filter(Boolean).join(' '))")
    # The label and team filters list the tenant's own names: data, whatever other tests created.
    names_sql = "SELECT name FROM support_label UNION SELECT name FROM support_team"
    tenant_names = {w for (name,) in live_server.sql(names_sql) for w in LATIN_WORDS.findall(name)}
    seeded_names = {"Support", "Alice", "Agent"} | tenant_names
    assert chrome and english_words(" ".join(chrome), allowed=seeded_names | {"Switchboard"}) == [], chrome

    item.click()
    page.wait_for_selector(".composer-input")
    expect(page.locator(".composer-input")).to_have_attribute("placeholder", re.compile("^回复访客"))
    expect(page.get_by_role("button", name="发送")).to_be_visible()
    page.locator(".composer-input").fill("有货，今天下单明天发货。")
    page.locator(".composer-input").press("Enter")
    expect(page.locator(".messages .msg .body", has_text="今天下单明天发货")).to_be_visible()
    page.screenshot(path=str(artifacts / "zh-conversation.png"))
    controls = page.eval_on_selector_all(
        "main button, main select option, main [aria-label], main textarea",
        "els => els.filter(e => !e.closest('.messages, .inbox')).map(e => [e.getAttribute('aria-label'),"
        " e.getAttribute('title'), e.getAttribute('placeholder'), e.matches('button, option') ? e.textContent : '']"
        ".filter(Boolean).join(' '))")
    # Agent and team names are data: the seeded ones are Latin.
    names = {"Alice", "Agent", "Olivia", "Owner", "Support", "onerror", "window", "__pwned", "alert"} | tenant_names
    assert english_words(" ".join(controls), allowed=names) == [], controls


def test_the_language_switch_wins_over_the_browser(new_context: Any, live_server: Any, artifacts: Any) -> None:
    """A Chinese browser, an agent who picks English in the rail: pages and dashboard follow the choice."""
    ctx = new_context(**CHINESE)
    owner = live_server.seed["owner"]
    ctx.add_cookies([{"name": "sessionid", "value": owner["session"], "url": live_server.url}])
    page = ctx.new_page()
    page.goto(live_server.url + "/app/")
    page.wait_for_selector("#app[data-ready='true']")
    try:
        page.get_by_role("button", name="语言").click()
        page.get_by_role("menuitemradio", name="English").click()
        page.wait_for_selector("#app[data-ready='true']")
        expect(page.locator("section.inbox")).to_have_attribute("aria-label", "Inbox")
        assert page.get_attribute("html", "lang") == "en"
        page.goto(live_server.url + "/accounts/workspaces/")
        expect(page.locator("h1")).to_have_text("Your workspaces")
        page.screenshot(path=str(artifacts / "zh-browser-english-choice.png"))
    finally:
        # Back to following the browser, for the other tests of this shared owner.
        page.goto(live_server.url + "/app/")
        page.wait_for_selector("#app[data-ready='true']")
        page.get_by_role("button", name=re.compile("Language|语言")).click()
        page.locator("[data-language='browser']").click()
        page.wait_for_selector("#app[data-ready='true']")
    expect(page.locator("section.inbox")).to_have_attribute("aria-label", "收件箱")


def test_the_widget_in_chinese(new_context: Any, live_server: Any, agent_socket: Any, artifacts: Any) -> None:
    agent = agent_socket()  # online: the widget offers the chat, not the offline form
    page = new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}).new_page()
    page.goto(live_server.url + "/demo/")
    launcher = page.locator("switchboard-widget .launcher")
    expect(launcher).to_have_attribute("aria-label", "聊天")
    frame = open_demo(page, live_server)
    expect(frame.locator(".status")).to_contain_text("我们在线")
    expect(composer(frame)).to_have_attribute("placeholder", "输入消息…")
    expect(frame.locator(".greeting")).to_contain_text("关于火箭的任何问题")
    expect(frame.locator(".powered")).to_have_text("由 Switchboard 提供支持")
    send_visitor(frame, "请问发射窗口是什么时候？")
    conversation = agent_follow_new_conversation(agent, live_server, "请问发射窗口是什么时候？")
    expect(frame.locator(".row.mine .meta")).to_contain_text("已发送")
    agent.send({"type": "send", "conversation": conversation, "client_id": "zh-1", "body": "下周二上午十点。"})
    expect(frame.locator(".row.theirs").last).to_contain_text("下周二上午十点")
    page.screenshot(path=str(artifacts / "zh-widget.png"))
    panel = frame.locator("body").inner_text()
    # The team's name and the agent's are the tenant's data.
    assert english_words(panel, allowed={"Switchboard", "Acme", "Support", "Alice", "Agent"}) == [], panel
