"""A returning visitor's conversations (list, history, read-only resolved ones, a new one) and the
server's attachment limits enforced by the widget before uploading."""
from __future__ import annotations

import io
import json
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import AgentSocket, LiveServer, serve_live
from tests.browser.widget_helpers import composer, open_demo, send_visitor

OLD_QUESTION = "My rocket won't launch, help?"
OLD_ANSWER = "Top up the oxidiser, then try again."
NEW_QUESTION = "Do you ship fuel to Mars?"
NEW_ANSWER = "We do, 40 units left."

# Runs in the live server's environment (live_server.python): two conversations of the visitor
# whose token is TOKEN, the older one answered by AGENT, resolved and moved back six days.
SEED = """
import json
from datetime import timedelta
from django.utils import timezone
from django_scopes import scope
from support.models import Conversation, Membership, Message
from support.services.conversations import assign_conversation, set_status, start_conversation
from support.services.messages import post_message
from support.services.visitors import contact_from_token

contact = contact_from_token({token!r})
tenant = contact.tenant
with scope(tenant=tenant):
    agent = Membership.objects.get(public_id={agent!r})
    old = start_conversation(tenant=tenant, contact=contact)
    post_message(conversation=old, author_type="contact", body={old_q!r}, client_id="seed-old-1")
    assign_conversation(conversation=old, assignee=agent, actor=agent)
    post_message(conversation=old, author_type="agent", body={old_a!r}, author_membership=agent)
    set_status(conversation=old, status="resolved", actor=agent)
    week = timezone.now() - timedelta(days=6)
    Message.objects.filter(conversation=old).update(created_at=week)
    Conversation.objects.filter(pk=old.pk).update(
        created_at=week, updated_at=week, last_message_at=week, resolved_at=week, queued_at=week)
    current = start_conversation(tenant=tenant, contact=contact)
    post_message(conversation=current, author_type="contact", body={new_q!r}, client_id="seed-new-1")
    post_message(conversation=current, author_type="agent", body={new_a!r}, author_membership=agent)
    # The visitor read both at the time.
    for conv in (old, current):
        conv.refresh_from_db()
        Conversation.objects.filter(pk=conv.pk).update(contact_last_read_seq=conv.last_seq)
print(json.dumps({{"old": old.public_id, "current": current.public_id}}))
"""


def _bootstrap(server: LiveServer, token: str | None = None) -> dict:
    res = httpx.post(
        f"{server.url}/rt/widget/bootstrap",
        json={"widget_key": server.seed["tenant"]["widget_key"], "visitor_token": token, "identity": None,
              "context": {}},
        headers={"Origin": server.origin}, timeout=30,
    )
    assert res.status_code == 200, res.text
    return res.json()


def _returning_visitor(server: LiveServer, context) -> dict:  # type: ignore[no-untyped-def]
    """A visitor (token in the context's localStorage) with a resolved week-old conversation and a current one."""
    token = _bootstrap(server)["visitor_token"]
    code = SEED.format(token=token, agent=server.seed["agent"]["id"], old_q=OLD_QUESTION, old_a=OLD_ANSWER,
                       new_q=NEW_QUESTION, new_a=NEW_ANSWER)
    ids = json.loads(server.python(code).strip().splitlines()[-1])
    key = server.seed["tenant"]["widget_key"]
    # Only until the widget stores its own (a renewed token must not be overwritten on reload).
    context.add_init_script(
        f"try {{ if (!localStorage.getItem('sb:{key}:token'))"
        f" localStorage.setItem('sb:{key}:token', {json.dumps(token)}); }} catch (e) {{}}"
    )
    return {"token": token, **ids}


def _contact_conversations(server: LiveServer, conv: str) -> list[tuple[str, str]]:
    return server.sql(
        "SELECT c.public_id, c.status FROM support_conversation c WHERE c.contact_id = "
        "(SELECT contact_id FROM support_conversation WHERE public_id = ?) ORDER BY c.id", (conv,),
    )


