"""Fixtures for realtime tests: the real ASGI app, visitor and agent sockets, long-poll clients."""
from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django_scopes import scope

from push.presence_store import MemoryStore, set_store
from support.models import Membership, Tenant
from support.services.visitors import bootstrap_visitor

SITE = "https://site.example"  # in every test tenant's allowed_origins
DASHBOARD = "http://testserver"


@pytest.fixture(autouse=True)
def realtime_settings(settings):
    settings.RT_HELLO_TIMEOUT_SECONDS = 1
    settings.LONGPOLL_TIMEOUT_SECONDS = 1
    settings.PRESENCE_HEARTBEAT_SECONDS = 30
    # No cache.clear(): on Redis that would flush the shared database. Rate-limit keys start
    # with the tenant's public id, and every test makes fresh tenants, so tests never share them.
    # Each test runs on an event loop of its own, so it gets a hub of its own (push/hub.py).
    set_store(MemoryStore())
    yield settings
    set_store(None)


def application():
    from config.asgi import application as app

    return app


def new_visitor_token(tenant: Tenant, **kwargs: Any) -> str:
    return bootstrap_visitor(tenant=tenant, **kwargs).token


async def visitor_token(tenant: Tenant, **kwargs: Any) -> str:
    return await sync_to_async(new_visitor_token)(tenant, **kwargs)


def contact_of(token: str):
    from support.services.visitors import contact_from_token

    return contact_from_token(token)


class Socket:
    """A WebsocketCommunicator with protocol helpers."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.comm = communicator

    async def send(self, frame: Any) -> None:
        await self.comm.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))

    async def recv(self, timeout: float = 5) -> dict[str, Any]:
        output = await self.comm.receive_output(timeout)
        if output["type"] == "websocket.close":
            return {"type": "__closed__", "code": output.get("code")}
        return json.loads(output["text"])

    async def recv_type(self, ftype: str, timeout: float = 5) -> dict[str, Any]:
        """The next frame of ``ftype``, skipping presence/typing/conversation noise."""
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == ftype:
                return frame
            if frame["type"] in ("__closed__", "error") and ftype not in ("__closed__", "error"):
                raise AssertionError(f"expected {ftype}, got {frame}")

    async def drain(self, timeout: float = 0.2) -> list[dict[str, Any]]:
        """Every frame that arrives until ``timeout`` passes quietly (the socket stays open)."""
        frames = []
        while not await self.comm.receive_nothing(timeout):
            frames.append(await self.recv())
        return frames

    async def closed_code(self, timeout: float = 3) -> int:
        while True:
            frame = await self.recv(timeout)
            if frame["type"] == "__closed__":
                return frame["code"]

    async def close(self) -> None:
        await self.comm.disconnect()


async def open_visitor(token: str | None, *, origin: str = SITE, resume: dict | None = None, hello: bool = True):
    comm = WebsocketCommunicator(application(), "/ws/visitor/", headers=[(b"origin", origin.encode()),
                                                                        (b"host", b"testserver")])
    connected, _ = await comm.connect()
    assert connected
    sock = Socket(comm)
    if hello:
        await sock.send({"type": "hello", "token": token, "resume": resume or {}})
    return sock


def session_cookie(membership: Membership, *, tenant_public_id: str | None = None) -> str:
    client = Client()
    client.force_login(membership.user)
    if tenant_public_id is not None:
        session = client.session
        session["tenant"] = tenant_public_id
        session.save()
    return client.cookies["sessionid"].value


async def open_agent(membership: Membership | None, *, origin: str = DASHBOARD, hello: dict | None = None,
                     send_hello: bool = True):
    headers = [(b"origin", origin.encode()), (b"host", b"testserver")]
    if membership is not None:
        cookie = await sync_to_async(session_cookie)(membership)
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    comm = WebsocketCommunicator(application(), "/ws/agent/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    sock = Socket(comm)
    if send_hello:
        await sock.send({"type": "hello", **(hello or {})})
    return sock


async def poll_waiting(timeout: float = 5) -> None:
    """Wait until a long-poll of this process is idle, waiting for a wake-up."""
    from push import longpoll

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while longpoll.idle_polls == 0:
        assert loop.time() < deadline, "no long-poll is waiting"
        await asyncio.sleep(0.01)


def in_tenant(tenant: Tenant):
    return scope(tenant=tenant)


@contextlib.asynccontextmanager
async def real_server() -> AsyncIterator[tuple[Any, int]]:
    """A real uvicorn with ``manage.py serve``'s WebSocket options on a free port of 127.0.0.1, serving
    the ASGI app until the block ends: the server and its port."""
    import uvicorn

    from support.management.commands.serve import websocket_options

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application(), host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", **websocket_options()))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not serving.done(), serving
            await asyncio.sleep(0.02)
        yield server, port
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 15)


@pytest.fixture
def http():
    """An httpx client on the real ASGI app (long-poll and bootstrap)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application()), base_url="http://testserver")
