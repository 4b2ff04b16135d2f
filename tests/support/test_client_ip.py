"""The client address behind a load balancer: X-Forwarded-For counts only from trusted proxies.

These tests drive the application exactly as ``manage.py serve`` hands it to uvicorn (which applies
``FORWARDED_ALLOW_IPS`` itself, config/forwarded.py, with uvicorn's proxy-headers middleware off),
with the TCP peer chosen per request, and watch the sign-in throttle (HTTP) and the per-IP send
limit (WebSocket) key on it.
"""
from __future__ import annotations

import io
import json
import re
from typing import Any

import httpx
import pytest
import uvicorn
from asgiref.sync import sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.core.management import call_command

from push.presence_store import MemoryStore, set_store
from support.management.commands.serve import DrainingServer
from support.services.visitors import bootstrap_visitor

pytestmark = pytest.mark.django_db(transaction=True)

UNTRUSTED_PEER = "198.51.100.7"
PROXY = "10.0.0.2"
SITE = "https://site.example"


@pytest.fixture
def served(monkeypatch, settings):
    """Returns ``build()``: the ASGI app as ``manage.py serve`` would run it, for the current settings."""
    settings.CELERY_EMBEDDED_WORKER = False
    settings.LOGIN_ATTEMPTS_PER_15_MIN = 2
    channel_layers.backends.clear()
    set_store(MemoryStore())

    def build() -> Any:
        captured: dict[str, Any] = {}
        monkeypatch.setattr(DrainingServer, "run", lambda server, sockets=None: captured.update(config=server.config))
        call_command("serve", stdout=io.StringIO())
        config: uvicorn.Config = captured["config"]
        assert not config.proxy_headers  # the app's own rules only, not a second reading by uvicorn
        config.load()
        return config.loaded_app

    yield build
    set_store(None)