def test_bootstrap_lists_conversations_with_previews_and_the_upload_limits(live_server, new_context):
    seeded = _returning_visitor(live_server, new_context())
    boot = _bootstrap(live_server, seeded["token"])
    convs = {c["id"]: c for c in boot["conversations"]}
    assert set(convs) == {seeded["old"], seeded["current"]}
    old, current = convs[seeded["old"]], convs[seeded["current"]]
    assert old["status"] == "resolved" and current["status"] == "open"
    # The preview is the last text or file the visitor can see: never the "resolved" event.
    assert old["preview"]["author"] == "agent" and old["preview"]["body"] == OLD_ANSWER
    assert current["preview"]["body"] == NEW_ANSWER and current["preview"]["seq"] == current["last_seq"]
    assert old["preview"]["at"] < current["preview"]["at"]
    attachments = boot["settings"]["attachments"]
    assert attachments["max_bytes"] == 10 * 1024 * 1024
    assert attachments["types"]["image/png"] == [".png"] and "text/html" not in attachments["types"]


def test_returning_visitor_reads_an_old_conversation_and_starts_a_new_one(
    live_server, new_context, agent_socket, artifacts
):
    agent_socket()  # someone online: a new conversation is a chat, not the offline form
    ctx = new_context()
    seeded = _returning_visitor(live_server, ctx)
    page = ctx.new_page()
    frame = open_demo(page, live_server)
    # The latest conversation is shown, the week-old one is not mixed into it.
    expect(frame.locator(".row.theirs .bubble", has_text=NEW_ANSWER)).to_be_visible()
    page.reload()
    frame = open_demo(page, live_server)
    expect(frame.locator(".row.theirs .bubble", has_text=NEW_ANSWER)).to_be_visible()
    expect(frame.locator(".row .bubble", has_text=OLD_ANSWER)).to_have_count(0)

    back = frame.get_by_role("button", name="Your conversations")
    expect(back).to_be_visible()
    back.focus()
    page.keyboard.press("Enter")
    heading = frame.get_by_role("heading", name="Your conversations")
    expect(heading).to_be_focused()
    items = frame.locator("ul.convs button.conv")
    expect(items).to_have_count(2)
    # Newest first; each with who, when, a preview and its status.
    expect(items.nth(0)).to_have_attribute("aria-current", "true")
    expect(items.nth(0).locator(".conv-preview")).to_have_text(NEW_ANSWER)
    expect(items.nth(0).locator(".pill")).to_have_text("Open")
    expect(items.nth(1).locator(".conv-who")).to_have_text("Alice Agent")
    expect(items.nth(1).locator(".conv-time")).to_have_text("6 days ago")
    expect(items.nth(1).locator(".conv-preview")).to_have_text(OLD_ANSWER)
    expect(items.nth(1).locator(".pill")).to_have_text("Resolved")
    expect(items.nth(1)).to_have_attribute("aria-label", f"Alice Agent, Resolved, 6 days ago: {OLD_ANSWER}")
    expect(composer(frame)).to_be_hidden()
    page.wait_for_timeout(300)  # the panel's opening transition
    page.screenshot(path=artifacts / "widget-conversation-list.png")

    # Keyboard: Tab from the heading reaches the items in order.
    page.keyboard.press("Tab")
    expect(items.nth(0)).to_be_focused()
    page.keyboard.press("Tab")
    expect(items.nth(1)).to_be_focused()
    page.keyboard.press("Enter")
    # The old conversation's history, read-only, with a way to start over.
    expect(frame.locator(".row.mine .bubble", has_text=OLD_QUESTION)).to_be_visible()
    expect(frame.locator(".row.theirs .bubble", has_text=OLD_ANSWER)).to_be_visible()
    expect(frame.locator(".row.event", has_text="resolved")).to_be_visible()
    expect(frame.locator(".row .bubble", has_text=NEW_ANSWER)).to_have_count(0)
    expect(frame.locator(".resolved-bar")).to_contain_text("This conversation has been resolved.")
    expect(composer(frame)).to_be_hidden()
    start_new = frame.locator(".resolved-bar").get_by_role("button", name="Start a new conversation")
    expect(start_new).to_be_focused()
    page.screenshot(path=artifacts / "widget-resolved-conversation.png")

    start_new.click()
    expect(composer(frame)).to_be_visible()
    expect(composer(frame)).to_be_focused()
    expect(frame.locator(".log .row")).to_have_count(0)
    send_visitor(frame, "A brand new question about launch pads")
    expect(frame.locator(".row.mine .meta", has_text="Sent")).to_be_visible(timeout=15_000)
    rows = _contact_conversations(live_server, seeded["old"])
    assert len(rows) == 3, rows
    newest = rows[-1][0]
    assert newest not in (seeded["old"], seeded["current"])
    assert live_server.sql(
        "SELECT m.body FROM support_message m JOIN support_conversation c ON c.id = m.conversation_id "
        "WHERE c.public_id = ? AND m.author_type = 'contact'", (newest,),
    ) == [("A brand new question about launch pads",)]
    # The old one stays resolved: starting anew does not write to it.
    assert (seeded["old"], "resolved") in rows

    frame.get_by_role("button", name="Your conversations").click()
    expect(items).to_have_count(3)
    expect(items.nth(0).locator(".conv-preview")).to_have_text("You: A brand new question about launch pads")
    expect(items.nth(0)).to_have_attribute("aria-current", "true")


