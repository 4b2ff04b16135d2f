"""A new customer signs up in a real browser: the form, the emailed link, a password, the dashboard.

The live server prints emails to its output (the console email backend of the embedded default),
which goes to the live server's log; the test reads the link from there.
"""
from __future__ import annotations

import re
import time
import uuid
from typing import Any

from tests.browser.conftest import ARTIFACTS


def emailed_link(live_server: Any, *, to: str, path: str) -> str:
    """The first ``path`` link in the email to ``to``, once the live server has printed it."""
    log = ARTIFACTS / "live-server.log"
    pattern = re.compile(re.escape(live_server.url + path) + r"\S+/")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        start = text.rfind(f"To: {to}")
        if start >= 0 and (found := pattern.search(text, start)):
            return found.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no email to {to} with a {path} link in {log}")


def signup_form_filled(new_context: Any, live_server: Any) -> tuple[Any, str]:
    """A new browser context's page on the sign-up form, filled in for Newco's founder with a fresh
    email address (not yet submitted): the page and the address."""
    email = f"founder-{uuid.uuid4().hex[:8]}@newco.example"
    page = new_context().new_page()
    page.goto(f"{live_server.url}/accounts/signup/")
    page.fill("#id_company_name", "Newco")
    page.fill("#id_name", "Nadia Founder")
    page.fill("#id_email", email)
    return page, email


def test_a_new_customer_signs_up_through_the_emailed_link_and_lands_in_the_dashboard(
        new_context: Any, live_server: Any) -> None:
    page, email = signup_form_filled(new_context, live_server)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Check your email to continue')")

    page.goto(emailed_link(live_server, to=email, path="/accounts/signup/finish/"))
    assert page.input_value("#id_company_name") == "Newco"
    assert page.input_value("#id_name") == "Nadia Founder"
    page.fill("#id_password", "a-long-Secret-passw0rd")
    page.click("button[type=submit]")
    page.wait_for_selector("#app[data-ready='true']")
    assert page.url == f"{live_server.url}/app/setup"
    [(tenant,)] = live_server.sql(
        "SELECT t.name FROM support_tenant t JOIN support_membership m ON m.tenant_id = t.id "
        "JOIN support_user u ON m.user_id = u.id WHERE u.email = ? AND m.role = 'owner'", (email,))
    assert tenant == "Newco"