async def login_status(app: Any, *, peer: str, forwarded_for: str | None, email: str) -> int:
    """One failed sign-in from ``peer`` (a fresh browser each time); the HTTP status."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
        page = await http.get("/accounts/login/")
        assert page.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token is not None
        response = await http.post("/accounts/login/", data={
            "csrfmiddlewaretoken": token.group(1), "username": email, "password": "wrong-password",
        })
    return response.status_code


async def test_a_spoofed_header_from_an_untrusted_peer_changes_nothing(world, served):
    app = served()
    statuses = [
        await login_status(app, peer=UNTRUSTED_PEER, forwarded_for=f"203.0.113.{i}", email=f"u{i}@example.com")
        for i in range(3)
    ]
    # Different claimed clients and emails each time: only the peer's own address can trip it.
    assert statuses == [400, 400, 429]
    assert await login_status(app, peer="198.51.100.8", forwarded_for="203.0.113.0", email="u9@example.com") == 400


async def test_the_default_trusts_only_a_proxy_on_the_same_host(world, served):
    app = served()
    for i in range(2):
        assert await login_status(app, peer="127.0.0.1", forwarded_for="203.0.113.5", email=f"a{i}@example.com") == 400
    # Through the local proxy, another client is another address...
    assert await login_status(app, peer="127.0.0.1", forwarded_for="203.0.113.6", email="b@example.com") == 400
    # ...and the throttled one stays throttled.
    assert await login_status(app, peer="127.0.0.1", forwarded_for="203.0.113.5", email="c@example.com") == 429


async def test_a_trusted_proxy_gives_the_clients_address(world, served, settings):
    settings.FORWARDED_ALLOW_IPS = ["10.0.0.0/8"]
    app = served()
    for i in range(2):
        assert await login_status(app, peer=PROXY, forwarded_for="203.0.113.1", email=f"x{i}@example.com") == 400
    assert await login_status(app, peer=PROXY, forwarded_for="203.0.113.1", email="y@example.com") == 429
    # The proxy itself is not throttled: its other clients go on.
    assert await login_status(app, peer=PROXY, forwarded_for="203.0.113.2", email="z@example.com") == 400
    # A client forging the header through a proxy that appends: the proxy's entry (right-most
    # untrusted) counts, not the forged one.
    assert await login_status(app, peer=PROXY, forwarded_for="192.0.2.77, 203.0.113.1", email="w@example.com") == 429
    # A chain of trusted proxies is skipped from the right.
    assert await login_status(app, peer=PROXY, forwarded_for="203.0.113.1, 10.9.9.9", email="v@example.com") == 429
    # Without the setting the same proxy is an ordinary peer again.
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1"]
    plain = served()
    for i in range(2):
        status = await login_status(plain, peer=PROXY, forwarded_for=f"203.0.113.{20 + i}", email=f"p{i}@example.com")
        assert status == 400
    assert await login_status(plain, peer=PROXY, forwarded_for="203.0.113.30", email="q@example.com") == 429


async def test_ipv6_clients_count_by_their_64(world, served):
    app = served()
    assert await login_status(app, peer="2001:db8::1", forwarded_for=None, email="m1@example.com") == 400
    assert await login_status(app, peer="2001:db8::ffff:2", forwarded_for=None, email="m2@example.com") == 400
    assert await login_status(app, peer="2001:db8::3", forwarded_for=None, email="m3@example.com") == 429
    assert await login_status(app, peer="2001:db8:0:1::1", forwarded_for=None, email="m4@example.com") == 400


async def send_from(app: Any, token: str, *, peer: str, forwarded_for: str) -> dict[str, Any]:
    """Open a visitor socket from ``peer``, send one message; the answer frame."""
    comm = WebsocketCommunicator(app, "/ws/visitor/", headers=[
        (b"origin", SITE.encode()), (b"host", b"testserver"), (b"x-forwarded-for", forwarded_for.encode()),
    ])
    comm.scope["client"] = (peer, 40000)  # read when the app starts, at connect
    connected, _ = await comm.connect()
    assert connected
    try:
        await comm.send_to(text_data=json.dumps({"type": "hello", "token": token, "resume": {}}))
        await comm.send_to(text_data=json.dumps(
            {"type": "send", "conversation": None, "client_id": "c-1", "body": "hello"}))
        while True:
            frame = json.loads((await comm.receive_output(5))["text"])
            if frame["type"] in ("ack", "error"):
                return frame
    finally:
        await comm.disconnect()


async def test_sockets_key_per_ip_limits_the_same_way(world, served, settings):
    settings.RT_IP_SENDS_PER_MINUTE = 1
    settings.FORWARDED_ALLOW_IPS = ["10.0.0.0/8"]
    app = served()
    tokens = [await sync_to_async(lambda: bootstrap_visitor(tenant=world.tenant).token)() for _ in range(4)]
    # Two visitors from one untrusted peer, each claiming another address: one address, one send.
    first = await send_from(app, tokens[0], peer=UNTRUSTED_PEER, forwarded_for="203.0.113.1")
    second = await send_from(app, tokens[1], peer=UNTRUSTED_PEER, forwarded_for="203.0.113.2")
    assert first["type"] == "ack"
    assert (second["type"], second["code"]) == ("error", "rate_limited")
    # Two visitors behind the trusted proxy are two addresses.
    third = await send_from(app, tokens[2], peer=PROXY, forwarded_for="203.0.113.1")
    fourth = await send_from(app, tokens[3], peer=PROXY, forwarded_for="203.0.113.2")
    assert (third["type"], fourth["type"]) == ("ack", "ack")


@pytest.mark.parametrize(("value", "message"), [
    ("10.0.0.0/8,bogus", "FORWARDED_ALLOW_IPS must list IP addresses or networks"),
    ("*,10.0.0.1", "FORWARDED_ALLOW_IPS is either * alone"),
])
def test_bad_proxy_lists_stop_the_process(value, message):
    from tests.support.test_settings import run_manage

    result = run_manage("check", env={"FORWARDED_ALLOW_IPS": value})
    assert result.returncode != 0
    assert message in result.stderr


async def test_per_ip_realtime_limits_count_an_ipv6_client_by_its_64(world, served, settings):
    settings.RT_IP_SENDS_PER_MINUTE = 1
    app = served()
    tokens = [await sync_to_async(lambda: bootstrap_visitor(tenant=world.tenant).token)() for _ in range(4)]
    # Rotating addresses inside one /64 is one client (the header is ignored: untrusted peers).
    first = await send_from(app, tokens[0], peer="2001:db8:0:7::1", forwarded_for="203.0.113.1")
    second = await send_from(app, tokens[1], peer="2001:db8:0:7:abcd::2", forwarded_for="203.0.113.1")
    assert first["type"] == "ack"
    assert (second["type"], second["code"]) == ("error", "rate_limited")
    # The next /64 is another client; IPv4 addresses still count one by one.
    assert (await send_from(app, tokens[2], peer="2001:db8:0:8::1", forwarded_for="203.0.113.1"))["type"] == "ack"
    assert (await send_from(app, tokens[3], peer="192.0.2.10", forwarded_for="203.0.113.1"))["type"] == "ack"


async def test_per_ip_long_poll_limits_count_an_ipv6_client_by_its_64(world, served, settings):
    settings.RT_IP_POLLS_PER_MINUTE = 1
    app = served()
    token = await sync_to_async(lambda: bootstrap_visitor(tenant=world.tenant).token)()

    async def send(peer: str) -> int:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post("/rt/visitor/send", json={"token": token, "frames": []},
                                       headers={"Origin": SITE})
        return response.status_code

    assert await send("2001:db8:0:9::1") == 200
    assert await send("2001:db8:0:9::ffff") == 429
    assert await send("2001:db8:0:a::1") == 200
    assert await send("::ffff:192.0.2.20") == 200
    assert await send("192.0.2.20") == 429  # the same IPv4 client, however it is spelled


@pytest.mark.parametrize(("raw", "group"), [
    ("192.0.2.1", "192.0.2.1"),
    ("::ffff:192.0.2.1", "192.0.2.1"),
    ("2001:db8::1", "2001:db8::/64"),
    ("2001:0db8:0000:0000:ffff:ffff:ffff:ffff", "2001:db8::/64"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", "unknown"),
    (None, "unknown"),
    ("not-an-address", "unknown"),
])
def test_one_address_grouping_for_every_limit(raw, group):
    from support.client_address import address_group

    assert address_group(raw) == group


@pytest.mark.parametrize(("client", "group"), [
    (("2001:db8:0:7::1", 50000), "2001:db8:0:7::/64"),
    (("2001:db8:0:7:ffff::9", 50001), "2001:db8:0:7::/64"),  # another address of the same /64
    (("2001:db8:0:8::1", 50000), "2001:db8:0:8::/64"),  # the next /64 is another client
    (("::ffff:203.0.113.5", 1), "203.0.113.5"),
    (None, "unknown"),  # a Unix socket or a test scope has no peer
])
def test_sockets_group_their_peer_like_requests(client, group):
    from django.test import RequestFactory

    from support.client_address import request_address_group, scope_address_group

    assert scope_address_group({"type": "websocket", "client": client}) == group
    request = RequestFactory().get("/", REMOTE_ADDR=client[0] if client else "")
    assert request_address_group(request) == group


@pytest.mark.parametrize(("raw", "address"), [
    ("::ffff:10.1.2.3", "10.1.2.3"), ("2001:db8::1", "2001:db8::1"), ("10.1.2.3", "10.1.2.3"), ("", None),
    ("10.1.2", None),
])
def test_the_metrics_allowlist_reads_the_same_address(raw, address, settings):
    """/metrics checks the address itself (not its /64) against METRICS_ALLOWED_IPS."""
    import ipaddress

    from django.test import RequestFactory

    from config.observability.metrics import scraper_allowed
    from support.client_address import client_address

    assert client_address(raw) == (ipaddress.ip_address(address) if address else None)
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_IPS = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::1/128")]
    request = RequestFactory().get("/metrics", REMOTE_ADDR=raw)
    assert scraper_allowed(request) is (address is not None)
