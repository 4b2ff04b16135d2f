"""A rotated SECRET_KEY (the old one in SECRET_KEY_FALLBACKS) keeps agents signed in on both realtime
transports: Django's ``get_user`` moves a session verified by a fallback secret to a new key, and the
long-poll answer / the agent socket's handshake response hand the browser that key's cookie
(push/agent_auth.py, ``set_renewed_cookie``)."""
from __future__ import annotations

import json
from http.cookies import SimpleCookie

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore

from tests.realtime.conftest import DASHBOARD, Socket, application, real_server, session_cookie
from tests.realtime.test_longpoll import CSRF, apost

pytestmark = pytest.mark.django_db(transaction=True)

JAR_DOMAIN = "testserver.local"
NEW_SECRET = "rotated-secret-key-for-tests-0123456789-abcdefghijklmnopqrstuvwxyz"


def rotate(settings) -> None:
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = NEW_SECRET


async def login(membership) -> str:
    return await sync_to_async(session_cookie)(membership)


def session_exists(key: str) -> bool:
    return SessionStore().exists(key)


def parsed(set_cookie: str) -> SimpleCookie:
    cookie = SimpleCookie()
    cookie.load(set_cookie)
    return cookie


def assert_session_middlewares_attributes(set_cookie: str) -> str:
    """The cookie's value (the new key), its attributes checked against SessionMiddleware's."""
    morsel = parsed(set_cookie)[django_settings.SESSION_COOKIE_NAME]
    assert morsel["max-age"] == str(django_settings.SESSION_COOKIE_AGE)
    assert morsel["expires"]
    assert morsel["path"] == django_settings.SESSION_COOKIE_PATH
    assert morsel["samesite"] == django_settings.SESSION_COOKIE_SAMESITE
    assert morsel["httponly"] is True
    assert bool(morsel["secure"]) == bool(django_settings.SESSION_COOKIE_SECURE)
    assert morsel["domain"] == (django_settings.SESSION_COOKIE_DOMAIN or "")
    return morsel.value


