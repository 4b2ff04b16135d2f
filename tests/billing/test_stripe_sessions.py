"""Checkout and portal sessions through the official SDK, against a local stand-in for Stripe's API."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest
from django_scopes import scope

from billing.models import Subscription


class FakeStripe(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict, str]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        form = parse_qs(self.rfile.read(length).decode())
        FakeStripe.requests.append((self.path, form, self.headers.get("Authorization", "")))
        kind = "checkout" if "checkout" in self.path else "portal"
        body = json.dumps({"id": f"{kind}_sess_1", "object": "checkout.session" if kind == "checkout"
                           else "billing_portal.session", "url": f"https://stripe.test/{kind}/sess_1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_stripe(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeStripe)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeStripe.requests = []
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{server.server_address[1]}"
    yield FakeStripe
    server.shutdown()


def test_choosing_a_paid_plan_opens_stripe_checkout(client, world, subscribed, fake_stripe):
    client.force_login(world.owner.user)
    response = client.post("/billing/plan", {"plan": "starter", "seats": "4"})
    assert response.status_code == 302
    assert response["Location"] == "https://stripe.test/checkout/sess_1"
    path, form, auth = fake_stripe.requests[0]
    assert path == "/v1/checkout/sessions" and auth == "Bearer sk_test_local"
    assert form["client_reference_id"] == [world.tenant.public_id]
    assert form["metadata[plan]"] == ["starter"] and form["metadata[seats]"] == ["4"]
    assert form["line_items[0][quantity]"] == ["4"]
    assert form["line_items[0][price_data][unit_amount]"] == ["1500"]
    with scope(tenant=world.tenant):
        assert Subscription.objects.get().plan == "pro"  # unchanged until Stripe's webhook says so


def test_portal_needs_a_stripe_customer(client, world, subscribed, fake_stripe):
    client.force_login(world.owner.user)
    assert client.post("/billing/portal").status_code == 404
    with scope(tenant=world.tenant):
        Subscription.objects.filter(tenant=world.tenant).update(stripe_customer_id="cus_local")
    response = client.post("/billing/portal")
    assert response.status_code == 302 and response["Location"] == "https://stripe.test/portal/sess_1"
    path, form, _ = fake_stripe.requests[-1]
    assert path == "/v1/billing_portal/sessions" and form["customer"] == ["cus_local"]


@pytest.fixture
def stripe_unreachable(settings):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.STRIPE_SECRET_KEY = "sk_test_local"
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{port}"


def test_stripe_down_gives_a_clear_message_and_changes_nothing(client, world, subscribed, stripe_unreachable):
    client.force_login(world.owner.user)
    response = client.post("/billing/plan", {"plan": "starter", "seats": "4"}, follow=True)
    assert response.status_code == 200
    assert "payment provider could not be reached" in response.content.decode()
    with scope(tenant=world.tenant):
        Subscription.objects.filter(tenant=world.tenant).update(stripe_customer_id="cus_local")
        assert Subscription.objects.get().plan == "pro"
    response = client.post("/billing/portal", follow=True)
    assert response.status_code == 200
    assert "payment provider could not be reached" in response.content.decode()
