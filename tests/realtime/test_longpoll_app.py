"""The lean long-poll path (push/longpoll_app.py): it refuses what Django's middleware chain refused,
answers with the same shapes and headers, and a poll woken by a carried message stays off the database thread.
"""
from __future__ import annotations

import asyncio

import httpx
import pytest
from asgiref.sync import SyncToAsync, sync_to_async
from django.middleware.csrf import _mask_cipher_secret  # noqa: PLC2701 - to build a masked token as browsers get it
from django_scopes import scopes_disabled

from push import longpoll
from support.models import Membership
from tests.realtime.conftest import SITE, application, poll_waiting, session_cookie
from tests.realtime.test_longpoll import CSRF, apost, as_agent, first_poll, start, vpost
from tests.realtime.test_visitor_socket import agent_posts

pytestmark = pytest.mark.django_db(transaction=True)


def client(base_url: str = "http://testserver") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application()), base_url=base_url)


async def test_wrong_method_is_405_with_allow(world, http):
    for path in ("/rt/visitor/poll", "/rt/visitor/send", "/rt/agent/poll", "/rt/agent/send"):
        response = await http.get(path)
        assert (response.status_code, response.headers["allow"]) == (405, "POST")
        assert response.json()["error"]["code"] == "method_not_allowed"


async def test_a_host_not_in_allowed_hosts_is_refused(world, http):
    token, _ = await start(http, world)
    response = await http.post("/rt/visitor/poll", json={"token": token, "cursor": None},
                               headers={"Origin": SITE, "Host": "evil.example"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "bad_host")


async def test_every_answer_has_the_security_headers(world, http):
    token, _ = await start(http, world)
    for response in (
        await http.post("/rt/visitor/poll", json={"token": token, "cursor": None}, headers={"Origin": SITE}),
        await http.post("/rt/visitor/poll", content=b"{bad", headers={"Origin": SITE}),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["content-type"] == "application/json"


async def test_over_https_hsts_is_sent_and_plain_http_is_refused_when_redirecting(world, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_SSL_REDIRECT = True
    async with client("https://testserver") as https:
        token, _ = await start(https, world)
        response = await https.post("/rt/visitor/poll", json={"token": token, "cursor": None},
                                    headers={"Origin": SITE})
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=3600")
    async with client() as plain:
        response = await plain.post("/rt/visitor/poll", json={"token": token, "cursor": None},
                                    headers={"Origin": SITE})
        assert (response.status_code, response.json()["error"]["code"]) == (403, "https_required")


async def test_an_oversized_body_is_refused_before_it_is_read(world, http, settings):
    token, _ = await start(http, world)
    limit = settings.RT_LONGPOLL_BODY_MAX_BYTES
    declared = await http.post("/rt/visitor/send", content=b"{}", headers={
        "Origin": SITE, "Content-Type": "application/json", "Content-Length": str(limit + 1)})
    assert (declared.status_code, declared.json()["error"]["code"]) == (413, "too_large")

    async def chunks():  # no Content-Length: counted as it streams in
        yield b'{"token": "' + token.encode() + b'", "pad": "'
        for _ in range(limit // 4096 + 1):
            yield b"x" * 4096
        yield b'"}'

    streamed = await http.post("/rt/agent/send", content=chunks(), headers={"Origin": SITE})
    assert (streamed.status_code, streamed.json()["error"]["code"]) == (413, "too_large")
    just_fits = {"token": token, "frames": [], "pad": "x" * (limit - 1000)}
    status, data = await vpost(http, "send", just_fits)
    assert (status, data) == (200, {"frames": []})


async def test_agent_csrf_token_must_match_the_cookie_masked_or_not(world, http):
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None}, csrf=False)
    assert (status, data["error"]["code"]) == (403, "csrf_failed")
    for token, expected in ((CSRF, 200), (_mask_cipher_secret(CSRF), 200), ("b" * 32, 403), ("short", 403)):
        response = await http.post("/rt/agent/poll", json={"cursor": None},
                                   headers={"Origin": "http://testserver", "X-CSRFToken": token})
        assert response.status_code == expected, token
    http.cookies.delete("csrftoken")
    status, data = await apost(http, "poll", {"cursor": None})  # header without a cookie
    assert (status, data["error"]["code"]) == (403, "csrf_failed")


async def test_agent_origin_and_referer_are_checked(world, http, settings):
    await as_agent(http, world.agent)
    headers = {"X-CSRFToken": CSRF}
    evil = await http.post("/rt/agent/poll", json={"cursor": None}, headers={**headers, "Origin": "https://evil.example"})
    assert (evil.status_code, evil.json()["error"]["code"]) == (403, "csrf_failed")
    site = await http.post("/rt/agent/poll", json={"cursor": None}, headers={**headers, "Origin": SITE})
    assert site.status_code == 403  # a visitor origin of the tenant is not the dashboard
    settings.CSRF_TRUSTED_ORIGINS = ["https://dash.example"]
    trusted = await http.post("/rt/agent/poll", json={"cursor": None},
                              headers={**headers, "Origin": "https://dash.example"})
    assert trusted.status_code == 200
    async with client("https://testserver") as https:
        https.cookies.set("sessionid", http.cookies["sessionid"])
        https.cookies.set("csrftoken", CSRF)
        # Over HTTPS a request without Origin needs a Referer of this site.
        bare = await https.post("/rt/agent/poll", json={"cursor": None}, headers=headers)
        assert bare.status_code == 403
        foreign = await https.post("/rt/agent/poll", json={"cursor": None},
                                   headers={**headers, "Referer": "https://evil.example/page"})
        assert foreign.status_code == 403
        own = await https.post("/rt/agent/poll", json={"cursor": None},
                               headers={**headers, "Referer": "https://testserver/app/"})
        assert own.status_code == 200


async def test_visitor_origin_must_be_allowed_for_send_and_poll(world, http):
    token, conv_id = await start(http, world)
    for path, body in (("send", {"token": token, "frames": [{"type": "ping"}]}),
                       ("poll", {"token": token, "cursor": None})):
        status, data = await vpost(http, path, body, origin="https://evil.example")
        assert (status, data["error"]["code"]) == (403, "origin_forbidden")
        response = await http.post(f"/rt/visitor/{path}", json=body)  # no Origin at all
        assert response.status_code == 403


async def test_unauthenticated_and_signed_out_agents_get_401(world, http):
    http.cookies.set("csrftoken", CSRF)
    http.cookies.set("sessionid", "no-such-session")
    status, data = await apost(http, "send", {"frames": []})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")
    await as_agent(http, world.agent)
    status, _ = await apost(http, "send", {"frames": []})
    assert status == 200

    def change_password():
        user = world.agent.user
        user.set_password("another-Secret-9")
        user.save()

    await sync_to_async(change_password)()  # every session of that user ends, as in Django
    status, data = await apost(http, "send", {"frames": []})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")


async def test_the_tenant_chosen_in_the_session_is_used_and_its_cursor_stays_its_own(world, outsider, http):
    def join_outsider() -> Membership:
        with scopes_disabled():
            return Membership.objects.create(tenant=outsider.tenant, user=world.agent.user,
                                             role=Membership.Role.AGENT)

    second = await sync_to_async(join_outsider)()
    cookie = await sync_to_async(session_cookie)(world.agent, tenant_public_id=outsider.tenant.public_id)
    http.cookies.set("sessionid", cookie)
    http.cookies.set("csrftoken", CSRF)
    status, data = await apost(http, "poll", {"cursor": None})
    assert status == 200 and data["frames"][0]["you"]["id"] == second.public_id
    outsider_cursor = data["cursor"]
    _, theirs = await start(http, world)  # a conversation of the first tenant: not visible here
    status, data = await apost(http, "poll", {"cursor": outsider_cursor, "frames": [
        {"type": "subscribe", "conversation": theirs, "last_seq": 0}]})
    assert [f.get("code") for f in data["frames"] if f["type"] == "error"] == ["not_found"]
    status, data = await apost(http, "send", {"frames": [
        {"type": "send", "conversation": theirs, "client_id": "x", "body": "leak?"}]})
    assert [f.get("code") for f in data["frames"]] == ["not_found"]

    await as_agent(http, world.agent)  # now signed in to the first tenant: the other cursor is refused
    status, data = await apost(http, "poll", {"cursor": outsider_cursor})
    assert (status, data["error"]["code"]) == (400, "bad_cursor")


async def test_other_paths_under_rt_still_go_through_django(world, http):
    response = await http.get("/rt/visitor/attachments/nope", headers={"X-Visitor-Token": "forged"})
    assert response.status_code in (401, 404)
    assert (await http.get("/healthz")).json() == {"ok": True}
    assert (await http.post("/rt/visitor/poll/", json={})).status_code == 404  # not ours, not Django's either


@pytest.fixture
def database_trips(monkeypatch):
    """Every hop to a thread (the database thread or a worker: sync_to_async), with the task that made it."""
    trips: list[tuple[asyncio.Task | None, str]] = []
    original = SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        trips.append((asyncio.current_task(), getattr(self.func, "__qualname__", repr(self.func))))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting)
    return trips


async def test_a_poll_woken_by_a_carried_message_makes_no_database_trip(world, http, database_trips):
    token, conv_id = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    poll = asyncio.create_task(vpost(http, "poll", {"token": token, "cursor": cursor}))
    await poll_waiting()
    # Two trips before waiting: the request's own (who, the limit, the cursor's restore and catch-up),
    # then the read after subscribing (a change between the two would otherwise wait for the next poll).
    assert len([name for task, name in database_trips if task is poll]) == 2
    mark = len(database_trips)
    await sync_to_async(agent_posts)(world, conv_id, "live")
    status, data = await poll
    assert [f["message"]["body"] for f in data["frames"]] == ["live"]
    assert [name for task, name in database_trips[mark:] if task is poll] == []


async def test_an_agent_poll_woken_by_a_visitor_message_makes_no_database_trip(world, http, database_trips):
    token, conv_id = await start(http, world)
    await as_agent(http, world.agent)
    status, data = await apost(http, "poll", {"cursor": None, "hello": {"type": "hello", "resume": {conv_id: 1}}})
    status, data = await apost(http, "poll", {"cursor": data["cursor"]})  # the inbox row of the first message
    cursor = data["cursor"]
    poll = asyncio.create_task(apost(http, "poll", {"cursor": cursor}))
    await poll_waiting()
    # One trip: the previous poll's groups lingered subscribed and quiet, so no re-read.
    assert len([name for task, name in database_trips if task is poll]) == 1
    mark = len(database_trips)
    status, sent = await vpost(http, "send", {"token": token, "frames": [
        {"type": "send", "conversation": conv_id, "client_id": "c-2", "body": "more"}]})
    assert sent["frames"][0]["type"] == "ack"
    status, data = await poll
    assert [f["message"]["body"] for f in data["frames"] if f["type"] == "message"] == ["more"]
    assert [name for task, name in database_trips[mark:] if task is poll] == []


def agent_posts_after_the_read(monkeypatch, world, conv_id: str, body: str):
    """Make the next polls' ``longpoll._start`` post ``body`` as the agent right after its read (before
    the poll waits or answers); the real ``_start``, to put back."""
    real = longpoll._start

    def start_then_post(*args, **kwargs):
        started = real(*args, **kwargs)
        agent_posts(world, conv_id, body)
        return started

    monkeypatch.setattr(longpoll, "_start", start_then_post)
    return real


async def test_a_change_after_the_first_read_and_before_waiting_is_still_answered(world, http, monkeypatch):
    """The re-read is skipped only when the hub saw nothing for the poll's groups since its read began."""
    token, conv_id = await start(http, world)
    cursor = (await first_poll(http, token))["cursor"]
    agent_posts_after_the_read(monkeypatch, world, conv_id, "between")  # after this poll's read, before it waits
    status, data = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert [f["message"]["body"] for f in data["frames"] if f["type"] == "message"] == ["between"]
