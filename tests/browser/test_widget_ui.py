"""The widget's look and behaviour: isolation from the host page, unread badge and keyboard,
attachments, rating, the offline form, phones and Chinese."""
from __future__ import annotations

import io
import re

from PIL import Image, ImageChops, ImageDraw
from playwright.sync_api import expect

from tests.browser.widget_helpers import agent_follow_new_conversation, composer, open_demo, send_visitor

REGION = {"x": 0, "y": 0, "width": 820, "height": 700}  # away from the launcher (bottom right)
STYLE_OF = "e => { const s = getComputedStyle(e); return [s.fontFamily, s.backgroundColor, s.padding, s.fontSize]; }"


def _globals(page) -> set[str]:
    return set(page.evaluate("() => Object.getOwnPropertyNames(window)"))


def test_widget_does_not_change_the_host_page(live_server, new_context, artifacts):
    page = new_context().new_page()
    page.goto(live_server.url + "/demo/?widget=0")
    page.wait_for_load_state("networkidle")
    before = page.screenshot(clip=REGION)
    plain_globals = _globals(page)
    plain_button = page.locator("#open-chat").evaluate(STYLE_OF)

    page.goto(live_server.url + "/demo/")
    expect(page.locator("switchboard-widget .launcher")).to_be_visible(timeout=20_000)
    page.wait_for_load_state("networkidle")
    after = page.screenshot(clip=REGION)
    page.screenshot(path=artifacts / "host-page-with-widget.png")
    Image.open(io.BytesIO(before)).save(artifacts / "host-region-without-widget.png")
    Image.open(io.BytesIO(after)).save(artifacts / "host-region-with-widget.png")
    diff = ImageChops.difference(
        Image.open(io.BytesIO(before)).convert("RGB"), Image.open(io.BytesIO(after)).convert("RGB")
    )
    assert diff.getbbox() is None, f"the host page changed in {diff.getbbox()}"

    # Only `Switchboard` is added to the page's globals (the snippet's stub defines it too).
    assert _globals(page) - plain_globals <= {"Switchboard"}
    button = page.locator("#open-chat").evaluate(STYLE_OF)
    assert button == plain_button
    # The host's hostile global rules (`iframe {border: 6px dashed red}`) do not reach the widget.
    border = page.locator("switchboard-widget iframe").evaluate("e => getComputedStyle(e).borderTopWidth")
    assert border == "0px"


