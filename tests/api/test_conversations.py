"""Conversations: filters, search, cursor pages, updates through the services, bounded queries."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scope

from support.events.models import OutboxEvent
from support.models import Conversation, Label, Message
from support.services.conversations import assign_conversation, set_labels, start_conversation
from support.services.messages import post_message
from tests.api.conftest import session_client


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["results"]]


@pytest.fixture
def inbox(world):
    """Five conversations with different states; returned newest activity first."""
    with scope(tenant=world.tenant):
        vip = Label.objects.create(tenant=world.tenant, name="vip")
        convs = []
        for i in range(5):
            conv = start_conversation(tenant=world.tenant, contact=world.contact)
            post_message(conversation=conv, author_type="contact", body=f"order number {i} is late")
            convs.append(conv)
        assign_conversation(conversation=convs[0], assignee=world.agent)
        assign_conversation(conversation=convs[1], assignee=world.agent2)
        set_labels(conversation=convs[2], labels=[vip])
        Conversation.objects.filter(pk=convs[3].pk).update(status="resolved", team=world.team)
        Conversation.objects.filter(pk=convs[4].pk).update(created_at=timezone.now() - timedelta(days=10))
        post_message(conversation=convs[4], author_type="contact", body="refund please")
        ordered = list(Conversation.objects.order_by("-updated_at", "-public_id").values_list("public_id", flat=True))
    return {"convs": [c.public_id for c in convs], "ordered": ordered, "vip": vip.public_id}


def test_filters(world, api, inbox):
    c = inbox["convs"]
    assert set(_ids(api.get("/api/v1/conversations", {"status": "resolved"}))) == {c[3]}
    assert set(_ids(api.get("/api/v1/conversations", {"assignee": world.agent.public_id}))) == {c[0]}
    assert set(_ids(api.get("/api/v1/conversations", {"assignee": "none"}))) == {c[2], c[3], c[4]}
    assert set(_ids(api.get("/api/v1/conversations", {"team": world.team.public_id}))) == {c[3]}
    assert set(_ids(api.get("/api/v1/conversations", {"label": inbox["vip"]}))) == {c[2]}
    assert set(_ids(api.get("/api/v1/conversations", {"contact": world.contact.public_id}))) == set(c)
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert c[4] not in _ids(api.get("/api/v1/conversations", {"created_after": since}))
    assert set(_ids(api.get("/api/v1/conversations", {"created_before": since}))) == {c[4]}


def test_assignee_me_needs_a_session(world, api, inbox):
    mine = session_client(world.agent).get("/api/v1/conversations", {"assignee": "me"})
    assert _ids(mine) == [inbox["convs"][0]]
    refused = api.get("/api/v1/conversations", {"assignee": "me"})
    assert refused.status_code == 400 and "assignee" in refused.json()["error"]["fields"]


def test_bad_filter_values_are_400(world, api):
    response = api.get("/api/v1/conversations", {"status": "bogus", "created_after": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"status", "created_after"}


def test_search_message_text(world, api, inbox):
    assert _ids(api.get("/api/v1/conversations", {"q": "refund"})) == [inbox["convs"][4]]
    assert len(_ids(api.get("/api/v1/conversations", {"q": "late"}))) == 5
    assert _ids(api.get("/api/v1/conversations", {"q": "nothing-like-this"})) == []


def test_cursor_pages_walk_everything_once(world, api, inbox):
    seen, url, params = [], "/api/v1/conversations", {"limit": 2}
    while url:
        body = api.get(url, params).json()
        seen += [c["id"] for c in body["results"]]
        url, params = body["next"], None
    assert seen == inbox["ordered"]


def test_bad_cursor_and_limit(world, api):
    assert api.get("/api/v1/conversations", {"cursor": "!!!"}).json()["error"]["fields"] == {
        "cursor": ["Invalid cursor."]}
    assert api.get("/api/v1/conversations", {"limit": 0}).status_code == 400
    assert api.get("/api/v1/conversations", {"limit": 101}).status_code == 400


def test_list_query_count_is_bounded(world, api, django_assert_num_queries):
    with scope(tenant=world.tenant):
        labels = [Label.objects.create(tenant=world.tenant, name=f"l{i}") for i in range(3)]
        for _ in range(30):
            conv = start_conversation(tenant=world.tenant, contact=world.contact, team=world.team)
            set_labels(conversation=conv, labels=labels)
            assign_conversation(conversation=conv, assignee=world.agent)
    api.get("/api/v1/me")  # last_used_at written now, so the pinned calls below do not write it
    for limit in (5, 30):
        # 1 token (+ tenant), 2 page of conversations (+ contact, assignee, user, team), 3 labels of the page
        with django_assert_num_queries(3):
            body = api.get("/api/v1/conversations", {"limit": limit}).json()
        assert len(body["results"]) == limit
        assert all(len(c["labels"]) == 3 and c["assignee"]["name"] == "Alice" for c in body["results"])


def test_patch_status_assignee_team_labels(world, api, inbox):
    conv = inbox["convs"][2]
    snooze = (timezone.now() + timedelta(hours=2)).isoformat()
    response = api.patch(f"/api/v1/conversations/{conv}", {
        "status": "snoozed", "snoozed_until": snooze, "assignee": world.agent2.public_id,
        "team": world.team.public_id, "labels": [],
    })
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "snoozed" and body["snoozed_until"]
    assert body["assignee"]["id"] == world.agent2.public_id and body["team"]["id"] == world.team.public_id
    assert body["labels"] == []
    with scope(tenant=world.tenant):
        events = set(OutboxEvent.objects.values_list("type", flat=True))
        history = [m.data.get("event") for m in Message.objects.filter(conversation__public_id=conv, kind="event")]
    assert {"conversation.status_changed", "conversation.assigned", "conversation.team_changed"} <= events
    assert {"status_changed", "assigned", "team_changed"} <= set(history)


def test_patch_is_all_or_nothing(world, api, inbox):
    conv = inbox["convs"][2]
    response = api.patch(f"/api/v1/conversations/{conv}", {"status": "resolved", "assignee": "ag_missing"})
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"assignee": ["No such agent."]}
    assert api.get(f"/api/v1/conversations/{conv}").json()["status"] == "open"


def test_snooze_needs_a_future_time(world, api, inbox):
    response = api.patch(f"/api/v1/conversations/{inbox['convs'][0]}", {"status": "snoozed"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_snooze"


def test_a_refusal_reads_in_the_agents_language(world, inbox):
    world.agent.user.language = "zh-hans"
    world.agent.user.save(update_fields=["language"])
    response = session_client(world.agent).patch(f"/api/v1/conversations/{inbox['convs'][0]}", {"status": "snoozed"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_snooze" and error["detail"] == "稍后处理需要一个将来的时间"


def test_unknown_conversation_is_404(world, api):
    response = api.get("/api/v1/conversations/cv_doesnotexist")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
