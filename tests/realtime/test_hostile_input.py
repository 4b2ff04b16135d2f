"""Hostile input through both transports (property-based): never an exception, a 500 or an abnormal close.

Generated frames and long-poll bodies — random JSON, deep nesting, NUL, lone surrogates, huge
and non-finite numbers, wrong types, unknown types, every content type — go through the real
ASGI app. Every answer must be a documented ``error`` frame or HTTP status (never ``internal``:
the checks must refuse these before the transports' last-resort guard), and the connection must
still answer a valid ``ping`` afterwards.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.realtime.conftest import SITE, open_agent, open_visitor, visitor_token
from tests.realtime.test_longpoll import CSRF, as_agent
from tests.realtime.test_visitor_socket import started

pytestmark = pytest.mark.django_db(transaction=True)

# docs/protocol.md, "Error codes" and the long-poll statuses.
DOCUMENTED_CODES = {
    "bad_json", "missing_field", "invalid_field", "unknown_type", "too_large", "too_long", "empty", "not_found",
    "forbidden", "rate_limited", "unauthenticated", "verification_required", "origin_forbidden", "unsupported_type",
    "bad_cursor", "unsupported_media_type", "unavailable",
}
SERVER_FRAMES = {"error", "ack", "message", "pong", "conversation", "presence", "typing", "read", "welcome",
                 "inbox_resync"}
STATUSES = {200, 400, 401, 403, 413, 415, 429}
CONV, TOKEN, CLIENT = "@conv", "@token", "@client"  # placeholders for the real ids of each test
# About 40 ms an example over a socket, 10 ms over long-poll: the file runs in well under a minute.
SOCKET_EXAMPLES = settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HTTP_EXAMPLES = settings(SOCKET_EXAMPLES, max_examples=250)

# Signed values (tokens, cursors) are "value:signature" strings: the last two reach the signer.
NASTY = ["\x00", "a\x00b", "\ud800", "x\udfff", "\udc00\ud800", "²", "١٢", "💬", "", " ", "a" * 70, "NaN",
         "a:b:\ud800", "x:y:\x00"]
texts = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.one_of(st.characters(), st.sampled_from("\x00\ud800\udbff\udc00\udfff")), max_size=8),
)
numbers = st.one_of(
    st.integers(min_value=-3, max_value=10), st.integers(min_value=2**53 - 2, max_value=2**70),
    st.integers(max_value=-(2**63)), st.floats(), st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, st.sampled_from([CONV, CLIENT]))
values = st.recursive(
    scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(texts | st.just(CONV), kids, max_size=3),
    max_leaves=6,
)
TYPES = ["hello", "send", "typing", "read", "subscribe", "unsubscribe", "presence", "ping", "pong", "welcome"]
FIELDS = ["client_id", "conversation", "body", "kind", "attachment", "on", "seq", "last_seq", "status", "resume",
          "inbox_since", "token"]
frames = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | texts},
    optional={name: values | st.sampled_from(["text", "note", "away", "12", True, 0, {CONV: 1}]) for name in FIELDS},
)


def deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    if kind == "dict":
        return '{"a":' * depth + "1" + "}" * depth
    return '{"type":"send","client_id":"d","conversation":"@conv","body":' + "[" * depth + "]" * depth + "}"


raw_texts = st.one_of(
    st.builds(deep, st.sampled_from([20, 1000, 30_000]), st.sampled_from(["list", "dict", "field"])),
    st.builds(lambda digits: '{"type":"read","conversation":"@conv","seq":' + "9" * digits + "}",
              st.sampled_from([17, 400, 5000])),
    st.sampled_from(['{"type":"ping","x":NaN}', '{"type":"ping","x":-Infinity}', '{"type":"ping","x":1e999}',
                     '{"type":"send","client_id":"\\u0000","conversation":"@conv","body":"x"}',
                     '{"type":"send","client_id":"s","conversation":"@conv","body":"\\ud800"}',
                     '{"type":"subscribe","conversation":"cv\\u0000","last_seq":0}',
                     '{"type":"\\udfff"}', '"\\ud800"', "[]", "null", "", "{", "\ufeff{}"]),
    st.text(max_size=20),
)


def encode(frame: Any, *, conv: str, token: str) -> str:
    text = json.dumps(frame)  # lone surrogates become \ud800 escapes; NaN stays NaN
    return text.replace(json.dumps(CONV)[1:-1], conv).replace(TOKEN, token).replace(CLIENT, "c-prop")


def fill(raw: str, *, conv: str, token: str) -> str:
    # WebsocketCommunicator cannot send an empty text frame: a blank one stands in for it.
    return raw.replace(CONV, conv).replace(TOKEN, token).replace(CLIENT, "c-prop") or " "


@pytest.fixture
def roomy(settings):
    """Limits that hostile frames would otherwise run into (each is tested on its own elsewhere)."""
    settings.RT_FRAMES_PER_SECOND = settings.RT_FRAME_BURST = settings.RT_FLOOD_STRIKES = 100_000
    settings.RT_VISITOR_SENDS_PER_MINUTE = settings.RT_IP_SENDS_PER_MINUTE = 100_000
    settings.RT_IP_POLLS_PER_MINUTE = 100_000
    settings.LONGPOLL_TIMEOUT_SECONDS = 0.05
    return settings


def assert_documented(frames_out: list[dict[str, Any]]) -> None:
    for frame in frames_out:
        assert frame["type"] in SERVER_FRAMES, frame
        if frame["type"] == "error":
            assert frame["code"] in DOCUMENTED_CODES, frame


async def still_serving(sock) -> list[dict[str, Any]]:
    """Every frame up to the pong that answers a valid ping; fails if the socket closed."""
    await sock.send({"type": "ping"})
    seen = []
    while True:
        frame = await sock.recv()
        assert frame["type"] != "__closed__", f"socket closed: {frame} after {seen}"
        if frame["type"] == "pong":
            return seen
        seen.append(frame)


@pytest.fixture
async def visitor_conv(world, roomy):
    sock, token, ack = await started(world)
    await sock.close()
    return token, ack["message"]["conversation"]


@given(batch=st.lists(frames.map(lambda f: ("frame", f)) | raw_texts.map(lambda r: ("raw", r)), min_size=1,
                      max_size=4))
@SOCKET_EXAMPLES
async def test_a_visitor_socket_answers_hostile_frames_and_keeps_serving(visitor_conv, batch):
    token, conv = visitor_conv
    sock = await open_visitor(token, resume={conv: 10**6})
    assert (await sock.recv_type("welcome"))["type"] == "welcome"
    for kind, item in batch:
        await sock.send(encode(item, conv=conv, token=token) if kind == "frame" else fill(item, conv=conv, token=token))
    assert_documented(await still_serving(sock))
    await sock.close()


@given(frame=frames, raw=raw_texts)
@SOCKET_EXAMPLES
async def test_an_agent_socket_answers_hostile_frames_and_keeps_serving(world, visitor_conv, frame, raw):
    token, conv = visitor_conv
    sock = await open_agent(world.agent)
    assert (await sock.recv_type("welcome"))["type"] == "welcome"
    await sock.send(encode(frame, conv=conv, token=token))
    await sock.send(fill(raw, conv=conv, token=token))
    assert_documented(await still_serving(sock))
    await sock.close()


@given(first=frames.map(lambda f: {**f, "type": "hello"}) | raw_texts.map(lambda r: ("raw", r)))
@SOCKET_EXAMPLES
async def test_a_hostile_hello_gets_a_documented_close(visitor_conv, first):
    token, conv = visitor_conv
    sock = await open_visitor(token, hello=False)
    text = fill(first[1], conv=conv, token=token) if isinstance(first, tuple) else encode(
        {"token": token, **first}, conv=conv, token=token)
    await sock.send(text)
    got = []
    while True:
        frame = await sock.recv()
        if frame["type"] == "__closed__":
            assert frame["code"] in (4400, 4401, 4403), (frame, got)
            break
        got.append(frame)
        if frame["type"] == "welcome":
            got += await still_serving(sock)
            break
    assert_documented(got)
    await sock.close()


JSON_TYPES = ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"]
# At least half JSON, so most bodies get past the content-type check.
content_types = st.sampled_from(JSON_TYPES) | st.sampled_from(
    [*JSON_TYPES, None, "text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded",
     "application/jsonx", "text/html; charset=latin-1"])
bodies = st.one_of(
    st.fixed_dictionaries({"token": st.just(TOKEN) | values, "frames": st.lists(frames, max_size=3) | values},
                          optional={"cursor": values, "hello": frames.map(lambda f: {**f, "type": "hello"}) | values}
                          ).map(lambda b: ("json", b)),
    raw_texts.map(lambda r: ("raw", r)),
    st.sampled_from([b"\xff\xfe{}", b'{"token":"\xed\xa0\x80"}', b"--x\r\nContent-Disposition: form-data; "
                     b'name="a"\r\n\r\nb\r\n--x--\r\n', b"a=b&c=%00"]).map(lambda r: ("bytes", r)),
)


def body_bytes(body: tuple[str, Any], *, conv: str, token: str) -> bytes:
    kind, item = body
    if kind == "bytes":
        return item
    text = encode(item, conv=conv, token=token) if kind == "json" else fill(item, conv=conv, token=token)
    return text.encode("utf-8", "surrogatepass")


def assert_documented_answer(response) -> None:
    assert response.status_code in STATUSES, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), response.text[:300]
    data = response.json()
    if response.status_code == 200:
        assert_documented(data["frames"])
    else:
        assert data["error"]["code"] in DOCUMENTED_CODES, data


@given(endpoint=st.sampled_from(["send", "poll"]), body=bodies, content_type=content_types)
@HTTP_EXAMPLES
async def test_visitor_long_poll_answers_hostile_bodies_with_documented_statuses(
    visitor_conv, http, endpoint, body, content_type
):
    token, conv = visitor_conv
    headers = {"Origin": SITE} | ({"Content-Type": content_type} if content_type else {})
    response = await http.post(f"/rt/visitor/{endpoint}", content=body_bytes(body, conv=conv, token=token),
                               headers=headers)
    assert_documented_answer(response)
    ping = await http.post("/rt/visitor/send", json={"token": token, "frames": [{"type": "ping"}]},
                           headers={"Origin": SITE})
    assert (ping.status_code, ping.json()) == (200, {"frames": [{"type": "pong"}]})


@given(endpoint=st.sampled_from(["send", "poll"]), body=bodies, content_type=content_types)
@HTTP_EXAMPLES
async def test_agent_long_poll_answers_hostile_bodies_with_documented_statuses(
    world, visitor_conv, http, endpoint, body, content_type
):
    token, conv = visitor_conv
    await as_agent(http, world.agent)
    headers = {"Origin": "http://testserver", "X-CSRFToken": CSRF} | (
        {"Content-Type": content_type} if content_type else {})
    response = await http.post(f"/rt/agent/{endpoint}", content=body_bytes(body, conv=conv, token=token),
                               headers=headers)
    assert_documented_answer(response)
    ping = await http.post("/rt/agent/send", json={"frames": [{"type": "ping"}]},
                           headers={"Origin": "http://testserver", "X-CSRFToken": CSRF})
    assert (ping.status_code, ping.json()) == (200, {"frames": [{"type": "pong"}]})


@pytest.mark.parametrize("text", [deep(30_000, "list"), '{"type":"send","client_id":"a\\u0000","conversation":null}',
                                  '{"type":"send","client_id":"s","conversation":null,"body":"\\ud800"}'])
async def test_the_issue_cases_over_a_socket(world, roomy, text):
    """The inputs of issue 10: each answered with an error frame, and the socket goes on."""
    token = await visitor_token(world.tenant)
    sock = await open_visitor(token)
    await sock.recv_type("welcome")
    await sock.send(text)
    error = await sock.recv()
    assert error["type"] == "error" and error["code"] in ("bad_json", "invalid_field"), error
    assert await still_serving(sock) == []
    await sock.close()


@pytest.mark.parametrize(("body", "content_type", "status", "code"), [
    (deep(30_000, "list").encode(), "application/json", 400, "bad_json"),
    (b'{"token": "@token", "frames": [], "x": 1e999}', "application/json", 400, "bad_json"),
    (b'{"token": "@token", "frames": [], "x": NaN}', "application/json", 400, "bad_json"),
    (b'{"token": "\xed\xa0\x80"}', "application/json", 400, "bad_json"),  # UTF-8 of a lone surrogate
    (b"--x\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nt\r\n--x--\r\n",
     "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
    (b'{"frames": []}', "text/plain", 415, "unsupported_media_type"),
    (b'{"frames": []}', None, 415, "unsupported_media_type"),
])
async def test_the_issue_cases_over_long_poll(world, roomy, http, body, content_type, status, code):
    token = await visitor_token(world.tenant)
    headers = {"Origin": SITE} | ({"Content-Type": content_type} if content_type else {})
    response = await http.post("/rt/visitor/send", content=body.replace(b"@token", token.encode()), headers=headers)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


@pytest.mark.parametrize(("frame", "field"), [
    ({"type": "send", "conversation": None, "client_id": "a\x00"}, "client_id"),
    ({"type": "send", "conversation": None, "client_id": "s", "body": "\ud800"}, "body"),
    ({"type": "send", "conversation": "cv_\x00", "client_id": "s", "body": "hi"}, "conversation"),
    ({"type": "read", "conversation": "\udfff", "seq": 1}, "conversation"),
])
async def test_text_fields_with_nul_or_lone_surrogates_are_refused_over_long_poll(world, roomy, http, frame, field):
    token = await visitor_token(world.tenant)
    response = await http.post("/rt/visitor/send", content=json.dumps({"token": token, "frames": [frame]}),
                               headers={"Origin": SITE, "Content-Type": "application/json"})
    [error] = response.json()["frames"]
    assert (error["type"], error["code"]) == ("error", "invalid_field") and error["detail"].startswith(field)
    # An unreadable client_id is not echoed; a readable one is, so the client knows which send failed.
    assert error.get("client_id") == (frame["client_id"] if field != "client_id" and "client_id" in frame else None)
