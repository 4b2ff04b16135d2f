"""The visitor widget in real Chromium, against the live server, with an agent on a socket."""
from __future__ import annotations

import itertools
import re

from playwright.sync_api import expect

from tests.browser.widget_helpers import (
    NO_WEBSOCKET,
    agent_bodies,
    agent_follow_new_conversation,
    composer,
    open_demo,
    send_visitor,
    visitor_starts_conversation,
)

_ids = itertools.count()


def agent_say(agent, conversation: str, body: str) -> dict:
    client_id = f"agent-{next(_ids)}"
    agent.send({"type": "send", "conversation": conversation, "client_id": client_id, "body": body})
    return agent.wait_for(lambda f: f["type"] == "ack" and f["client_id"] == client_id)["message"]


def test_visitor_and_agent_chat_both_ways_with_typing_and_receipts(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket()  # online before the visitor arrives: the widget says so
    page = new_context().new_page()
    page.goto(live_server.url + "/demo/")
    expect(page.locator("switchboard-widget .launcher")).to_be_visible(timeout=20_000)
    page.screenshot(path=artifacts / "widget-closed.png")
    frame = open_demo(page, live_server)
    expect(frame.locator(".status")).to_contain_text("online")

    send_visitor(frame, "Hello, can I launch a cubesat?")
    conv = agent_follow_new_conversation(agent, live_server, "Hello, can I launch a cubesat?")
    first = agent.wait_for(lambda f: f["type"] in ("message", "ack") and f.get("message", {}).get("author", {})
                           .get("type") == "contact")["message"]
    assert first["body"] == "Hello, can I launch a cubesat?"
    expect(frame.locator(".row.mine .meta")).to_contain_text("Sent")

    # The agent reads the visitor's message: "Seen" under it.
    agent.send({"type": "read", "conversation": conv, "seq": first["seq"]})
    expect(frame.locator(".row.mine .meta.seen")).to_contain_text("Seen")

    # Agent typing shows as dots in the widget; the reply replaces them.
    agent.send({"type": "typing", "conversation": conv, "on": True})
    expect(frame.locator(".typing .dots")).to_be_visible()
    page.screenshot(path=artifacts / "widget-agent-typing.png")
    agent_say(agent, conv, "Yes! Up to 300 kg. What orbit do you need?")
    expect(frame.locator(".row.theirs .bubble", has_text="What orbit do you need?")).to_be_visible()
    expect(frame.locator(".typing")).to_be_hidden()

    # The widget is open, so the visitor has read the reply: the agent gets a read receipt.
    agent.wait_for(lambda f: f["type"] == "read" and f["reader"] == "contact" and f["conversation"] == conv)

    # Visitor typing reaches the agent.
    composer(frame).press_sequentially("Sun-sync", delay=20)
    typing = agent.wait_for(lambda f: f["type"] == "typing" and f["conversation"] == conv and f["on"])
    assert typing["author"]["type"] == "contact"
    composer(frame).press("Enter")
    agent.wait_for(lambda f: f["type"] == "message" and f["message"]["body"] == "Sun-sync")
    page.screenshot(path=artifacts / "widget-conversation.png")
    assert agent_bodies(live_server, conv, "contact") == ["Hello, can I launch a cubesat?", "Sun-sync"]


def test_chat_works_over_long_polling_when_websockets_are_blocked(live_server, new_context, agent_socket, artifacts):
    agent = agent_socket()
    ctx = new_context()
    ctx.add_init_script(NO_WEBSOCKET)  # runs in every frame, so the widget iframe has no WebSocket
    ws_attempts: list[str] = []
    ctx.on("websocket", lambda ws: ws_attempts.append(ws.url))
    page = ctx.new_page()
    frame = open_demo(page, live_server)

    send_visitor(frame, "Hi over long-polling")
    conv = agent_follow_new_conversation(agent, live_server, "Hi over long-polling")
    agent.wait_for(lambda f: f.get("message", {}).get("body") == "Hi over long-polling")
    agent_say(agent, conv, "Got it, loud and clear")
    expect(frame.locator(".row.theirs .bubble", has_text="loud and clear")).to_be_visible()
    send_visitor(frame, "Great")
    agent.wait_for(lambda f: f.get("message", {}).get("body") == "Great")
    # Nothing alarming: no reconnecting banner, no error notice.
    expect(frame.locator(".banner")).to_be_hidden()
    expect(frame.locator(".notice")).to_be_hidden()
    assert ws_attempts == []
    page.screenshot(path=artifacts / "widget-longpoll.png")


def test_messages_typed_offline_are_sent_once_in_order_after_a_reload(live_server, new_context, agent_socket):
    agent = agent_socket()
    ctx, page, frame, conv = visitor_starts_conversation(new_context, live_server, agent, "before going offline")
    agent.wait_for(lambda f: f.get("message", {}).get("body") == "before going offline")
    # Its ack may still be on the way to the widget after the agent has the message: wait for it, or
    # going offline now leaves it sending too (rightly: it is retried, idempotently, on reconnect).
    expect(frame.locator(".row.mine .meta", has_text="Sending")).to_have_count(0)

    ctx.set_offline(True)
    bodies = [f"offline message {i}" for i in range(1, 6)]
    for body in bodies:
        send_visitor(frame, body)
    expect(frame.locator(".row.mine .meta", has_text="Sending")).to_have_count(5)

    # Reload while the chat server is still unreachable (the page itself loads): the queue survives.
    blocked = True
    ctx.route_web_socket(re.compile(r".*/ws/visitor/"), lambda ws: ws.close() if blocked else ws.connect_to_server())
    for path in ("**/rt/visitor/send", "**/rt/visitor/poll"):
        ctx.route(path, lambda route: route.abort() if blocked else route.continue_())
    ctx.set_offline(False)
    page.reload()
    frame = open_demo(page, live_server)
    for body in bodies:
        expect(frame.locator(".row.mine .bubble", has_text=body)).to_have_count(1)
    expect(frame.locator(".row.mine .meta", has_text="Sending")).to_have_count(5)
    assert agent_bodies(live_server, conv, "contact") == ["before going offline"]

    # The server is reachable again (the browser's "online" event skips the backoff wait).
    blocked = False
    page.frame(url=re.compile("/widget/frame/")).evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(frame.locator(".row.mine .meta", has_text="Sending")).to_have_count(0, timeout=20_000)
    for body in bodies:
        agent.wait_for(lambda f, body=body: f.get("message", {}).get("body") == body)
        expect(frame.locator(".row.mine .bubble", has_text=body)).to_have_count(1)
    assert agent_bodies(live_server, conv, "contact") == ["before going offline", *bodies]


def test_markup_in_messages_and_names_is_shown_as_text(live_server, new_context, agent_socket):
    agent = agent_socket()
    page = new_context().new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    frame = open_demo(page, live_server)
    frame.locator("body").evaluate("() => { window.__pwned = 0; }")
    hostile = ['<script>window.__pwned=1;alert(1)</script>', '<img src=x onerror="window.__pwned=2;alert(2)">',
               '"><svg onload=alert(3)>']
    for text in hostile:
        send_visitor(frame, text)
    conv = agent_follow_new_conversation(agent, live_server, hostile[0])
    for text in hostile:
        expect(frame.locator(".row.mine .bubble", has_text=text)).to_have_count(1)
    # An agent whose display name is markup (seeded), replying with markup.
    evil = agent_socket("evil")
    evil.send({"type": "subscribe", "conversation": conv, "last_seq": 0})
    agent_say(evil, conv, "<b>bold?</b><script>alert(5)</script>")
    expect(frame.locator(".row.theirs .bubble", has_text="<b>bold?</b><script>alert(5)</script>")).to_be_visible()
    expect(frame.locator(".row.theirs .author", has_text='<img src=x onerror="window.__pwned=4;alert(4)">')) \
        .to_be_visible()
    assert frame.locator(".log img, .log script, .log b, .log svg:not([aria-hidden])").count() == 0
    assert frame.locator("body").evaluate("() => window.__pwned") == 0
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []


def test_twenty_agent_messages_sent_while_the_visitor_is_offline_arrive_once_in_order(
    live_server, new_context, agent_socket, artifacts
):
    agent = agent_socket()
    ctx, page, frame, conv = visitor_starts_conversation(new_context, live_server, agent,
                                                         "Ping me when the quote is ready")
    expect(frame.locator(".row.mine .meta")).to_contain_text("Sent")

    ctx.set_offline(True)
    expected = [f"Quote line {i:02d}" for i in range(1, 21)]
    for body in expected:
        agent_say(agent, conv, body)
    ctx.set_offline(False)
    page.reload()  # the visitor comes back on a fresh page: history replays from the database
    frame = open_demo(page, live_server)
    expect(frame.locator(".row.theirs .bubble", has_text="Quote line 20")).to_be_visible(timeout=20_000)
    shown = frame.locator(".row.theirs .bubble").all_inner_texts()
    assert [t for t in shown if t.startswith("Quote line")] == expected
    page.screenshot(path=artifacts / "widget-twenty-after-reload.png")
