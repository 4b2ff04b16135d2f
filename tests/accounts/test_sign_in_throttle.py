"""Sign-in throttling stops guessing without letting anyone lock an owner out of their account.

Per address, per address+email with growing delays, and per email except for known devices
(support/sign_in_throttle.py). The clock is the module's ``_now``, moved by the tests.
"""
from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from support import sign_in_throttle
from support.models import User

OWNER = "owner@acme.example"
RIGHT = "pw-acme-Secret1"
LIMIT = 5


@pytest.fixture
def clock(monkeypatch):
    class Clock:
        now = 1_800_000_000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    clock = Clock()
    monkeypatch.setattr(sign_in_throttle, "_now", lambda: clock.now)
    return clock


@pytest.fixture(autouse=True)
def limit(settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = LIMIT


def sign_in(client: Client, password: str, *, address: str, email: str = OWNER):
    return client.post("/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=address)


def attack_from_many_addresses(count: int, *, email: str = OWNER) -> None:
    """Wrong passwords for ``email``, one from each of many addresses (no delay ever starts)."""
    for n in range(count):
        assert sign_in(Client(), f"guess-{n}", address=f"203.0.113.{n + 1}", email=email).status_code == 400


def test_attackers_from_many_addresses_cannot_lock_the_owner_out_of_a_known_browser(world, clock):
    owner = Client()
    assert sign_in(owner, RIGHT, address="198.51.100.7").status_code == 302  # the owner's usual browser
    owner.post("/accounts/logout/")

    attack_from_many_addresses(LIMIT)
    # The attackers are now refused for this account, even with the right password...
    refused = sign_in(Client(), RIGHT, address="203.0.113.99")
    assert refused.status_code == 429 and "_auth_user_id" not in refused.wsgi_request.session
    # ...while the owner's browser signs in as usual.
    response = sign_in(owner, RIGHT, address="198.51.100.7")
    assert response.status_code == 302 and response["Location"] == "/app/"
    assert int(owner.session["_auth_user_id"]) == world.owner.user.pk


def test_the_owner_on_a_new_browser_gets_a_clear_temporary_refusal(world, clock):
    attack_from_many_addresses(LIMIT)
    response = sign_in(Client(), RIGHT, address="198.51.100.7")
    assert response.status_code == 429
    text = response.content.decode()
    assert "Too many failed sign-ins to this account. Try again in 15 minutes." in text
    assert "reset your password" in text and 850 <= int(response["Retry-After"]) <= 900
    clock.advance(15 * 60 + 1)  # temporary: the window ends
    assert sign_in(Client(), RIGHT, address="198.51.100.7").status_code == 302


def test_a_password_reset_makes_the_new_browser_a_known_device(world, clock):
    attack_from_many_addresses(LIMIT)
    browser = Client()
    assert browser.post("/accounts/password/reset/", {"email": OWNER}, REMOTE_ADDR="198.51.100.7").status_code == 302
    link = re.search(r"http://\S+/accounts/password/reset/\S+/", mail.outbox[0].body).group(0)
    form_url = browser.get(link.split("127.0.0.1:8000", 1)[1], follow=True).redirect_chain[-1][0]
    done = browser.post(form_url, {"new_password1": "brand-new-Secret-77", "new_password2": "brand-new-Secret-77"})
    assert done.status_code == 302
    assert sign_in(browser, "brand-new-Secret-77", address="198.51.100.7").status_code == 302
    assert sign_in(Client(), "brand-new-Secret-77", address="198.51.100.8").status_code == 429


def test_a_known_device_is_known_for_its_own_account_only_and_cannot_be_forged(world, clock):
    alices = Client()
    assert sign_in(alices, "pw-acme-Secret1", address="198.51.100.7", email="alice@acme.example").status_code == 302
    owners = Client()
    assert sign_in(owners, RIGHT, address="198.51.100.8").status_code == 302
    owners.post("/accounts/logout/")
    attack_from_many_addresses(LIMIT)
    assert sign_in(alices, RIGHT, address="198.51.100.7").status_code == 429

    cookie = owners.cookies[sign_in_throttle.KNOWN_DEVICE_COOKIE].value
    forged = Client()
    forged.cookies[sign_in_throttle.KNOWN_DEVICE_COOKIE] = cookie[:-2] + ("AA" if cookie[-2:] != "AA" else "BB")
    assert sign_in(forged, RIGHT, address="198.51.100.9").status_code == 429
    copied = Client()
    copied.cookies[sign_in_throttle.KNOWN_DEVICE_COOKIE] = cookie
    assert sign_in(copied, RIGHT, address="198.51.100.9").status_code == 302


def test_a_known_device_still_gets_growing_delays_for_its_address(world, clock):
    browser = Client()
    assert sign_in(browser, RIGHT, address="198.51.100.7").status_code == 302
    for _ in range(sign_in_throttle.FREE_FAILURES + 1):
        assert sign_in(browser, "wrong", address="198.51.100.7").status_code == 400
    response = sign_in(browser, RIGHT, address="198.51.100.7")
    assert response.status_code == 429
    assert "Too many wrong passwords for this email. Try again in 30 seconds." in response.content.decode()


def test_delays_grow_per_address_and_email_and_a_success_clears_them(world, clock, settings):
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 100  # only the delays here
    address = "198.51.100.7"
    for _ in range(sign_in_throttle.FREE_FAILURES):
        assert sign_in(Client(), "wrong", address=address).status_code == 400
    waits = []
    for _ in range(7):
        assert sign_in(Client(), "wrong", address=address).status_code == 400
        refused = sign_in(Client(), RIGHT, address=address)
        assert refused.status_code == 429
        waits.append(int(refused["Retry-After"]))
        clock.advance(waits[-1])
    assert waits == [30, 60, 120, 240, 480, 900, 900]
    assert "Try again in 15 minutes" in refused.content.decode()
    # Another address, or another email from this address, is not delayed.
    sign_in(Client(), "wrong", address=address)
    assert sign_in(Client(), RIGHT, address="198.51.100.8").status_code == 302
    assert sign_in(Client(), "pw-acme-Secret1", address=address, email="alice@acme.example").status_code == 302
    clock.advance(900)
    assert sign_in(Client(), RIGHT, address=address).status_code == 302
    # The success cleared this address's delays: the next mistakes start free again.
    for _ in range(sign_in_throttle.FREE_FAILURES):
        assert sign_in(Client(), "wrong", address=address).status_code == 400
    assert sign_in(Client(), RIGHT, address=address).status_code == 302


def test_per_address_limit_across_emails(world, clock):
    for n in range(LIMIT):
        assert sign_in(Client(), "wrong", address="203.0.113.5", email=f"guess{n}@acme.example").status_code == 400
    response = sign_in(Client(), "pw-acme-Secret1", address="203.0.113.5", email="alice@acme.example")
    assert response.status_code == 429
    assert "Too many sign-in attempts from your network. Try again in 15 minutes." in response.content.decode()
    # IPv6 counts by /64: another address of the same /64 is refused, another /64 is not.
    for n in range(LIMIT):
        sign_in(Client(), "wrong", address=f"2001:db8:1:2::{n + 1}", email=f"guess{n}@acme.example")
    assert sign_in(Client(), "pw-acme-Secret1", address="2001:db8:1:2:ffff::1",
                   email="alice@acme.example").status_code == 429
    assert sign_in(Client(), "pw-acme-Secret1", address="2001:db8:1:3::1",
                   email="alice@acme.example").status_code == 302


def test_unknown_emails_are_counted_like_real_ones(db, clock):
    # Nothing in the answers tells whether an account exists.
    attack_from_many_addresses(LIMIT, email="nobody@acme.example")
    assert not User.objects.filter(email="nobody@acme.example").exists()
    response = sign_in(Client(), "x", address="198.51.100.7", email="nobody@acme.example")
    assert response.status_code == 429 and "Too many failed sign-ins to this account" in response.content.decode()


@pytest.mark.parametrize("seconds, text", [(1, "1 second"), (30, "30 seconds"), (60, "1 minute"),
                                           (61, "2 minutes"), (900, "15 minutes")])
def test_wait_text(seconds, text):
    assert sign_in_throttle.wait_text(seconds) == text
