"""GET /api/v1/conversations/counts: the inbox tabs' numbers, with the list's filters, in one query."""
from __future__ import annotations

import pytest
from django_scopes import scope

from support.models import Conversation
from support.services.conversations import assign_conversation, start_conversation
from tests.api.conftest import session_client

URL = "/api/v1/conversations/counts"


@pytest.fixture
def inbox(world):
    """Alice has 2 (1 open, 1 pending), Ben 1 open, 3 unassigned (2 open with one in the team, 1 resolved)."""
    with scope(tenant=world.tenant):
        convs = [start_conversation(tenant=world.tenant, contact=world.contact) for _ in range(6)]
        assign_conversation(conversation=convs[0], assignee=world.agent)
        assign_conversation(conversation=convs[1], assignee=world.agent)
        assign_conversation(conversation=convs[2], assignee=world.agent2)
        Conversation.objects.filter(pk=convs[1].pk).update(status="pending")
        Conversation.objects.filter(pk=convs[3].pk).update(team=world.team)
        Conversation.objects.filter(pk=convs[5].pk).update(status="resolved")
    return convs


def _counts(client, params=None) -> dict:
    response = client.get(URL, params or {})
    assert response.status_code == 200, response.content
    return response.json()


def test_counts_for_a_signed_in_agent(world, inbox):
    alice = session_client(world.agent)
    assert _counts(alice) == {"mine": 2, "unassigned": 3, "all": 6}
    assert _counts(alice, {"status": "open"}) == {"mine": 1, "unassigned": 2, "all": 4}
    assert _counts(alice, {"status": "pending"}) == {"mine": 1, "unassigned": 0, "all": 1}
    assert _counts(alice, {"team": world.team.public_id}) == {"mine": 0, "unassigned": 1, "all": 1}
    assert _counts(alice, {"team": "none", "status": "open"}) == {"mine": 1, "unassigned": 1, "all": 3}
    # Ben's "mine" is his own.
    assert _counts(session_client(world.agent2))["mine"] == 1


def test_counts_match_the_list(world, inbox):
    alice = session_client(world.agent)
    for params in ({}, {"status": "open"}, {"team": world.team.public_id}, {"status": "resolved", "team": "none"}):
        counts = _counts(alice, params)
        for key, assignee in (("mine", "me"), ("unassigned", "none"), ("all", None)):
            query = {**params, "limit": 100, **({"assignee": assignee} if assignee else {})}
            listed = alice.get("/api/v1/conversations", query).json()["results"]
            assert counts[key] == len(listed), (params, key)


def test_unknown_team_counts_nothing(world, inbox):
    assert _counts(session_client(world.agent), {"team": "tm_doesnotexist"}) == {"mine": 0, "unassigned": 0, "all": 0}


def test_token_without_member_has_no_mine(world, api, read_api, inbox):
    assert _counts(api) == {"unassigned": 3, "all": 6}
    assert _counts(read_api, {"status": "open"}) == {"unassigned": 2, "all": 4}


@pytest.mark.parametrize("params, field", [
    ({"status": "closed"}, "status"),
    ({"status": "OPEN"}, "status"),
    ({"team": "x" * 41}, "team"),
])
def test_bad_input_is_the_lists_400(world, api, inbox, params, field):
    response = api.get(URL, params)
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and field in body["fields"]
    # Same shape and message as the list endpoint gives for the same input.
    assert api.get("/api/v1/conversations", params).json()["error"]["fields"][field] == body["fields"][field]


def test_needs_credentials(db):
    from django.test import Client
    assert Client().get(URL).status_code in (401, 403)


def test_outsider_conversations_never_count(world, outsider, outsider_api, inbox):
    with scope(tenant=outsider.tenant):
        for _ in range(4):
            conv = start_conversation(tenant=outsider.tenant, contact=outsider.contact)
            assign_conversation(conversation=conv, assignee=outsider.agent)
    assert _counts(session_client(world.agent)) == {"mine": 2, "unassigned": 3, "all": 6}
    assert _counts(outsider_api) == {"unassigned": 0, "all": 4}
    assert _counts(session_client(outsider.agent)) == {"mine": 4, "unassigned": 0, "all": 4}
    # Our team's id means nothing to the outsider: it matches none of their conversations.
    assert _counts(outsider_api, {"team": world.team.public_id}) == {"unassigned": 0, "all": 0}


def test_counts_are_one_query(world, api, inbox, django_assert_num_queries):
    api.get("/api/v1/me")  # last_used_at written now, so the pinned call below does not write it
    # 1 token (+ tenant), 2 the counts: Count("pk", filter=Q(...)) aggregates over one filtered scan
    with django_assert_num_queries(2):
        assert _counts(api, {"status": "open", "team": "none"}) == {"unassigned": 1, "all": 3}
