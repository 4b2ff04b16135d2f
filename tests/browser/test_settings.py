"""The settings inside the dashboard (/app/settings), in real Chromium: an owner edits a setting and
sees it take effect where it matters (the widget on a host page); agents cannot reach the settings.

Runs on its own workspace (``settingsco``), so changing its look does not disturb the other tests'
``demo`` tenant on the shared live server.
"""
from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from push.webhooks.signing import verify_signature
from tests.browser.axe import serious_violations
from tests.browser.conftest import AgentSocket, LiveServer
from tests.browser.test_signup import emailed_link
from tests.webhooks.http_receiver import start_receiver, stop_receiver

SETUP = """
import json
from django_scopes import scopes_disabled
from support.models import Membership, Tenant, User
from tests.browser.seed_live import agent_session

with scopes_disabled():
    tenant, _ = Tenant.objects.get_or_create(slug="settingsco", defaults={"name": "Settings Co"})
    tenant.allowed_origins = [ORIGIN]
    tenant.save(update_fields=["allowed_origins"])
    out = {"id": tenant.public_id}
    for key, role in (("owner", Membership.Role.OWNER), ("agent", Membership.Role.AGENT)):
        email = f"{key}@settingsco.example"
        user = User.objects.filter(email=email).first() or User.objects.create_user(
            email, "browser-Secret-1", display_name=f"Settings {key.title()}")
        Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
        out[key] = agent_session(user)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def workspace(live_server: LiveServer) -> dict[str, Any]:
    out = live_server.python(SETUP.replace("ORIGIN", repr(live_server.url)))
    return json.loads(out.strip().splitlines()[-1])


def _signed_in(new_context: Any, live_server: LiveServer, session: str, **kwargs: Any) -> Page:
    ctx = new_context(**kwargs)
    ctx.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    return ctx.new_page()


def _settings_page(new_context: Any, live_server: LiveServer, session: str, section: str, title: str) -> Page:
    """A signed-in page on the dashboard's settings ``section``, its heading ``title`` shown."""
    page = _signed_in(new_context, live_server, session)
    page.goto(f"{live_server.url}/app/settings/{section}")
    expect(page.locator(f"#settings-{section}-title")).to_have_text(title)
    return page


def _launcher_style(page: Page) -> dict[str, str]:
    launcher = page.locator("switchboard-widget .launcher")
    expect(launcher).to_be_visible(timeout=20_000)
    return launcher.evaluate("el => { const s = getComputedStyle(el); return {bg: s.backgroundColor, left: s.left,"
                             " right: s.right}; }")