def test_unread_badge_escape_and_keyboard(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket()
    page = new_context().new_page()
    frame = open_demo(page, live_server)
    expect(frame.locator("[role=log]")).to_have_attribute("aria-live", "polite")
    send_visitor(frame, "I'll be right back")
    conv = agent_follow_new_conversation(agent, live_server, "I'll be right back")
    agent.wait_for(lambda f: f.get("message", {}).get("body") == "I'll be right back")

    composer(frame).press("Escape")  # Esc closes and gives focus back to the launcher
    launcher = page.locator("switchboard-widget .launcher")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()

    for i in (1, 2):
        agent.send({"type": "send", "conversation": conv, "client_id": f"badge-{i}", "body": f"Reply {i}"})
    badge = page.locator("switchboard-widget .badge")
    expect(badge).to_have_text("2")
    expect(launcher).to_have_attribute("aria-label", re.compile(r"\(2\)"))
    page.screenshot(path=artifacts / "widget-unread-badge.png")

    page.keyboard.press("Enter")  # the launcher still has focus
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(badge).to_be_hidden()
    expect(frame.locator(".row.theirs .bubble", has_text="Reply 2")).to_be_visible()
    agent.wait_for(lambda f: f["type"] == "read" and f["reader"] == "contact" and f["seq"] >= 3)
    # Focus stays inside the panel while it is open: Tab from the last control wraps to the first.
    frame.locator("button.close").focus()
    page.keyboard.press("Shift+Tab")
    assert frame.locator(":focus").evaluate("e => e.tagName") in ("BUTTON", "TEXTAREA", "A")
    assert frame.locator(".panel").evaluate("(p) => p.contains(document.activeElement)")


def _png(color: tuple[int, int, int]) -> bytes:
    """A 160×100 badge-like picture (so the screenshot shows a real preview)."""
    img = Image.new("RGB", (160, 100), (241, 245, 249))
    draw = ImageDraw.Draw(img)
    draw.ellipse((40, 10, 120, 90), fill=color)
    draw.polygon([(80, 22), (96, 70), (64, 70)], fill=(251, 191, 36))
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def test_attachments_are_checked_before_upload_and_previewed(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket()
    page = new_context().new_page()
    frame = open_demo(page, live_server)
    file_input = frame.locator("input[type=file]")

    file_input.set_input_files(
        files=[{"name": "tool.exe", "mimeType": "application/x-msdownload", "buffer": b"MZ" * 100}]
    )
    expect(frame.locator(".notice")).to_contain_text("can't be sent")
    # An 10 MB + 1 byte file, made in the page (shipping it through the test driver is slow).
    file_input.evaluate(
        "input => { const dt = new DataTransfer();"
        " dt.items.add(new File([new Uint8Array(10 * 1024 * 1024 + 1)], 'huge.pdf', {type: 'application/pdf'}));"
        " input.files = dt.files; input.dispatchEvent(new Event('change')); }"
    )
    expect(frame.locator(".notice")).to_contain_text("too large")
    expect(frame.locator(".chip")).to_be_hidden()

    file_input.set_input_files(
        files=[{"name": "mission-patch.png", "mimeType": "image/png", "buffer": _png((79, 70, 229))}]
    )
    expect(frame.locator(".notice")).to_be_hidden()
    expect(frame.locator(".chip img")).to_be_visible()  # preview before sending
    composer(frame).fill("Here is our patch")
    composer(frame).press("Enter")
    image = frame.locator(".row.mine .image img")
    expect(image).to_be_visible(timeout=15_000)
    # The image is served back from the server (with the visitor token), not just the local preview.
    page.frame(url=re.compile("/widget/frame/")).wait_for_function(
        "() => { const i = document.querySelector('.row.mine .image img');"
        " return i && i.complete && i.naturalWidth === 160 && i.src.includes('/rt/visitor/attachments/'); }"
    )
    conv = agent_follow_new_conversation(agent, live_server, "Here is our patch")
    message = agent.wait_for(lambda f: f.get("message", {}).get("attachment") is not None)["message"]
    assert message["conversation"] == conv
    assert message["attachment"]["name"].endswith(".png")
    page.screenshot(path=artifacts / "widget-attachment.png")


def test_rating_after_the_conversation_is_resolved(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket()
    page = new_context().new_page()
    frame = open_demo(page, live_server)
    send_visitor(frame, "Thanks, that's all")
    conv = agent_follow_new_conversation(agent, live_server, "Thanks, that's all")
    agent.send({"type": "send", "conversation": conv, "client_id": "closing-1", "body": "Glad to help, bye!"})
    res = live_server.api("PATCH", f"conversations/{conv}", {"status": "resolved"})
    assert res.status_code == 200, res.text
    rating = frame.locator("form.rating")
    expect(rating).to_be_visible(timeout=15_000)
    expect(frame.locator(".row.event", has_text="resolved")).to_be_visible()
    rating.get_by_role("radio", name="4 out of 5").click()
    rating.locator("textarea").fill("Quick and helpful <3")
    page.screenshot(path=artifacts / "widget-rating.png")
    rating.get_by_role("button", name="Send feedback").click()
    expect(frame.locator(".rating-slot .thanks")).to_contain_text("Thanks for your feedback")
    rows = live_server.sql("SELECT rating, rating_comment FROM support_conversation WHERE public_id = ?", (conv,))
    assert rows == [(4, "Quick and helpful <3")]


def test_offline_form_when_nobody_is_online(live_server, new_context, artifacts):
    page = new_context().new_page()
    page.goto(live_server.url + "/demo/?tenant=afterhours")  # a tenant without agents
    page.locator("switchboard-widget .launcher").click(timeout=20_000)
    frame = page.frame_locator("switchboard-widget iframe")
    form = frame.locator(".overlay form")
    expect(form).to_contain_text("Leave us a message")
    expect(frame.locator(".status")).to_contain_text("away")
    form.get_by_label("Email").fill("not-an-email")
    form.get_by_label("Message").fill("Do you launch on weekends?")
    form.get_by_role("button", name="Send message").click()
    expect(form.locator(".field-error").first).to_contain_text("valid email")
    form.get_by_label("Email").fill("ada@example.com")
    form.get_by_role("button", name="Send message").click()
    expect(frame.locator(".overlay .thanks")).to_contain_text("ada@example.com")
    page.screenshot(path=artifacts / "widget-offline-form.png")
    expect(frame.locator(".row.mine .bubble", has_text="Do you launch on weekends?")).to_be_visible(timeout=15_000)
    rows = live_server.sql(
        "SELECT c.offline, ct.email FROM support_conversation c JOIN support_contact ct ON ct.id = c.contact_id "
        "JOIN support_message m ON m.conversation_id = c.id WHERE m.body = ?",
        ("Do you launch on weekends?",),
    )
    assert rows == [(1, "ada@example.com")]


def test_full_screen_on_phones_in_simplified_chinese(live_server, new_context, agent_socket, artifacts):
    agent_socket()
    ctx = new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = ctx.new_page()
    page.goto(live_server.url + "/demo/")
    page.locator("switchboard-widget .launcher").click(timeout=20_000)
    frame = page.frame_locator("switchboard-widget iframe")
    expect(frame.locator(".status")).to_contain_text("我们在线")
    expect(frame.locator("footer.composer textarea")).to_have_attribute("placeholder", "输入消息…")
    # The panel opens with a 0.2 s scale transition; on a loaded machine it can
    # still be mid-flight here, so wait for it to settle at the full viewport.
    page.wait_for_function(
        """() => {
            const box = document.querySelector("switchboard-widget").shadowRoot
                .querySelector("iframe").getBoundingClientRect();
            return box.x === 0 && box.y === 0 && box.width === 390 && box.height === 844;
        }""",
        timeout=10_000,
    )
    page.screenshot(path=artifacts / "widget-phone-zh.png")


def test_tenant_settings_and_the_pre_chat_form(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket("prechat_agent")
    page = new_context().new_page()
    page.goto(live_server.url + "/demo/?tenant=prechat")
    launcher = page.locator("switchboard-widget .launcher")
    expect(launcher).to_be_visible(timeout=20_000)
    box = launcher.bounding_box()
    assert box is not None and box["x"] < 100  # position: left
    assert launcher.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(15, 118, 110)"
    launcher.click()
    frame = page.frame_locator("switchboard-widget iframe")
    expect(frame.locator(".title")).to_have_text("Globex Helpdesk")
    form = frame.locator(".overlay form")
    expect(form).to_contain_text("Before we start")
    expect(frame.locator("footer.composer")).to_be_hidden()
    form.get_by_role("button", name="Start chat").click()
    expect(form.locator(".field-error").first).to_contain_text("required")
    form.get_by_label("Name").fill("Grace Hopper")
    form.get_by_label("Email").fill("grace@example.com")
    page.screenshot(path=artifacts / "widget-prechat.png")
    form.get_by_role("button", name="Start chat").click()
    expect(composer(frame)).to_be_focused()
    send_visitor(frame, "Hi, it's Grace")
    conv = agent_follow_new_conversation(agent, live_server, "Hi, it's Grace")
    agent.wait_for(lambda f: f.get("message", {}).get("body") == "Hi, it's Grace")
    rows = live_server.sql(
        "SELECT ct.name, ct.email FROM support_contact ct JOIN support_conversation c ON c.contact_id = ct.id "
        "WHERE c.public_id = ?", (conv,),
    )
    assert rows == [("Grace Hopper", "grace@example.com")]


def test_identify_links_the_visitor_to_the_host_sites_user(live_server, new_context):
    import hashlib
    import hmac

    digest = hmac.new(live_server.seed["identity_secret"].encode(), b"user-42", hashlib.sha256).hexdigest()
    page = new_context().new_page()
    frame = open_demo(page, live_server)
    page.evaluate(
        "([hash]) => Switchboard('identify', {user_id: 'user-42', hash, name: 'Linus', email: 'linus@example.com'})",
        [digest],
    )
    expect(frame.locator(".title")).to_have_text("Acme Support")
    for _ in range(50):
        rows = live_server.sql("SELECT name, email FROM support_contact WHERE external_id = ?", ("user-42",))
        if rows:
            break
        page.wait_for_timeout(200)
    assert rows == [("Linus", "linus@example.com")]
