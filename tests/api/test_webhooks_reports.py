"""Webhook endpoints through the API (create, update, ping, deliveries, redeliver) and reports."""
from __future__ import annotations

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.utils import timezone
from django_scopes import scope

from push.models import WebhookDelivery, WebhookEndpoint
from support.models import Conversation
from support.services.conversations import assign_conversation, start_conversation
from support.services.messages import post_message


@pytest.fixture
def receiver(settings):
    """A local HTTP server that records what it is sent."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


def test_webhook_endpoint_lifecycle(world, api, receiver):
    url, received = receiver
    created = api.post("/api/v1/webhooks", {"url": url, "event_types": ["message.created"]})
    assert created.status_code == 201, created.content
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert "secret" not in api.get("/api/v1/webhooks").json()["results"][0]
    bad = api.post("/api/v1/webhooks", {"url": url, "event_types": ["nope"]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_event_types"
    assert "Unknown event type 'nope'" in bad.json()["error"]["fields"]["event_types"][0]

    ping = api.post(f"/api/v1/webhooks/{endpoint['id']}/ping")
    assert ping.status_code == 200, ping.content
    assert ping.json()["status"] == "succeeded" and ping.json()["last_response_code"] == 200
    assert b'"ping"' in received[0]

    rotated = api.patch(f"/api/v1/webhooks/{endpoint['id']}", {"rotate_secret": True, "description": "CRM"})
    assert rotated.json()["secret"] != endpoint["secret"] and rotated.json()["description"] == "CRM"

    with scope(tenant=world.tenant):
        original = WebhookDelivery.objects.create(
            tenant=world.tenant, endpoint=WebhookEndpoint.objects.get(public_id=endpoint["id"]),
            event_public_id="evt_1", event_type="message.created", request_body="{}", status="failed",
        )
    again = api.post(f"/api/v1/webhooks/{endpoint['id']}/deliveries/{original.public_id}/redeliver")
    assert again.status_code == 202 and again.json()["redelivery_of"] == original.public_id
    listed = api.get(f"/api/v1/webhooks/{endpoint['id']}/deliveries").json()["results"]
    assert {d["id"] for d in listed} == {ping.json()["id"], original.public_id, again.json()["id"]}


def test_webhook_endpoint_delete(world, api, receiver):
    url, _ = receiver
    endpoint = api.post("/api/v1/webhooks", {"url": url, "event_types": ["*"]}).json()
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{endpoint['id']}").status_code == 404


def test_report_figures(world, api):
    # Mid-day of today (UTC, the tenant's zone): the figures do not depend on when the test runs.
    now = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    with scope(tenant=world.tenant):
        a = start_conversation(tenant=world.tenant, contact=world.contact)
        b = start_conversation(tenant=world.tenant, contact=world.contact)
        assign_conversation(conversation=a, assignee=world.agent)
        Conversation.objects.filter(pk=a.pk).update(
            created_at=now - timedelta(minutes=10), first_response_at=now - timedelta(minutes=8),
            status="resolved", resolved_at=now, rating=5,
        )
        Conversation.objects.filter(pk=b.pk).update(created_at=now - timedelta(minutes=5), rating=2)
        post_message(conversation=b, author_type="contact", body="hello?")
    day = api.get("/api/v1/reports/conversations", {"since": now.date().isoformat(), "until": now.date().isoformat()})
    totals = day.json()["totals"]
    assert totals["conversations"] == 2 and totals["resolved"] == 1
    assert totals["first_response"]["median_seconds"] == 120.0
    assert totals["resolution"]["median_seconds"] == 600.0
    assert totals["csat"] == {"ratings": 2, "average": 3.5, "satisfied_percent": 50.0}
    agents = {row["agent"]["id"]: row for row in api.get("/api/v1/reports/agents").json()["agents"]}
    assert agents[world.agent.public_id]["conversations"] == 1
    summary = api.get("/api/v1/reports/summary").json()
    assert summary["open"] == 1 and summary["waiting"] == 1 and summary["online_agents"] == 0
    assert summary["today"]["conversations"] == 2 and summary["today"]["resolved"] == 1
    assert len(summary["by_day"]) == 30
    assert sum(h["conversations"] for h in summary["by_hour_today"]) == 2


def test_report_range_is_checked(world, api):
    assert api.get("/api/v1/reports/conversations", {"since": "2026-02-01", "until": "2026-01-01"}).status_code == 400
    assert api.get("/api/v1/reports/agents", {"since": "2020-01-01", "until": "2026-01-01"}).status_code == 400


def test_a_refused_url_is_named_under_its_field(world, api, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    bad = api.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook", "event_types": ["*"]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "unsafe_url"
    assert "private or reserved address" in bad.json()["error"]["fields"]["url"][0]
