"""JSON logs: every line of a request, socket or task names its request/task id, and its connection
and tenant once known; no message body, token or query string reaches a log line."""
from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django_scopes import scope

import config.asgi  # noqa: F401 - set up once (django.setup() configures logging) before a test adds its handler
from config.celery import app as celery_app
from config.observability.logs import ContextFilter, JsonFormatter
from support.events import handlers
from support.services.conversations import start_conversation
from tests.outbox.conftest import emit
from tests.realtime.conftest import SITE, open_visitor, session_cookie, visitor_token
from tests.realtime.test_longpoll import vpost

ROOT = Path(__file__).resolve().parents[2]
BODY = "the-secret-body-7f3a"


@pytest.fixture
def json_lines():
    """Every record from every logger, as the production JSON handler writes it, at DEBUG
    (SQL stays at WARNING, as settings.LOGGING has it)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    sql = logging.getLogger("django.db.backends")
    old_sql = sql.level
    sql.setLevel(logging.WARNING)

    def lines() -> list[dict]:
        handler.flush()
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)
    sql.setLevel(old_level if old_sql is None else old_sql)


def test_settings_switch_to_json_by_environment():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOG_FORMAT": "json", "DEBUG": "1"}
    code = ("import django, logging; django.setup(); "
            "logging.getLogger('probe').warning('hello %s', 'there'); "
            "logging.getLogger('django.request').warning('Not Found: %s', '/accounts/invite/s3cret-link/')")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    probe, django_line = (json.loads(text) for text in out.stderr.strip().splitlines())  # every line is JSON
    assert probe["message"] == "hello there" and probe["level"] == "WARNING" and probe["logger"] == "probe"
    assert {"time", "request_id", "connection_id", "tenant"} <= set(probe)
    # Django's lines once (not also through its own DEBUG console handler), with the link's secret hidden.
    assert django_line["message"] == "Not Found: /accounts/invite/[redacted]"
    env["LOG_FORMAT"] = "xml"
    failed = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert failed.returncode != 0 and "LOG_FORMAT" in failed.stderr
    assert django_settings.LOGGING["handlers"]["console"]["formatter"] == "plain"  # the embedded default


@pytest.mark.django_db(transaction=True)
async def test_a_socket_send_logs_ids_and_never_the_body_or_token(world, json_lines, http):
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token)
    welcome = await sock.recv_type("welcome")
    await sock.send({"type": "send", "conversation": None, "client_id": "c-1", "body": BODY})
    await sock.recv_type("ack")
    # A request whose query string carries a token (attachment links do) and a long-poll send.
    await http.get(f"/rt/attachments/none?token={token}", headers={"X-Request-ID": "req-from-proxy-1"})
    response = await http.post("/rt/visitor/send", json={"token": token, "frames": [
        {"type": "send", "conversation": None, "client_id": "c-2", "body": BODY}]}, headers={"Origin": SITE})
    assert response.status_code == 200
    await sock.close()
    lines = json_lines()
    leaks = [line for line in lines if BODY in json.dumps(line) or token in json.dumps(line)]
    assert not leaks, json.dumps(leaks, indent=1)

    tenant = world.tenant.public_id
    [socket_line] = [line for line in lines if line["message"].startswith("WS /ws/visitor/ ended after ")]
    assert socket_line["tenant"] == tenant and socket_line["connection_id"] == welcome["connection"]
    [proxied] = [line for line in lines if line.get("path", "").startswith("/rt/attachments/")]
    assert proxied["request_id"] == "req-from-proxy-1" and "?" not in proxied["message"]
    [send] = [line for line in lines if line.get("path") == "/rt/visitor/send"]
    assert send["tenant"] == tenant and send["connection_id"] and send["status"] == 200
    assert response.headers["x-request-id"] == send["request_id"]
    assert len({line["request_id"] for line in (socket_line, proxied, send)}) == 3


@pytest.mark.django_db(transaction=True)
async def test_each_socket_logs_under_its_own_ids_and_its_end(world, json_lines, monkeypatch):
    """The socket apps keep their own log context (no middleware around them): a visitor socket with
    the proxy's request id, an agent socket and a socket on an unknown path each log their lines
    under their ids and one end line; the test's own context is untouched."""
    from channels.testing import WebsocketCommunicator

    from push.protocol import Session
    from support import log_context
    from tests.realtime.conftest import Socket, open_agent

    async def failing(self, frame, verdict, *, allowed=None):
        raise RuntimeError("boom")

    # Where a socket hands a decoded frame to its session (push/consumers.py, ``_answer``).
    monkeypatch.setattr(Session, "dispatch", failing)
    comm = WebsocketCommunicator(config.asgi.application, "/ws/visitor/", headers=[
        (b"origin", SITE.encode()), (b"host", b"testserver"), (b"x-request-id", b"req-socket-0001")])
    assert (await comm.connect())[0]
    visitor = Socket(comm)
    await visitor.send({"type": "hello", "token": await visitor_token(world.tenant), "resume": {}})
    visitor_id = (await visitor.recv_type("welcome"))["connection"]
    await visitor.send({"type": "ping"})
    assert (await visitor.recv_type("error"))["code"] == "internal"
    await visitor.close()
    agent = await open_agent(world.owner)
    agent_id = (await agent.recv_type("welcome"))["connection"]
    await agent.close()
    unknown = WebsocketCommunicator(config.asgi.application, "/ws/nowhere/")
    assert not (await unknown.connect())[0]
    await unknown.wait()
    assert log_context.current() is None

    lines = json_lines()
    tenant = world.tenant.public_id
    [failed] = [line for line in lines if line["message"] == "a frame failed"]
    assert (failed["request_id"], failed["connection_id"], failed["tenant"]) == ("req-socket-0001", visitor_id, tenant)
    ends = {line["path"]: line for line in lines if line["logger"] == "switchboard.access"}
    assert set(ends) == {"/ws/visitor/", "/ws/agent/", "/ws/nowhere/"}
    assert all(line["message"].startswith(f"WS {path} ended after ") and line["level"] == "INFO"
               and line["duration_ms"] >= 0 for path, line in ends.items())
    visitor_end = ends["/ws/visitor/"]
    assert (visitor_end["request_id"], visitor_end["connection_id"]) == ("req-socket-0001", visitor_id)
    assert (ends["/ws/agent/"]["connection_id"], ends["/ws/agent/"]["tenant"]) == (agent_id, tenant)
    assert ends["/ws/nowhere/"]["request_id"] and ends["/ws/nowhere/"]["connection_id"] is None
    assert len({line["request_id"] for line in ends.values()}) == 3


