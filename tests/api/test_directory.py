"""Contacts, agents with presence, teams, labels and canned responses."""
from __future__ import annotations

from django_scopes import scope

from support.events.models import OutboxEvent
from tests.api.conftest import session_client


def test_contacts_create_update_search_and_events(world, api, conversation):
    created = api.post("/api/v1/contacts", {"name": "Ada Lovelace", "email": "ADA@example.com",
                                            "attributes": {"plan": "pro"}})
    assert created.status_code == 201
    contact = created.json()
    assert contact["email"] == "ada@example.com"
    updated = api.patch(f"/api/v1/contacts/{contact['id']}", {"attributes": {"seats": 3}})
    assert updated.json()["attributes"] == {"plan": "pro", "seats": 3}
    found = api.get("/api/v1/contacts", {"q": "lovelace"}).json()["results"]
    assert [c["id"] for c in found] == [contact["id"]]
    with scope(tenant=world.tenant):
        types = list(OutboxEvent.objects.filter(type__startswith="contact.").values_list("type", flat=True))
    assert sorted(types) == ["contact.created", "contact.updated"]
    convs = api.get(f"/api/v1/contacts/{world.contact.public_id}/conversations").json()["results"]
    assert [c["id"] for c in convs] == [conversation.public_id]
    assert api.post("/api/v1/contacts", {"email": "nope"}).json()["error"]["fields"]["email"]


def test_agents_with_presence(world, api, django_assert_num_queries):
    api.get("/api/v1/me")
    # 1 token, 2 memberships (+ user), 3 their teams, 4 presence's own membership read
    with django_assert_num_queries(4):
        agents = api.get("/api/v1/agents").json()["results"]
    assert {a["id"] for a in agents} == {world.owner.public_id, world.agent.public_id, world.agent2.public_id}
    assert all(a["presence"] in ("online", "away", "offline") for a in agents)
    alice = api.get(f"/api/v1/agents/{world.agent.public_id}").json()
    assert alice["teams"] == [world.team.public_id]


def test_teams_crud_by_admin(world):
    admin = session_client(world.owner)
    created = admin.post("/api/v1/teams", {"name": "Billing", "members": [world.agent.public_id]})
    assert created.status_code == 201 and created.json()["members"] == [world.agent.public_id]
    team_id = created.json()["id"]
    assert admin.post("/api/v1/teams", {"name": "Billing"}).json()["error"]["code"] == "duplicate"
    renamed = admin.patch(f"/api/v1/teams/{team_id}", {"name": "Finance", "members": []})
    assert renamed.json() == {"id": team_id, "name": "Finance", "members": []}
    assert admin.delete(f"/api/v1/teams/{team_id}").status_code == 204
    assert admin.get(f"/api/v1/teams/{team_id}").status_code == 404


def test_labels_and_canned_crud(world, api):
    label = api.post("/api/v1/labels", {"name": "urgent", "color": "#FF0000"}).json()
    assert label["color"] == "#ff0000"
    assert api.post("/api/v1/labels", {"name": "bad", "color": "red"}).json()["error"]["code"] == "invalid_color"
    assert api.patch(f"/api/v1/labels/{label['id']}", {"name": "later"}).json()["name"] == "later"
    assert api.delete(f"/api/v1/labels/{label['id']}").status_code == 204
    canned = api.post("/api/v1/canned-responses", {"shortcut": "/refund", "body": "Refunds take 3 days."})
    assert canned.status_code == 201 and canned.json()["shortcut"] == "refund"
    found = api.get("/api/v1/canned-responses", {"q": "/ref"}).json()["results"]
    assert [c["shortcut"] for c in found] == ["refund"]
    cid = canned.json()["id"]
    assert api.patch(f"/api/v1/canned-responses/{cid}", {"title": "Refunds"}).json()["title"] == "Refunds"
    assert api.delete(f"/api/v1/canned-responses/{cid}").status_code == 204


def test_agents_read_but_cannot_change_labels(world):
    agent = session_client(world.agent)
    assert agent.get("/api/v1/labels").status_code == 200
    assert agent.post("/api/v1/labels", {"name": "mine"}).json()["error"]["code"] == "admin_required"


def test_refusals_name_the_field_they_are_about(world, api):
    api.post("/api/v1/labels", {"name": "vip"})
    clash = api.post("/api/v1/labels", {"name": "vip"}).json()["error"]
    assert clash["code"] == "duplicate" and clash["fields"] == {"name": ["A label with this name exists"]}
    color = api.post("/api/v1/labels", {"name": "red", "color": "red"}).json()["error"]
    assert color["code"] == "invalid_color" and list(color["fields"]) == ["color"]
    shortcut = api.post("/api/v1/canned-responses", {"shortcut": "two words", "body": "x"}).json()["error"]
    assert shortcut["code"] == "invalid_shortcut" and list(shortcut["fields"]) == ["shortcut"]
    api.post("/api/v1/teams", {"name": "Billing"})
    team = api.post("/api/v1/teams", {"name": "Billing"}).json()["error"]
    assert team["code"] == "duplicate" and list(team["fields"]) == ["name"]