def test_replying_in_a_resolved_conversation_reopens_it(live_server, new_context, agent_socket):
    agent = agent_socket()
    ctx = new_context()
    seeded = _returning_visitor(live_server, ctx)
    page = ctx.new_page()
    frame = open_demo(page, live_server)
    frame.get_by_role("button", name="Your conversations").click()
    frame.locator("ul.convs button.conv").nth(1).click()
    expect(frame.locator(".resolved-bar")).to_be_visible()
    # A reply in the other conversation meanwhile: the way back to the list says so.
    agent.send({"type": "send", "conversation": seeded["current"], "client_id": "meanwhile-1",
                "body": "Also: fuel prices drop on Friday."})
    expect(frame.get_by_role("button", name="Your conversations (1 unread)")).to_be_visible()
    expect(frame.locator(".back-dot")).to_be_visible()
    expect(frame.locator(".row .bubble", has_text="fuel prices")).to_have_count(0)
    frame.get_by_role("button", name="Reply to reopen it").click()
    expect(composer(frame)).to_be_focused()
    send_visitor(frame, "Sorry, one more thing about the oxidiser")
    expect(frame.locator(".row.mine .meta", has_text="Sent")).to_be_visible(timeout=15_000)
    # As on the server (post_message): the visitor's message reopened the conversation.
    assert live_server.sql("SELECT status FROM support_conversation WHERE public_id = ?", (seeded["old"],)) == [
        ("open",)
    ]
    expect(frame.locator(".resolved-bar")).to_be_hidden()
    frame.get_by_role("button", name="Your conversations").click()
    first = frame.locator("ul.convs button.conv").nth(0)
    expect(first.locator(".conv-preview")).to_have_text("You: Sorry, one more thing about the oxidiser")
    expect(first.locator(".pill")).to_have_text("Open")
    other = frame.locator(f'ul.convs button.conv[data-id="{seeded["current"]}"]')
    expect(frame.locator("ul.convs button.conv").nth(1)).to_have_attribute("data-id", seeded["current"])
    expect(other).to_have_class("conv unread")
    expect(other.locator(".conv-preview")).to_have_text("Also: fuel prices drop on Friday.")
    # A reply arriving while the visitor tabs through the list: the row updates and moves to the
    # top, and keyboard focus stays on it.
    other.focus()
    agent.send({"type": "send", "conversation": seeded["current"], "client_id": "meanwhile-2",
                "body": "Second: the tanks are full."})
    expect(other.locator(".conv-preview")).to_have_text("Second: the tanks are full.")
    expect(frame.locator("ul.convs button.conv").nth(0)).to_have_attribute("data-id", seeded["current"])
    expect(other).to_be_focused()
    page.keyboard.press("Enter")
    expect(frame.locator(".row.theirs .bubble", has_text="fuel prices")).to_be_visible()
    expect(frame.get_by_role("button", name="Your conversations")).to_be_visible()  # read now
    # ... and the server knows (the agent's inbox shows the conversation read up to the reply).
    # (last_seq is 4 or 5: whether the "assigned" event of auto-assignment came first is timing.)
    agent.wait_for(lambda f: f["type"] == "conversation" and f["conversation"]["id"] == seeded["current"]
                   and f["conversation"]["contact_last_read_seq"] == f["conversation"]["last_seq"] >= 4)