async def handshake(key: str) -> tuple[WebsocketCommunicator, dict]:
    """An agent socket's handshake with the session cookie ``key``: the communicator and its accept message."""
    headers = [(b"origin", DASHBOARD.encode()), (b"host", b"testserver"),
               (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={key}".encode())]
    comm = WebsocketCommunicator(application(), "/ws/agent/", headers=headers)
    await comm.send_input({"type": "websocket.connect"})
    accept = await comm.receive_output(5)
    assert accept["type"] == "websocket.accept", accept
    return comm, accept


def set_cookies(accept: dict) -> list[str]:
    return [value.decode("ascii") for name, value in accept.get("headers", []) if name.lower() == b"set-cookie"]


async def welcomed(comm: WebsocketCommunicator, agent) -> None:
    sock = Socket(comm)
    await sock.send({"type": "hello"})
    assert (await sock.recv_type("welcome"))["you"]["id"] == agent.public_id
    await sock.close()


async def test_the_long_poll_answer_hands_over_the_new_session_key(world, http, settings):
    old_key = await login(world.agent)
    rotate(settings)
    http.cookies.set("csrftoken", CSRF)
    # Where the client keeps cookies of this host (httpx's name for it), so the answer's cookie replaces it.
    http.cookies.set(settings.SESSION_COOKIE_NAME, old_key, domain=JAR_DOMAIN)
    response = await http.post("/rt/agent/send", json={"frames": []},
                               headers={"Origin": DASHBOARD, "X-CSRFToken": CSRF})
    assert response.status_code == 200, response.text
    [set_cookie] = response.headers.get_list("set-cookie")
    new_key = assert_session_middlewares_attributes(set_cookie)
    assert new_key != old_key
    assert not await sync_to_async(session_exists)(old_key)  # get_user deleted it: the old cookie signs nobody in
    # The client kept the new cookie: its next request is signed in, with no further cookie.
    assert http.cookies[settings.SESSION_COOKIE_NAME] == new_key
    response = await http.post("/rt/agent/send", json={"frames": []},
                               headers={"Origin": DASHBOARD, "X-CSRFToken": CSRF})
    assert response.status_code == 200, response.text
    assert "set-cookie" not in response.headers
    # The old cookie no longer signs in.
    http.cookies.set(settings.SESSION_COOKIE_NAME, old_key, domain=JAR_DOMAIN)
    status, data = await apost(http, "send", {"frames": []})
    assert (status, data["error"]["code"]) == (401, "unauthenticated")


async def test_a_long_poll_answer_sets_no_cookie_when_the_session_is_unchanged(world, http):
    http.cookies.set("csrftoken", CSRF)
    http.cookies.set("sessionid", await login(world.agent))
    response = await http.post("/rt/agent/poll", json={"cursor": None, "hello": {"type": "hello"}},
                               headers={"Origin": DASHBOARD, "X-CSRFToken": CSRF})
    assert response.status_code == 200, response.text
    assert response.json()["frames"][0]["type"] == "welcome"
    assert "set-cookie" not in response.headers
    http.cookies.set("sessionid", "no-such-session")  # anonymous: refused, and no cookie either
    response = await http.post("/rt/agent/send", json={"frames": []},
                               headers={"Origin": DASHBOARD, "X-CSRFToken": CSRF})
    assert response.status_code == 401
    assert "set-cookie" not in response.headers


async def test_the_cookie_follows_session_expire_at_browser_close(world, http, settings):
    old_key = await login(world.agent)
    rotate(settings)
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    http.cookies.set("csrftoken", CSRF)
    http.cookies.set(settings.SESSION_COOKIE_NAME, old_key)
    response = await http.post("/rt/agent/send", json={"frames": []},
                               headers={"Origin": DASHBOARD, "X-CSRFToken": CSRF})
    [set_cookie] = response.headers.get_list("set-cookie")
    morsel = parsed(set_cookie)[settings.SESSION_COOKIE_NAME]
    assert (morsel["max-age"], morsel["expires"]) == ("", "")  # a browser-session cookie, as Django sets it
    assert morsel.value != old_key


async def test_the_socket_handshake_hands_over_the_new_session_key(world, settings):
    old_key = await login(world.agent)
    rotate(settings)
    comm, accept = await handshake(old_key)
    [set_cookie] = set_cookies(accept)
    new_key = assert_session_middlewares_attributes(set_cookie)
    assert new_key != old_key
    await welcomed(comm, world.agent)
    assert not await sync_to_async(session_exists)(old_key)
    # That cookie then signs the agent in, and needs no renewal.
    comm, accept = await handshake(new_key)
    assert set_cookies(accept) == []
    await welcomed(comm, world.agent)
    # The old one does not.
    comm, accept = await handshake(old_key)
    sock = Socket(comm)
    assert (await sock.recv())["code"] == "unauthenticated"
    assert await sock.closed_code() == 4401


async def test_the_socket_handshake_sets_no_cookie_when_the_session_is_unchanged(world):
    comm, accept = await handshake(await login(world.agent))
    assert set_cookies(accept) == []
    assert "headers" not in accept
    await welcomed(comm, world.agent)


async def test_a_real_uvicorn_server_sends_the_cookie_in_the_handshake_response(world, settings):
    """uvicorn (with ``manage.py serve``'s protocol) puts the accept's headers in the HTTP 101 response."""
    import websockets

    old_key = await login(world.agent)
    rotate(settings)
    async with real_server() as (_server, port):
        origin = f"http://127.0.0.1:{port}"
        cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={old_key}"}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/agent/", origin=origin,
                                      additional_headers=cookie) as ws:
            [set_cookie] = ws.response.headers.get_all("Set-Cookie")
            new_key = assert_session_middlewares_attributes(set_cookie)
            await ws.send(json.dumps({"type": "hello"}))
            assert json.loads(await ws.recv())["type"] == "welcome"
        cookie = {"Cookie": f"{settings.SESSION_COOKIE_NAME}={new_key}"}
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/agent/", origin=origin,
                                      additional_headers=cookie) as ws:
            assert ws.response.headers.get_all("Set-Cookie") == []
            await ws.send(json.dumps({"type": "hello"}))
            assert json.loads(await ws.recv())["type"] == "welcome"
