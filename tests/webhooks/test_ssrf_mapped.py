"""SSRF: IPv6 addresses that carry an IPv4 address are judged by that IPv4 address.

6to4, NAT64, Teredo, IPv4-mapped and IPv4-compatible addresses, literal or from DNS, at create,
update and send time. Which forms are refused even with a public IPv4 inside: docs/operations.md
("SSRF").
"""
from __future__ import annotations

import pytest
from django_scopes import scope

from push.models import WebhookDelivery
from push.webhooks import services, ssrf
from support.errors import ValidationFailed
from tests.webhooks.test_ssrf import deliver_a_visitor_message, fake_dns

PUBLIC_V4 = "93.184.216.34"

# (address, the IPv4 it carries): every one must be refused.
PRIVATE_CARRIED = [
    ("2002:7f00:1::", "127.0.0.1"),  # 6to4
    ("2002:a9fe:a9fe::", "169.254.169.254"),
    ("2002:a00:1::", "10.0.0.1"),
    ("2002:c0a8:101:1::1", "192.168.1.1"),
    ("2002:6440:1::", "100.64.0.1"),
    ("2002:e000:1::", "224.0.0.1"),
    ("2002:f000:1::", "240.0.0.1"),
    ("2002::1", "0.0.0.0"),
    ("64:ff9b::7f00:1", "127.0.0.1"),  # NAT64, well-known prefix
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("64:ff9b::a00:1", "10.0.0.1"),
    ("64:ff9b:1::a00:1", ""),  # NAT64, local-use prefix
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),  # Teredo, client XOR-ed
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "10.0.0.1"),  # Teredo, private server
    ("::ffff:7f00:1", "127.0.0.1"),  # IPv4-mapped
    ("::ffff:a9fe:a9fe", "169.254.169.254"),
    ("::7f00:1", ""),  # IPv4-compatible
    ("::a00:1", ""),
]

# The same forms carrying the public 8.8.8.8: accepted where the IPv4 address decides,
# refused where the form itself is (local-use NAT64, Teredo, IPv4-compatible).
PUBLIC_CARRIED = [
    ("2002:808:808::", True),
    ("2002:808:808:1::1", True),
    ("64:ff9b::808:808", True),
    ("::ffff:808:808", True),
    ("64:ff9b:1::808:808", False),
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", False),
    ("::808:808", False),
]


@pytest.fixture
def production(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False


@pytest.mark.parametrize("address, carried", PRIVATE_CARRIED)
def test_private_ipv4_inside_ipv6_is_not_public(address, carried):
    assert ssrf.is_public_address(address) is False


@pytest.mark.parametrize("address, public", PUBLIC_CARRIED)
def test_public_ipv4_inside_ipv6_is_judged_by_its_form(address, public):
    assert ssrf.is_public_address(address) is public


def test_embedded_ipv4_decodes_each_form():
    import ipaddress
    assert ssrf.embedded_ipv4(ipaddress.IPv6Address("2002:a9fe:a9fe::")) == (ipaddress.IPv4Address("169.254.169.254"),)
    assert ssrf.embedded_ipv4(ipaddress.IPv6Address("64:ff9b::a00:1")) == (ipaddress.IPv4Address("10.0.0.1"),)
    server, client = ssrf.embedded_ipv4(ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:f5ff:fffe"))
    assert (str(server), str(client)) == ("65.54.227.120", "10.0.0.1")
    assert ssrf.embedded_ipv4(ipaddress.IPv6Address("2606:4700:4700::1111")) == ()


@pytest.mark.parametrize("address, carried", PRIVATE_CARRIED)
def test_create_refuses_literal_and_resolved_forms(world, production, monkeypatch, address, carried):
    with pytest.raises(ValidationFailed) as literal:
        services.create_endpoint(tenant=world.tenant, url=f"https://[{address}]/hook", event_types=["*"])
    assert literal.value.code == "unsafe_url"
    fake_dns(monkeypatch, {"hooks.example.com": [address]})
    with pytest.raises(ValidationFailed) as resolved:
        services.create_endpoint(tenant=world.tenant, url="https://hooks.example.com/hook", event_types=["*"])
    assert resolved.value.code == "unsafe_url"
    # The tenant is told which private IPv4 address the IPv6 one stands for.
    assert carried in resolved.value.detail


@pytest.mark.parametrize("address, public", PUBLIC_CARRIED)
def test_create_with_public_ipv4_inside(world, production, monkeypatch, address, public):
    fake_dns(monkeypatch, {"hooks.example.com": [address]})
    if public:
        endpoint = services.create_endpoint(tenant=world.tenant, url="https://hooks.example.com/x", event_types=["*"])
        assert endpoint.is_active
    else:
        with pytest.raises(ValidationFailed):
            services.create_endpoint(tenant=world.tenant, url="https://hooks.example.com/x", event_types=["*"])


@pytest.mark.parametrize("address, carried", PRIVATE_CARRIED)
def test_update_refuses_and_keeps_the_old_url(world, production, monkeypatch, address, carried):
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_V4], "evil.example.com": [address]})
    endpoint = services.create_endpoint(tenant=world.tenant, url="https://hooks.example.com/x", event_types=["*"])
    for url in (f"https://[{address}]/x", "https://evil.example.com/x"):
        with pytest.raises(ValidationFailed) as refused:
            services.update_endpoint(endpoint=endpoint, url=url)
        assert refused.value.code == "unsafe_url"
    with scope(tenant=world.tenant):
        endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.com/x"


@pytest.mark.parametrize("address", ["2002:7f00:1::", "64:ff9b::7f00:1", "::ffff:7f00:1",
                                     "2001:0:4136:e378:8000:63bf:80ff:fffe", "::7f00:1"])
def test_send_refuses_when_the_name_now_resolves_to_a_carried_private_address(
        world, production, monkeypatch, receiver, address):
    fake_dns(monkeypatch, {"hooks.example.com": [PUBLIC_V4]})
    endpoint = services.create_endpoint(
        tenant=world.tenant, url=f"http://hooks.example.com:{receiver.port}/x", event_types=["message.created"]
    )
    fake_dns(monkeypatch, {"hooks.example.com": [address]})
    delivery = deliver_a_visitor_message(world, endpoint)
    assert receiver.requests == []
    assert delivery.attempts == 1 and delivery.status == WebhookDelivery.Status.PENDING
    assert "private" in delivery.last_error and address in delivery.last_error
