"""The agent socket's login session, read by the socket itself at the handshake (push/agent_auth.py,
``login_session``, shared with long-poll): who is refused with 4401, and that no middleware frame
stays around the socket for its life."""
from __future__ import annotations

import datetime

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from push import hub
from push.consumers import AgentSocket
from tests.realtime.conftest import DASHBOARD, Socket, application, session_cookie
from tests.realtime.test_socket_memory import awaiting

pytestmark = pytest.mark.django_db(transaction=True)


async def agent_socket(cookie: str | None, *, origin: str = DASHBOARD) -> Socket:
    """An agent socket whose handshake carries ``cookie`` as its Cookie header; its hello is sent."""
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    comm = WebsocketCommunicator(application(), "/ws/agent/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    sock = Socket(comm)
    await sock.send({"type": "hello"})
    return sock


async def assert_refused(sock: Socket) -> None:
    frame = await sock.recv()
    assert (frame["type"], frame["code"]) == ("error", "unauthenticated"), frame
    assert await sock.closed_code() == 4401


async def login(membership) -> str:
    return await sync_to_async(session_cookie)(membership)


def session_exists(key: str) -> bool:
    return SessionStore().exists(key)


async def test_a_cookie_header_without_the_session_cookie_is_refused(world):
    await assert_refused(await agent_socket("csrftoken=abc; theme=dark"))


async def test_an_unknown_or_malformed_session_key_is_refused(world):
    await assert_refused(await agent_socket(f"{settings.SESSION_COOKIE_NAME}=no-such-session"))
    await assert_refused(await agent_socket(f"{settings.SESSION_COOKIE_NAME}=\"\\x00;;=="))


async def test_the_session_cookie_is_found_among_other_cookies(world):
    key = await login(world.agent)
    sock = await agent_socket(f"csrftoken=abc; {settings.SESSION_COOKIE_NAME}={key}; theme=dark")
    assert (await sock.recv_type("welcome"))["you"]["id"] == world.agent.public_id
    await sock.close()


async def test_an_expired_session_is_refused(world):
    key = await login(world.agent)

    def expire() -> None:
        session = SessionStore(key)
        session.set_expiry(datetime.timedelta(seconds=-1))
        session.save()

    await sync_to_async(expire)()
    await assert_refused(await agent_socket(f"{settings.SESSION_COOKIE_NAME}={key}"))


async def test_a_password_changed_after_login_ends_the_session(world):
    key = await login(world.agent)
    sock = await agent_socket(f"{settings.SESSION_COOKIE_NAME}={key}")
    await sock.recv_type("welcome")  # signed in until then
    await sock.close()

    def change_password() -> None:
        user = world.agent.user
        user.set_password("another-Secret-9")
        user.save()

    await sync_to_async(change_password)()
    await assert_refused(await agent_socket(f"{settings.SESSION_COOKIE_NAME}={key}"))
    # As Django's AuthenticationMiddleware would: the session whose hash no longer matches is flushed.
    assert not await sync_to_async(session_exists)(key)


async def test_an_inactive_user_is_refused(world):
    key = await login(world.agent)

    def deactivate() -> None:
        user = world.agent.user
        user.is_active = False
        user.save(update_fields=["is_active"])

    await sync_to_async(deactivate)()
    await assert_refused(await agent_socket(f"{settings.SESSION_COOKIE_NAME}={key}"))


async def test_a_foreign_origin_is_refused_before_the_session_is_read(world, monkeypatch):
    import push.consumers

    read: list[str | None] = []
    monkeypatch.setattr(push.consumers, "login_session", lambda key: read.append(key))
    sock = await agent_socket(f"{settings.SESSION_COOKIE_NAME}={await login(world.agent)}",
                              origin="https://evil.example")
    assert (await sock.recv())["code"] == "origin_forbidden"
    assert await sock.closed_code() == 4403
    assert read == []


async def test_the_agent_socket_task_holds_no_middleware_frame_and_drops_the_login(world):
    """The socket app runs in the server's task with nothing of Channels' around it (no
    CookieMiddleware/SessionMiddleware/AuthMiddleware frames, no ``InstanceSessionWrapper.send``
    between the socket and the server), and keeps the signed-in user only until its hello."""
    sock = await agent_socket(f"{settings.SESSION_COOKIE_NAME}={await login(world.agent)}")
    await sock.recv_type("welcome")
    assert awaiting(sock.comm.future) == ["_RealtimeSocket.serve", "Queue.get"]
    [socket] = {s for members in hub.get_hub().subscribers.values() for s in members if isinstance(s, AgentSocket)}
    assert socket.login is None
    assert socket.send_message == sock.comm.output_queue.put, socket.send_message
    await sock.close()
