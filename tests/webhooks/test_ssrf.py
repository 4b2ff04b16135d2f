"""Webhook targets: only http(s), never internal addresses — checked on save and again on send."""
from __future__ import annotations

import socket

import pytest
from django_scopes import scope

from push.models import WebhookDelivery
from push.webhooks import delivery as engine
from push.webhooks import services, ssrf
from support.errors import ValidationFailed
from support.events.dispatcher import drain
from support.models import Message
from support.services.conversations import start_conversation
from support.services.messages import post_message

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture
def production(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Resolve the given names to the given addresses (no network); anything else as usual."""
    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in answers[host]
            ]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def deliver_a_visitor_message(world, endpoint) -> WebhookDelivery:
    """Post a visitor message, run the outbox and one delivery round; the endpoint's one delivery."""
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type=Message.Author.CONTACT, body="hi")
    drain()
    engine.deliver_due()
    with scope(tenant=world.tenant):
        [delivery] = WebhookDelivery.objects.filter(endpoint=endpoint)
    return delivery


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook",
    "http://localhost/hook",
    "http://10.1.2.3/hook",
    "http://172.16.0.5/hook",
    "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[fe80::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://224.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://100.64.0.1/hook",
    "http://240.0.0.1/hook",
])
def test_internal_targets_are_refused(world, production, url):
    with pytest.raises(ValidationFailed) as refused:
        services.create_endpoint(tenant=world.tenant, url=url, event_types=["*"])
    assert refused.value.code == "unsafe_url"


@pytest.mark.parametrize("url, message", [
    ("ftp://hooks.example.com/x", "Only http and https"),
    ("file:///etc/passwd", "Only http and https"),
    ("javascript:alert(1)", "Only http and https"),
    ("https://user:secret@hooks.example.com/x", "Credentials"),
    ("https:///nohost", "no host"),
    ("", "required"),
    ("https://hooks.example.com:99999/x", "Not a valid URL"),
])
def test_malformed_urls_are_refused_with_a_reason(world, production, url, message):
    with pytest.raises(ValidationFailed) as refused:
        services.create_endpoint(tenant=world.tenant, url=url, event_types=["*"])
    assert message in refused.value.detail


def test_a_name_resolving_to_any_private_address_is_refused(world, production, monkeypatch):
    fake_dns(monkeypatch, {"mixed.example.com": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(ValidationFailed, match="10.0.0.7"):
        services.create_endpoint(tenant=world.tenant, url="https://mixed.example.com/x", event_types=["*"])


def test_public_targets_are_accepted(world, production, monkeypatch):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]})
    endpoint = services.create_endpoint(
        tenant=world.tenant, url="https://hooks.example.com/x", event_types=["message.created", "message.created"]
    )
    assert endpoint.is_active and endpoint.event_types == ["message.created"]
    assert endpoint.secret.startswith("whsec_")


def test_dns_rebinding_is_caught_at_send_time(world, production, monkeypatch, receiver):
    fake_dns(monkeypatch, {"hooks.example.com": ["93.184.216.34"]})
    endpoint = services.create_endpoint(
        tenant=world.tenant, url=f"http://hooks.example.com:{receiver.port}/x", event_types=["message.created"]
    )
    # After the check on save the name now answers with a loopback address.
    fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    delivery = deliver_a_visitor_message(world, endpoint)
    assert receiver.requests == []
    assert delivery.attempts == 1 and delivery.status == WebhookDelivery.Status.PENDING
    assert "127.0.0.1" in delivery.last_error and "private" in delivery.last_error


def test_the_request_goes_to_the_checked_address_with_the_original_host(world, monkeypatch, receiver):
    # Allowed here (tests' setting) so the checked address can be our local receiver.
    fake_dns(monkeypatch, {"hooks.example.com": ["127.0.0.1"]})
    endpoint = services.create_endpoint(
        tenant=world.tenant, url=f"http://hooks.example.com:{receiver.port}/in?x=1", event_types=["*"]
    )
    delivery = services.send_test_ping(endpoint=endpoint)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.example.com:{receiver.port}"
    assert request.path == "/in?x=1"


def test_redirects_are_not_followed(world, receiver):
    receiver.default_status = 302
    endpoint = services.create_endpoint(tenant=world.tenant, url=receiver.url, event_types=["*"])
    delivery = services.send_test_ping(endpoint=endpoint)
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.last_response_code == 302
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("127.0.0.1", False), ("::1", False),
    ("10.0.0.1", False), ("169.254.1.1", False), ("fe80::1%eth0", False), ("::ffff:10.0.0.1", False),
    ("fc00::1", False), ("ff02::1", False), ("198.18.0.1", False), ("192.0.2.1", False),
])
def test_public_address_classification(address, public):
    assert ssrf.is_public_address(address) is public


def test_bad_event_types_and_updates_keep_the_endpoint_unchanged(world, receiver):
    with pytest.raises(ValidationFailed) as refused:
        services.create_endpoint(tenant=world.tenant, url=receiver.url, event_types=["message.craeted"])
    assert refused.value.code == "invalid_event_types"
    with pytest.raises(ValidationFailed):
        services.create_endpoint(tenant=world.tenant, url=receiver.url, event_types=[])
    endpoint = services.create_endpoint(tenant=world.tenant, url=receiver.url, event_types=["*"])
    with pytest.raises(ValidationFailed):
        services.update_endpoint(endpoint=endpoint, url="gopher://x", event_types=["message.created"])
    with scope(tenant=world.tenant):
        endpoint.refresh_from_db()
    assert endpoint.url == receiver.url and endpoint.event_types == ["*"]
    old_secret = endpoint.secret
    endpoint = services.update_endpoint(endpoint=endpoint, rotate_secret=True, event_types=["message.created"])
    assert endpoint.secret != old_secret and endpoint.event_types == ["message.created"]


@pytest.mark.parametrize(("errno", "says"), [
    (socket.EAI_NONAME, "was not found; check the address for typos"),
    (socket.EAI_AGAIN, "could not be looked up right now"),
    (socket.EAI_FAIL, "could not be looked up"),
])
def test_a_failed_look_up_is_explained_without_raw_errno(world, monkeypatch, errno, says):
    def getaddrinfo(host, port, *args, **kwargs):
        raise socket.gaierror(errno, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with pytest.raises(ValidationFailed) as refused:
        services.create_endpoint(tenant=world.tenant, url="https://hooks.nowhere.example/in", event_types=["*"])
    assert refused.value.detail.startswith(f"The host 'hooks.nowhere.example' {says}")
    assert "Errno" not in refused.value.detail
