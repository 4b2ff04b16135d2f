"""A new customer's first run in a real browser: sign up with their website's address, land on the
checklist, paste the snippet on a page of another origin (a second server run by this test), see the
install check report it refused, allow it in one click, and chat from that page to the dashboard."""
from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_signup import emailed_link, signup_form_filled


class HostSite:
    """A customer's site on its own origin (127.0.0.1:<free port>): one page holding ``snippet``."""

    def __init__(self) -> None:
        self.snippet = ""
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                body = (
                    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Newco shop</title></head>"
                    "<body><h1>Newco shop</h1><p>Our products.</p>" + site.snippet + "</body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def host_site() -> Iterator[HostSite]:
    site = HostSite()
    yield site
    site.server.shutdown()
    site.server.server_close()


def test_signup_checklist_install_check_allow_and_first_message(
        new_context: Any, live_server: Any, host_site: HostSite, artifacts: Any) -> None:
    owner, email = signup_form_filled(new_context, live_server)
    owner.fill("#id_website", "newco.example")
    owner.screenshot(path=str(artifacts / "signup-with-website.png"), full_page=True)
    owner.click("button[type=submit]")
    owner.wait_for_selector("h1:has-text('Check your email to continue')")
    owner.goto(emailed_link(live_server, to=email, path="/accounts/signup/finish/"))
    owner.fill("#id_password", "a-long-Secret-passw0rd")
    owner.click("button[type=submit]")

    # The checklist, with the snippet to paste and nothing seen yet.
    owner.wait_for_url(f"{live_server.url}/app/setup")
    expect(owner.locator(".setup h1")).to_have_text("Get started")
    expect(owner).to_have_title("Get started · Switchboard")
    snippet = owner.locator("code.snippet").inner_text()
    assert f'src="{live_server.url}/widget.js"' in snippet
    expect(owner.locator(".setup")).to_contain_text("Allowed sites: https://newco.example")
    expect(owner.locator(".sightings")).to_contain_text("Waiting for the widget")
    owner.screenshot(path=str(artifacts / "setup-checklist.png"), full_page=True)

    # Pasted on a site whose origin is not allowed: no launcher, a clear console message, and the
    # checklist says where it was refused.
    host_site.snippet = snippet
    visitor = new_context().new_page()
    console: list[str] = []
    visitor.on("console", lambda m: console.append(m.text))
    visitor.goto(host_site.url + "/")
    refused = owner.locator(f".sighting.refused[data-origin='{host_site.url}']")
    expect(refused).to_contain_text(f"Refused on {host_site.url}", timeout=20_000)
    expect(visitor.locator("switchboard-widget .launcher")).to_be_hidden()
    deadline_hint = f"Switchboard: this site ({host_site.url}) is not in the workspace's allowed origins"
    for _ in range(50):
        if any(deadline_hint in line for line in console):
            break
        visitor.wait_for_timeout(200)
    assert any(deadline_hint in line for line in console), console
    owner.screenshot(path=str(artifacts / "setup-refused.png"), full_page=True)

    # One click allows it; a reload shows the launcher and the install check turns green.
    refused.locator("button", has_text="Allow").click()
    expect(owner.locator(f".sighting[data-origin='{host_site.url}']")).to_contain_text("reload that page")
    visitor.reload()
    launcher = visitor.locator("switchboard-widget .launcher")
    expect(launcher).to_be_visible(timeout=20_000)
    expect(owner.locator(f".sighting.installed[data-origin='{host_site.url}']")).to_contain_text(
        f"Installed on {host_site.url}", timeout=20_000)
    expect(owner.locator(".setup-step").first).to_have_attribute("data-done", "true")
    owner.screenshot(path=str(artifacts / "setup-installed.png"), full_page=True)

    # The first message reaches the dashboard.
    launcher.click()
    frame = visitor.frame_locator("switchboard-widget iframe")
    box = frame.locator("footer.composer textarea")
    expect(box).to_be_visible()
    box.fill("Hello from the new site!")
    box.press("Enter")
    owner.click("nav.rail a[aria-label='Inbox']")
    owner.click(".tab[data-view='all']")
    expect(owner.locator(".conv-item", has_text="Hello from the new site!")).to_be_visible(timeout=20_000)
    expect(owner).to_have_title(re.compile(r"^(\(\d+\) )?Inbox · Switchboard$"))
    owner.click("nav.rail a[aria-label='Get started']")
    expect(owner.locator(".setup-step").last).to_have_attribute("data-done", "true")