def test_owner_changes_the_widget_look_and_the_widget_shows_it(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    owner = _signed_in(new_context, live_server, workspace["owner"])
    owner.goto(f"{live_server.url}/app/settings")
    expect(owner.locator(".settings h1")).to_have_text("Settings")
    expect(owner.locator("#settings-widget-title")).to_have_text("Workspace & widget")
    expect(owner).to_have_title("Settings · Switchboard")
    expect(owner.locator(".rail a[href='/app/settings']")).to_be_visible()
    owner.screenshot(path=str(artifacts / "settings-widget.png"), full_page=True)

    # Live preview: the colour, the side and the greeting follow the form before anything is saved.
    owner.fill("input[name=color_hex]", "#0e7490")
    owner.locator(".segmented label", has_text="Bottom left").click()
    xss = '<img src=x onerror="window.__pwned=1">'
    owner.fill("textarea[name=greeting]", f"Welcome to Settings Co! {xss}")
    preview = owner.locator(".wpreview")
    expect(preview).to_have_attribute("data-position", "left")
    assert owner.locator("[data-preview=launcher]").evaluate("el => getComputedStyle(el).backgroundColor") \
        == "rgb(14, 116, 144)"
    expect(preview.locator("[data-preview=greeting]")).to_have_text(f"Welcome to Settings Co! {xss}")
    owner.click("#tab-zh-Hans")
    owner.fill("textarea[name='greeting-zh-Hans']", "欢迎来到 Settings Co！")
    expect(preview.locator("[data-preview=greeting]")).to_have_text("欢迎来到 Settings Co！")
    expect(preview).to_contain_text("我们在线")
    expect(owner.locator("[data-dirty]")).to_be_visible()

    # A refused value is named under its field and nothing is saved.
    owner.fill("textarea[name=allowed_origins]", f"{live_server.url}\nftp://files.example")
    owner.click("button:has-text('Save changes')")
    error = owner.locator(".field-error[data-error-for=allowed_origins]")
    expect(error).to_contain_text("is not an origin like https://example.com")
    expect(owner.locator("textarea[name=allowed_origins]")).to_have_attribute("aria-invalid", "true")
    owner.screenshot(path=str(artifacts / "settings-widget-error.png"), full_page=True)
    assert live_server.sql("SELECT color FROM support_tenant WHERE slug = 'settingsco'") == [("#4f46e5",)]

    owner.fill("textarea[name=allowed_origins]", live_server.url)
    owner.click("button:has-text('Save changes')")
    expect(owner.locator(".toast")).to_contain_text("Widget settings saved")
    expect(error).to_be_hidden()
    expect(owner.locator("[data-dirty]")).to_be_hidden()
    owner.screenshot(path=str(artifacts / "settings-widget-saved.png"), full_page=True)
    assert owner.evaluate("window.__pwned") is None

    # The widget on a host page now has the new colour, side and greeting, in each language.
    visitor = new_context().new_page()
    visitor.goto(f"{live_server.url}/demo/?tenant=settingsco")
    style = _launcher_style(visitor)
    assert style["bg"] == "rgb(14, 116, 144)" and style["left"] == "20px", style
    visitor.locator("switchboard-widget .launcher").click()
    frame = visitor.frame_locator("switchboard-widget iframe")
    expect(frame.locator(".greeting")).to_contain_text(f"Welcome to Settings Co! {xss}")
    assert visitor.evaluate("window.__pwned") is None
    chinese = new_context(locale="zh-CN").new_page()
    chinese.goto(f"{live_server.url}/demo/?tenant=settingsco&lang=zh-Hans")
    _launcher_style(chinese)
    chinese.locator("switchboard-widget .launcher").click()
    expect(chinese.frame_locator("switchboard-widget iframe").locator(".greeting")).to_contain_text(
        "欢迎来到 Settings Co！")


def test_agents_neither_see_nor_reach_the_settings(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    agent = _signed_in(new_context, live_server, workspace["agent"])
    agent.goto(f"{live_server.url}/app/")
    expect(agent.locator("#app[data-ready=true]")).to_be_attached(timeout=20_000)
    expect(agent.locator(".rail a[href='/app/settings']")).to_be_hidden()
    answer = agent.goto(f"{live_server.url}/app/settings/widget")
    assert answer is not None and answer.status == 403
    expect(agent.locator("body")).not_to_contain_text("Workspace & widget")
    agent.screenshot(path=str(artifacts / "settings-agent-403.png"), full_page=True)
    # The API refuses them too, whatever the page shows.
    status = agent.evaluate("fetch('/api/v1/workspace').then(r => r.status)")
    assert status == 403


def _widget_status(new_context: Any, live_server: LiveServer) -> Any:
    page = new_context().new_page()
    page.goto(f"{live_server.url}/demo/?tenant=settingsco")
    expect(page.locator("switchboard-widget .launcher")).to_be_visible(timeout=20_000)
    page.locator("switchboard-widget .launcher").click()
    return page.frame_locator("switchboard-widget iframe").locator("p.status").first


def test_owner_sets_business_hours_and_the_widget_says_away(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    ws_url = live_server.url.replace("http://", "ws://") + "/ws/agent/"
    agent = AgentSocket(ws_url, live_server.origin, workspace["agent"])
    try:
        agent.send({"type": "hello", "resume": {}, "inbox_since": None})
        agent.wait_for(lambda f: f["type"] == "welcome")
        expect(_widget_status(new_context, live_server)).to_contain_text("We're online")

        owner = _settings_page(new_context, live_server, workspace["owner"], "hours", "Business hours")
        expect(owner.locator(".settings-nav-item[aria-current=page]")).to_have_text("Business hours")
        owner.select_option("select[name=time_zone]", "UTC")
        owner.check("input[name=hours_mode][value=set]")
        # Open only yesterday (UTC), so the team is closed now.
        days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        today = datetime.datetime.now(datetime.UTC).weekday()
        keep = days[(today - 1) % 7]
        for day in days:
            box = owner.locator(f"input[name=open-{day}]")
            box.set_checked(day == keep)
        # The editor checks ranges as they are typed.
        owner.fill(f"[data-range={keep}-0-from]", "18:00")
        expect(owner.locator(f"[data-day-error={keep}]")).to_contain_text("18:00–17:00 closes before it opens.")
        owner.fill(f"[data-range={keep}-0-from]", "08:00")
        expect(owner.locator(f"[data-day-error={keep}]")).to_be_hidden()
        owner.click(f"[data-add={keep}]")
        expect(owner.locator(f"[data-range={keep}-1-from]")).to_have_value("18:00")
        expect(owner.locator(".hours-status")).to_contain_text("closed now")
        owner.screenshot(path=str(artifacts / "settings-hours.png"), full_page=True)
        owner.click("button:has-text('Save hours')")
        expect(owner.locator(".toast")).to_contain_text("Business hours saved")
        saved = json.loads(live_server.sql("SELECT business_hours FROM support_tenant WHERE slug = 'settingsco'")[0][0])
        assert saved == {keep: [["08:00", "17:00"], ["18:00", "23:59"]]}

        # The agent is still online, but outside the hours the widget says the team is away.
        expect(_widget_status(new_context, live_server)).to_contain_text("We're away right now")
    finally:
        agent.close()


def test_owner_invites_a_teammate_who_joins_and_gets_a_role(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    email = f"newbie-{uuid.uuid4().hex[:8]}@settingsco.example"
    owner = _settings_page(new_context, live_server, workspace["owner"], "team", "Teammates")
    expect(owner.locator("[data-member='owner@settingsco.example']")).to_contain_text("(you)")
    # A bad address is named under the field; an existing member is refused too.
    owner.fill("input[name=email]", "not-an-address")
    owner.click("button:has-text('Send invitation')")
    expect(owner.locator(".field-error[data-error-for=email]")).to_contain_text("valid email")
    owner.fill("input[name=email]", "agent@settingsco.example")
    owner.click("button:has-text('Send invitation')")
    expect(owner.locator(".field-error[data-error-for=email]")).to_contain_text("already a member")
    owner.fill("input[name=email]", email)
    owner.click("button:has-text('Send invitation')")
    expect(owner.locator(f"[data-invitation='{email}']")).to_contain_text("Agent")
    expect(owner.locator(".field-error[data-error-for=email]")).to_be_hidden()
    owner.screenshot(path=str(artifacts / "settings-team.png"), full_page=True)

    # The invitee follows the emailed link, joins, and lands in the dashboard as an agent.
    invitee = new_context().new_page()
    invitee.goto(emailed_link(live_server, to=email, path="/accounts/invite/"))
    invitee.fill("#id_name", "Nina Newbie")
    invitee.fill("#id_password", "a-long-Secret-passw0rd")
    invitee.click("button[type=submit]")
    invitee.wait_for_url(re.compile(r".*/app/.*"))
    assert invitee.goto(f"{live_server.url}/app/settings").status == 403

    # The owner sees them as a member (the invitation is gone) and makes them an admin: the settings open.
    owner.reload()
    member = owner.locator(f"[data-member='{email}']")
    expect(member).to_contain_text("Nina Newbie")
    expect(owner.locator(f"[data-invitation='{email}']")).to_have_count(0)
    member.locator("select").select_option("admin")
    expect(owner.locator(".toast").last).to_contain_text("Nina Newbie is now Admin")
    assert invitee.goto(f"{live_server.url}/app/settings").status == 200
    expect(invitee.locator("#settings-widget-title")).to_be_visible()

    # Deactivated, they lose the workspace.
    member.locator("button:has-text('Deactivate')").click()
    expect(member).to_contain_text("Deactivated")
    expect(member.locator("button:has-text('Reactivate')")).to_be_visible()
    owner.screenshot(path=str(artifacts / "settings-team-members.png"), full_page=True)
    assert invitee.goto(f"{live_server.url}/app/settings").status == 403


def test_owner_reveals_the_identity_secret_on_demand_and_copies_it(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    [(secret,)] = live_server.sql("SELECT identity_secret FROM support_tenant WHERE slug = 'settingsco'")
    owner = _signed_in(new_context, live_server, workspace["owner"], permissions=["clipboard-read", "clipboard-write"])
    owner.goto(f"{live_server.url}/app/settings/widget")
    card = owner.locator("[data-field=identity_secret]")
    expect(card).to_contain_text("Identity verification secret")
    expect(card.locator("code")).to_have_text("•" * 24)
    assert secret not in owner.content()  # not in the page until asked for
    show = card.locator("button", has_text="Show secret")
    expect(show).to_have_attribute("aria-expanded", "false")
    expect(card.locator("button", has_text="Copy")).to_be_hidden()
    show.click()
    expect(card.locator("code")).to_have_text(secret)
    hide = card.locator("button", has_text="Hide")
    expect(hide).to_have_attribute("aria-expanded", "true")
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(artifacts / "settings-identity-secret.png"))
    card.locator("button", has_text="Copy").click()
    expect(owner.locator(".toast").last).to_contain_text("Secret copied.")
    assert owner.evaluate("navigator.clipboard.readText()") == secret
    hide.click()
    expect(card.locator("code")).to_have_text("•" * 24)
    assert secret not in owner.locator("[data-field=identity_secret]").inner_html()
    expect(card.locator("button", has_text="Copy")).to_be_hidden()
    # In Chinese.
    chinese = _signed_in(new_context, live_server, workspace["owner"], locale="zh-CN")
    chinese.goto(f"{live_server.url}/app/settings/widget")
    card = chinese.locator("[data-field=identity_secret]")
    expect(card).to_contain_text("身份验证密钥")
    card.locator("button", has_text="显示密钥").click()
    expect(card.locator("code")).to_have_text(secret)
    expect(card.locator("button", has_text="隐藏")).to_be_visible()
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(artifacts / "settings-identity-secret-zh.png"))


def test_owner_resends_a_pending_invitation_and_only_the_new_link_works(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    email = f"resend-{uuid.uuid4().hex[:8]}@settingsco.example"
    owner = _signed_in(new_context, live_server, workspace["owner"])
    owner.goto(f"{live_server.url}/app/settings/team")
    owner.fill("input[name=email]", email)
    owner.click("button:has-text('Send invitation')")
    row = owner.locator(f"[data-invitation='{email}']")
    expect(row).to_contain_text("Agent")
    first = emailed_link(live_server, to=email, path="/accounts/invite/")
    row.locator("button", has_text="Resend").click()
    expect(owner.locator(".toast").last).to_contain_text(f"Invitation sent again to {email}.")
    owner.screenshot(path=str(artifacts / "settings-team-resend.png"), full_page=True)
    deadline = time.monotonic() + 30
    second = first
    while second == first and time.monotonic() < deadline:
        second = emailed_link(live_server, to=email, path="/accounts/invite/")
        time.sleep(0.2)
    assert second != first
    stale = new_context().new_page()
    stale.goto(first)
    expect(stale.locator("body")).to_contain_text("not valid")
    fresh = new_context().new_page()
    fresh.goto(second)
    expect(fresh.locator("#id_password")).to_be_visible()
    # The same screen in Chinese.
    chinese = _signed_in(new_context, live_server, workspace["owner"], locale="zh-CN")
    chinese.goto(f"{live_server.url}/app/settings/team")
    expect(chinese.locator(f"[data-invitation='{email}'] button", has_text="重新发送")).to_be_visible()
    chinese.screenshot(path=str(artifacts / "settings-team-resend-zh.png"), full_page=True)


def test_owner_adds_a_webhook_sees_the_secret_once_and_sends_a_test(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    receiver = start_receiver()
    try:
        owner = _settings_page(new_context, live_server, workspace["owner"], "webhooks", "Webhooks")
        form = owner.locator("form.webhook-form")
        expect(form.locator("input[name=url]")).to_have_value("")
        expect(form).not_to_contain_text("null")
        expect(owner.locator("[data-list=webhooks]")).to_contain_text("No endpoints yet.")

        # A host that does not exist is explained under the field, without a raw [Errno …].
        form.locator("input[name=url]").fill("https://hooks.nowhere.invalid/in")
        form.locator("input[value='message.created']").check()
        form.locator("button:has-text('Add endpoint')").click()
        url_error = form.locator(".field-error[data-error-for=url]")
        expect(url_error).to_contain_text("The host 'hooks.nowhere.invalid'")
        assert "Errno" not in url_error.inner_text()

        # Event checkboxes: "all events" greys the others out; pick two instead.
        form.locator("input[name=all_events]").check()
        expect(form.locator("input[value='conversation.created']")).to_be_disabled()
        form.locator("input[name=all_events]").uncheck()
        form.locator("input[value='conversation.created']").check()
        form.locator("input[name=url]").fill(receiver.url + "/switchboard")
        form.locator("input[name=description]").fill("CRM")
        form.locator("button:has-text('Add endpoint')").click()
        box = owner.locator("[data-secret] code")
        expect(box).to_contain_text("whsec_")
        secret = box.inner_text().strip()
        row = owner.locator(f"[data-endpoint='{receiver.url}/switchboard']")
        expect(row).to_contain_text("CRM · conversation.created, message.created")
        owner.screenshot(path=str(artifacts / "settings-webhooks-secret.png"), full_page=True)

        # Shown once: after a reload the secret is no longer on the page, and it was not changed.
        owner.reload()
        expect(row).to_be_visible()
        expect(owner.locator("[data-secret]")).to_have_count(0)
        assert secret not in owner.content()
        assert live_server.sql("SELECT secret FROM push_webhookendpoint WHERE url = ?",
                               (receiver.url + "/switchboard",)) == [(secret,)]

        # A test delivery reaches the receiver, signed with that secret.
        row.locator("button:has-text('Send test')").click()
        expect(row.locator(".delivery-result")).to_contain_text("Delivered: HTTP 200 in")
        [ping] = [r for r in receiver.requests if r.path == "/switchboard"]
        assert json.loads(ping.body)["type"] == "ping"
        assert verify_signature(secret=secret, header=ping.headers["X-Switchboard-Signature"], body=ping.body,
                                now=int(time.time()))
        row.locator("button:has-text('Deliveries')").click()
        expect(row.locator("[data-delivery=ping]")).to_contain_text("Delivered")
        expect(row.locator("[data-delivery=ping]")).to_contain_text("HTTP 200")
        owner.screenshot(path=str(artifacts / "settings-webhooks.png"), full_page=True)

        # Disabled, then deleted (asked twice).
        row.locator("button:has-text('Disable')").click()
        expect(row.locator(".chip")).to_have_text("Disabled")
        row.locator("button:has-text('Delete')").click()
        row.locator("button:has-text('Delete with its log?')").click()
        expect(row).to_have_count(0)
    finally:
        stop_receiver(receiver)


def test_owner_creates_an_api_token_that_works_until_revoked(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    owner = _settings_page(new_context, live_server, workspace["owner"], "tokens", "API tokens")
    owner.fill("input[name=name]", "CRM sync")
    owner.select_option("select[name=scope]", "read_write")
    owner.click("button:has-text('Create token')")
    token = owner.locator("[data-secret] code").inner_text().strip()
    assert token.startswith("sb_")
    row = owner.locator("[data-token='CRM sync']")
    expect(row).to_contain_text("Read and write")
    owner.screenshot(path=str(artifacts / "settings-tokens.png"), full_page=True)

    me = httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert me.status_code == 200 and me.json()["tenant"]["id"] == workspace["id"]
    row.locator("button:has-text('Revoke')").click()
    row.locator("button:has-text('Revoke for good?')").click()
    expect(row.locator(".chip")).to_have_text("Revoked")
    owner.reload()
    expect(owner.locator("[data-secret]")).to_have_count(0)
    assert httpx.get(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {token}"},
                     timeout=30).status_code == 401


def test_owner_manages_labels_canned_responses_and_teams(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    owner = _signed_in(new_context, live_server, workspace["owner"])
    xss = '<img src=x onerror="window.__pwned=1">'

    owner.goto(f"{live_server.url}/app/settings/labels")
    form = owner.locator("form[data-form=labels]")
    form.locator("input[name=name]").fill("VIP")
    form.locator("input[name=color]").fill("#dc2626")
    form.locator("button:has-text('Add')").click()
    expect(owner.locator("[data-row=VIP]")).to_be_visible()
    form = owner.locator("form[data-form=labels]")
    form.locator("input[name=name]").fill("VIP")
    form.locator("button:has-text('Add')").click()
    expect(form.locator(".field-error[data-error-for=name]")).to_have_text("A label with this name exists")
    form.locator("input[name=name]").fill(xss)
    form.locator("button:has-text('Add')").click()
    expect(owner.locator(".settings-list .row-title", has_text=xss)).to_be_visible()
    owner.screenshot(path=str(artifacts / "settings-labels.png"), full_page=True)
    labels = owner.evaluate("fetch('/api/v1/labels').then(r => r.json())")["results"]
    assert {(label["name"], label["color"]) for label in labels} >= {("VIP", "#dc2626")}

    owner.goto(f"{live_server.url}/app/settings/canned")
    form = owner.locator("form[data-form=canned]")
    form.locator("input[name=shortcut]").fill("/refund")
    form.locator("input[name=title]").fill("Refunds")
    form.locator("textarea[name=body]").fill(f"Your refund is on its way. {xss}")
    form.locator("button:has-text('Add')").click()
    row = owner.locator("[data-row='/refund']")
    expect(row).to_contain_text(f"Your refund is on its way. {xss}")
    form = owner.locator("form[data-form=canned]")
    form.locator("input[name=shortcut]").fill("no spaces allowed")
    form.locator("textarea[name=body]").fill("x")
    form.locator("button:has-text('Add')").click()
    expect(form.locator(".field-error[data-error-for=shortcut]")).to_contain_text("letters, digits")
    # Edit in place.
    row.locator("button:has-text('Edit')").click()
    form = owner.locator("form[data-form=canned]")
    expect(form.locator("input[name=shortcut]")).to_have_value("refund")
    form.locator("input[name=title]").fill("Refund sent")
    form.locator("button:has-text('Save')").click()
    expect(row).to_contain_text("Refund sent")
    owner.screenshot(path=str(artifacts / "settings-canned.png"), full_page=True)

    owner.goto(f"{live_server.url}/app/settings/teams")
    form = owner.locator("form[data-form=teams]")
    form.locator("input[name=name]").fill("Billing")
    form.locator("label.check", has_text="Settings Agent").locator("input").check()
    form.locator("button:has-text('Add')").click()
    expect(owner.locator("[data-row=Billing]")).to_contain_text("Settings Agent")
    owner.screenshot(path=str(artifacts / "settings-teams.png"), full_page=True)
    assert owner.evaluate("window.__pwned") is None

    # Where agents work: the inbox's team filter offers the new team.
    agent = _signed_in(new_context, live_server, workspace["agent"])
    agent.goto(f"{live_server.url}/app/")
    expect(agent.locator("#app[data-ready=true]")).to_be_attached(timeout=20_000)
    expect(agent.locator("option", has_text="Billing")).to_have_count(1)

    # Deleted (asked twice).
    owner.locator("[data-row=Billing] button:has-text('Delete')").click()
    owner.locator("[data-row=Billing] button:has-text('Delete for good?')").click()
    expect(owner.locator("[data-row=Billing]")).to_have_count(0)


def test_settings_in_simplified_chinese(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    owner = _signed_in(new_context, live_server, workspace["owner"], locale="zh-CN")
    owner.goto(f"{live_server.url}/app/settings/hours")
    expect(owner.locator(".settings h1")).to_have_text("设置")
    expect(owner.locator(".settings-nav-item[data-section=widget]")).to_have_text("工作区与聊天窗口")
    expect(owner.locator("#settings-hours-title")).to_have_text("营业时间")
    expect(owner.locator("[data-day=mon] .day-name")).to_contain_text("星期一")
    owner.screenshot(path=str(artifacts / "settings-zh-hans.png"), full_page=True)
    owner.goto(f"{live_server.url}/app/settings/widget")
    expect(owner.locator(".settings-actions button[type=submit]")).to_have_text("保存更改")
    expect(owner.locator(".wpreview")).to_contain_text("我们在线")


@pytest.mark.parametrize("section", ["widget", "hours", "team", "teams", "labels", "canned", "webhooks", "tokens",
                                     "billing"])
def test_settings_pass_axe(new_context: Any, live_server: LiveServer, workspace: dict[str, Any], section: str) -> None:
    owner = _signed_in(new_context, live_server, workspace["owner"])
    owner.goto(f"{live_server.url}/app/settings/{section}")
    expect(owner.locator(f".settings-nav-item[data-section={section}][aria-current=page]")).to_be_visible()
    expect(owner.locator(".settings-section h2")).to_be_visible()
    owner.wait_for_load_state("networkidle")
    # The settings area only: the rail around it is the dashboard's (tests/browser/test_accessibility.py).
    assert serious_violations(owner, include=".settings") == []


def test_settings_fit_a_phone(
        new_context: Any, live_server: LiveServer, workspace: dict[str, Any], artifacts: Any) -> None:
    owner = _signed_in(new_context, live_server, workspace["owner"], viewport={"width": 390, "height": 844})
    for section in ("widget", "hours", "webhooks"):
        owner.goto(f"{live_server.url}/app/settings/{section}")
        expect(owner.locator(".settings-section h2")).to_be_visible()
        owner.wait_for_load_state("networkidle")
        owner.screenshot(path=str(artifacts / f"settings-phone-{section}.png"), full_page=True)
        overflow = owner.evaluate("[...document.querySelectorAll('.settings-section *')]"
                                  ".filter(el => el.getBoundingClientRect().right > innerWidth + 1)"
                                  ".map(el => el.className || el.tagName).slice(0, 5)")
        assert overflow == [], section
