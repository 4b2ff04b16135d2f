"""The widget shows each message's time (a <time> element in the visitor's language) and scrolls to
an image the visitor just sent once it has loaded (the row grows when the picture arrives)."""
from __future__ import annotations

import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from PIL import Image
from playwright.sync_api import expect

from tests.browser.widget_helpers import agent_follow_new_conversation, composer, open_demo, send_visitor

AT_BOTTOM = "s => s.scrollHeight - s.scrollTop - s.clientHeight < 4"


def _tall_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 600), (14, 116, 144)).save(out, "PNG")
    return out.getvalue()


def test_messages_show_their_time_in_the_visitors_language(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket()
    page = new_context(locale="zh-CN", timezone_id="Asia/Shanghai").new_page()
    frame = open_demo(page, live_server)
    send_visitor(frame, "几点了？")
    conv = agent_follow_new_conversation(agent, live_server, "几点了？")
    agent.send({"type": "send", "conversation": conv, "client_id": "t-1", "body": "现在回复您"})
    expect(frame.locator(".row.theirs .bubble", has_text="现在回复您")).to_be_visible()

    stamps = frame.locator(".row .meta time.when")
    expect(stamps).to_have_count(2)
    for i in range(2):
        stamp = stamps.nth(i)
        iso = stamp.get_attribute("datetime")
        sent = datetime.fromisoformat(iso)  # the machine-readable time is the message's own
        # Shown in the visitor's time zone and language: 24-hour "HH:MM" for zh today.
        local = sent.astimezone(ZoneInfo("Asia/Shanghai"))
        expect(stamp).to_have_text(local.strftime("%H:%M"))
        # The tooltip is the full date in Chinese (年/月/日).
        assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", stamp.get_attribute("title") or ""), stamp.get_attribute("title")
    page.screenshot(path=artifacts / "widget-message-times-zh.png")


def test_the_widget_scrolls_to_an_image_just_sent(live_server, new_context, agent_socket, artifacts):
    agent_socket()
    page = new_context(viewport={"width": 1280, "height": 760}).new_page()
    frame = open_demo(page, live_server)
    # Enough history to scroll, in few sends (the server limits sends per address and minute, and
    # the other browser tests send from the same address).
    for i in range(3):
        send_visitor(frame, f"Part {i} of a long question about a bent fin. " + "The fin arrived bent at the tip. " * 8)
    expect(frame.locator(".row.mine .meta", has_text="Sent")).to_have_count(1)
    expect(frame.locator(".row.mine .bubble")).to_have_count(3)
    scroller = frame.locator(".scroller")
    assert scroller.evaluate("s => s.scrollHeight > s.clientHeight + 200"), "the history should scroll"

    frame.locator("input[type=file]").set_input_files(
        files=[{"name": "bent-fin.png", "mimeType": "image/png", "buffer": _tall_png()}]
    )
    composer(frame).fill("This is the fin")
    composer(frame).press("Enter")
    # The stored image (served back with the visitor token) has loaded and the view is at its bottom.
    widget = page.frame(url=re.compile("/widget/frame/"))
    widget.wait_for_function(
        "() => { const i = document.querySelector('.row.mine .image img[src*=\"/rt/visitor/attachments/\"]');"
        " return i && i.complete && i.naturalHeight === 600; }",
        timeout=30_000,  # an upload and a download on a loaded machine
    )
    expect(frame.locator(".row.mine .meta", has_text="Sent")).to_have_count(1)
    widget.wait_for_function(f"() => ({AT_BOTTOM})(document.querySelector('.scroller'))")
    image = frame.locator(".row.mine .image img").last
    box, view = image.bounding_box(), scroller.bounding_box()
    assert box and view and box["y"] + box["height"] <= view["y"] + view["height"] + 1, (box, view)
    page.screenshot(path=artifacts / "widget-image-sent.png")
