"""Messages: history by seq (forwards and backwards), posting as agent, integration or note."""
from __future__ import annotations

import json

import pytest
from django_scopes import scope

from support.services.messages import post_message
from tests.api.conftest import session_client


@pytest.fixture
def long_conv(world, conversation):
    with scope(tenant=world.tenant):
        for i in range(2, 13):  # seq 2..12 (seq 1 is the fixture's first message)
            post_message(conversation=conversation, author_type="contact", body=f"m{i}")
    return conversation


def _seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [m["seq"] for m in response.json()["results"]]


def test_latest_page_then_backwards(world, api, long_conv):
    path = f"/api/v1/conversations/{long_conv.public_id}/messages"
    first = api.get(path, {"limit": 5})
    assert _seqs(first) == [8, 9, 10, 11, 12]
    older = api.get(first.json()["next"])
    assert _seqs(older) == [3, 4, 5, 6, 7]
    oldest = api.get(older.json()["next"])
    assert _seqs(oldest) == [1, 2] and oldest.json()["next"] is None


def test_forward_after_seq(world, api, long_conv):
    path = f"/api/v1/conversations/{long_conv.public_id}/messages"
    page = api.get(path, {"after": 3, "limit": 4})
    assert _seqs(page) == [4, 5, 6, 7]
    assert _seqs(api.get(page.json()["next"])) == [8, 9, 10, 11]
    assert _seqs(api.get(path, {"after": 3, "before": 6})) == [4, 5]
    assert _seqs(api.get(path, {"after": 12})) == []


def test_bad_range_is_400(world, api, long_conv):
    response = api.get(f"/api/v1/conversations/{long_conv.public_id}/messages", {"after": -1})
    assert response.status_code == 400 and "after" in response.json()["error"]["fields"]


def test_message_list_query_count_is_bounded(world, api, long_conv, django_assert_num_queries):
    api.get("/api/v1/me")
    for limit in (2, 12):
        # 1 token (+ tenant), 2 the conversation (access), 3 the page (+ author, user, attachment)
        with django_assert_num_queries(3):
            page = api.get(f"/api/v1/conversations/{long_conv.public_id}/messages", {"limit": limit})
        assert len(_seqs(page)) == limit


def test_agent_posts_as_themselves_and_notes(world, conversation):
    client = session_client(world.agent)
    path = f"/api/v1/conversations/{conversation.public_id}/messages"
    reply = client.post(path, {"body": "Hi there", "client_id": "c-1"})
    assert reply.status_code == 201
    assert reply.json()["author"] == {"type": "agent", "id": world.agent.public_id, "name": "Alice"}
    note = client.post(path, {"body": "VIP customer", "kind": "note"})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    retry = client.post(path, {"body": "Hi there", "client_id": "c-1"})
    assert retry.status_code == 200 and retry.json()["id"] == reply.json()["id"]
    assert client.post(path, {"body": "x", "author": world.agent2.public_id}).status_code == 400


def test_integration_posts_as_system_or_as_an_agent(world, api, conversation):
    path = f"/api/v1/conversations/{conversation.public_id}/messages"
    bot = api.post(path, {"body": "Our bot says hi"})
    assert bot.status_code == 201
    assert bot.json()["author"]["type"] == "system"
    assert bot.json()["data"]["integration"]["name"] == "test"
    relayed = api.post(path, {"body": "From Bob", "author": world.agent2.public_id})
    assert relayed.json()["author"]["id"] == world.agent2.public_id
    note = api.post(path, {"body": "note", "kind": "note"})
    assert note.status_code == 400 and "author" in note.json()["error"]["fields"]
    assert api.post(path, {"body": "n", "kind": "note", "author": world.agent.public_id}).status_code == 201


def test_empty_and_too_long_are_refused_with_codes(world, api, conversation, settings):
    path = f"/api/v1/conversations/{conversation.public_id}/messages"
    assert api.post(path, {"body": "  "}).json()["error"]["code"] == "empty"
    settings.MESSAGE_MAX_CHARS = 100
    assert api.post(path, {"body": "x" * 101}).json()["error"]["code"] == "too_long"


def test_a_refused_message_is_told_in_the_requests_language(world, api, conversation, settings):
    path = f"/api/v1/conversations/{conversation.public_id}/messages"
    settings.MESSAGE_MAX_CHARS = 100
    chinese = {"Accept-Language": "zh-Hans"}
    assert api.post(path, {"body": "x" * 101}, headers=chinese).json()["error"] == {
        "code": "too_long", "detail": "消息超过 100 个字符"}
    assert api.post(path, {"body": "  "}, headers=chinese).json()["error"] == {"code": "empty", "detail": "消息为空"}
    assert api.post(path, {"body": "x" * 101}).json()["error"] == {
        "code": "too_long", "detail": "Message is longer than 100 characters"}


def test_malformed_json_is_400(world, api, conversation):
    response = api.client.post(f"/api/v1/conversations/{conversation.public_id}/messages", "{nope",
                               content_type="application/json", headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_body"


@pytest.mark.parametrize("field", ["body", "client_id"])
@pytest.mark.parametrize("text", ["a\\u0000b", "a\\ud800b"])
def test_nul_and_lone_surrogates_are_refused_never_stored_altered(world, api, conversation, field, text):
    """As over the realtime transports (docs/protocol.md, "Validation"): refused, not stripped."""
    body = {"body": "ok", "client_id": "c-1"} | {field: "@"}
    with scope(tenant=world.tenant):
        before = conversation.messages.count()
    response = api.client.post(
        f"/api/v1/conversations/{conversation.public_id}/messages", json.dumps(body).replace("@", text),
        content_type="application/json", headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    with scope(tenant=world.tenant):
        assert conversation.messages.count() == before