def test_conversation_list_on_a_phone_in_simplified_chinese(live_server, new_context, agent_socket, artifacts):
    agent_socket()
    ctx = new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    _returning_visitor(live_server, ctx)
    page = ctx.new_page()
    frame = open_demo(page, live_server)
    frame.get_by_role("button", name="您的会话").click()
    items = frame.locator("ul.convs button.conv")
    expect(items).to_have_count(2)
    expect(items.nth(1).locator(".pill")).to_have_text("已解决")
    expect(items.nth(1).locator(".conv-time")).to_have_text("6天前")
    new = frame.get_by_role("button", name="开始新会话")
    expect(new).to_be_visible()
    # Everything fits across the phone: no sideways scrolling, the button inside the screen.
    assert frame.locator(".convlist").evaluate("e => e.scrollWidth <= e.clientWidth")
    box = new.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    page.wait_for_timeout(300)
    page.screenshot(path=artifacts / "widget-conversation-list-phone-zh.png")


# ---- attachment limits from the server --------------------------------------------------------------

SMALL_LIMIT = 2048


@pytest.fixture(scope="module")
def small_upload_server(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A second live server, like ``live_server`` but with ATTACHMENT_MAX_BYTES=2048 (a setting)."""
    env = {**live_server.env, "ATTACHMENT_MAX_BYTES": str(SMALL_LIMIT)}
    with serve_live(tmp_path_factory.mktemp("live-var-small"), env, log_name="live-server-small-uploads.log") as server:
        yield server


def _png(size_at_least: int) -> bytes:
    """A real PNG of at least ``size_at_least`` bytes (noise does not compress)."""
    import os

    side = 8
    while True:
        img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        out = io.BytesIO()
        img.save(out, "PNG")
        if len(out.getvalue()) >= size_at_least:
            return out.getvalue()
        side += 4


def test_the_widget_refuses_files_over_the_servers_limit_before_uploading(small_upload_server, new_context, artifacts):
    server = small_upload_server
    assert _bootstrap(server)["settings"]["attachments"]["max_bytes"] == SMALL_LIMIT
    big = _png(3000)
    small = _png(600)
    assert len(small) < SMALL_LIMIT < len(big)
    # An agent online, so the widget offers the chat (the composer), not the offline form.
    agent = AgentSocket(server.url.replace("http://", "ws://") + "/ws/agent/", server.origin,
                        server.seed["agent"]["session"])
    agent.send({"type": "hello", "resume": {}, "inbox_since": None})
    agent.wait_for(lambda f: f["type"] == "welcome")
    try:
        _check_the_limit_in_the_widget(server, new_context, artifacts, big, small)
    finally:
        agent.close()

    # The server refuses on its own, whatever a client checks.
    token = _bootstrap(server)["visitor_token"]
    res = httpx.post(f"{server.url}/rt/visitor/upload", data={"token": token},
                     files={"file": ("photo.png", big, "image/png")}, headers={"Origin": server.origin}, timeout=30)
    assert res.status_code == 413, res.text
    assert res.json()["error"]["code"] == "too_large"


def _check_the_limit_in_the_widget(server, new_context, artifacts, big: bytes, small: bytes) -> None:  # type: ignore[no-untyped-def]
    for path, expected in (("/demo/", "The limit is 2 KB."), ("/demo/?lang=zh-Hans", "上限为 2 KB")):
        page = new_context().new_page()
        uploads: list[str] = []
        page.on("request", lambda r, seen=uploads: seen.append(r.url) if "/rt/visitor/upload" in r.url else None)
        page.goto(server.url + path)
        page.locator("switchboard-widget .launcher").click(timeout=20_000)
        frame = page.frame_locator("switchboard-widget iframe")
        file_input = frame.locator("input[type=file]")
        expect(file_input).to_have_attribute("accept", "image/png,image/jpeg,image/gif,image/webp,"
                                             "application/pdf,text/plain,text/csv,application/zip,"
                                             "application/vnd.openxmlformats-officedocument.wordprocessingml.document,"
                                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,"
                                             ".png,.jpg,.jpeg,.gif,.webp,.pdf,.txt,.log,.md,.csv,.zip,.docx,.xlsx")
        file_input.set_input_files(files=[{"name": "photo.png", "mimeType": "image/png", "buffer": big}])
        notice = frame.locator(".notice")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text(expected)
        expect(notice).to_contain_text("photo.png")
        expect(frame.locator(".chip")).to_be_hidden()
        if path == "/demo/":
            page.screenshot(path=artifacts / "widget-upload-limit.png")
        # A file under the limit is taken (previewed, ready to send).
        file_input.set_input_files(files=[{"name": "small.png", "mimeType": "image/png", "buffer": small}])
        expect(notice).to_be_hidden()
        expect(frame.locator(".chip img")).to_be_visible()
        assert uploads == []  # nothing was sent to the server for the refused file