@pytest.mark.django_db(transaction=True)
async def test_an_api_send_names_its_tenant_and_never_the_body_or_token(world, json_lines, http):
    from support.models import ApiToken
    from support.services.api_tokens import create_token

    def setup():
        with scope(tenant=world.tenant):
            conv = start_conversation(tenant=world.tenant, contact=world.contact)
        secret = create_token(tenant=world.tenant, name="ci", scope=ApiToken.Scope.READ_WRITE,
                              created_by=world.owner.user).plaintext
        return conv.public_id, secret

    conversation, secret = await sync_to_async(setup)()
    response = await http.post(f"/api/v1/conversations/{conversation}/messages", json={"body": BODY},
                               headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 201, response.text
    lines = json_lines()
    assert BODY not in "\n".join(json.dumps(line) for line in lines)
    assert secret not in "\n".join(json.dumps(line) for line in lines)
    [access] = [line for line in lines if line.get("path") == f"/api/v1/conversations/{conversation}/messages"]
    assert access["tenant"] == world.tenant.public_id and access["status"] == 201
    assert access["request_id"] == response.headers["x-request-id"]


@pytest.mark.django_db(transaction=True)
def test_worker_lines_carry_the_task_id_and_the_tenant(world, outsider, json_lines):
    name = "test.logs-failing"

    def failing(event):
        logging.getLogger("push.test").info("handling %s", event.public_id)
        raise RuntimeError("handler broke")

    handlers.outbox_handler(name, events=["t.logs"], max_attempts=3)(failing)
    try:
        emit(world.tenant, "t.logs", secret_payload=BODY)
        emit(outsider.tenant, "t.logs", secret_payload=BODY)
        result = celery_app.tasks["events.dispatch_outbox"].apply()
    finally:
        handlers.REGISTRY.pop(name, None)
    lines = [line for line in json_lines() if line["logger"].startswith(("push.", "support.events."))]
    handled = [line for line in lines if line["message"].startswith("handling ")]
    failed = [line for line in lines if line["message"].startswith(f"Outbox handler {name} failed")]
    assert len(handled) == 2 and len(failed) == 2
    assert {line["tenant"] for line in handled} == {world.tenant.public_id, outsider.tenant.public_id}
    for first, then in zip(handled, failed, strict=True):
        assert then["tenant"] == first["tenant"]  # the dispatcher's own line names the same tenant
        assert first["request_id"] == then["request_id"] == result.id
    assert BODY not in "\n".join(json.dumps(line) for line in json_lines())


@pytest.mark.django_db(transaction=True)
async def test_a_signed_in_members_page_names_their_tenant(world, json_lines, http):
    cookie = await sync_to_async(session_cookie)(world.agent)
    response = await http.get("/api/v1/me", cookies={"sessionid": cookie})
    assert response.status_code == 200, response.text
    [access] = [line for line in json_lines() if line.get("path") == "/api/v1/me"]
    assert access["tenant"] == world.tenant.public_id and access["request_id"] == response.headers["x-request-id"]


def test_celery_task_lines_keep_the_task_id_not_its_arguments():
    record = logging.LogRecord("celery.app.trace", logging.INFO, __file__, 1, "Task %s succeeded", ("t",), None)
    record.data = {"id": "task-1", "name": "push.x", "args": f"('{BODY}',)", "kwargs": "{'token': 'k'}"}
    line = json.loads(JsonFormatter().format(record))
    assert line["data"] == {"id": "task-1", "name": "push.x"} and record.data["args"]  # other handlers keep theirs


@pytest.mark.django_db(transaction=True)
async def test_long_polls_answered_from_a_parked_connection_name_their_tenant(world, json_lines, http):
    from tests.realtime.test_longpoll_parked import parked_visitor

    token, _conv, cursor = await parked_visitor(http, world)
    # This poll is served from the connection the last one parked: no session is opened for it.
    status, _answer = await vpost(http, "poll", {"token": token, "cursor": cursor})
    assert status == 200
    polls = [line for line in json_lines() if line.get("path") == "/rt/visitor/poll"]
    assert len(polls) == 3
    assert {line["tenant"] for line in polls} == {world.tenant.public_id}
    assert all(line["connection_id"] for line in polls) and len({line["connection_id"] for line in polls}) == 1


@pytest.mark.django_db(transaction=True)
async def test_the_secret_of_an_emailed_link_stays_out_of_the_logs(json_lines, http):
    secret = "Zm9vYmFyLXNlY3JldC1pbnZpdGU6MXpabGhf"
    for path in (f"/accounts/invite/{secret}/", f"/notifications/c/{secret}/", f"/accounts/signup/finish/{secret}/"):
        await http.get(path)
    lines = json_lines()
    assert secret not in "\n".join(json.dumps(line) for line in lines)
    assert {line["path"] for line in lines if line["logger"] == "switchboard.access"} >= {
        "/accounts/invite/[redacted]", "/notifications/c/[redacted]", "/accounts/signup/finish/[redacted]"}
