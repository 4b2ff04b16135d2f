"""The conversation's ``last_message`` in the REST API: present in lists and details, at no extra
query per row, and never another tenant's."""
from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope

from support.models import Label
from support.services.attachments import store_attachment
from support.services.conversations import assign_conversation, set_labels, start_conversation
from support.services.messages import post_message
from tests.api.conftest import session_client


def _inbox_with_messages(world, n: int) -> dict[str, str]:
    """n conversations with labels, an assignee, a team, and a last message of every kind; id → kind."""
    kinds = {}
    with scope(tenant=world.tenant):
        labels = [Label.objects.create(tenant=world.tenant, name=f"l{i}") for i in range(3)]
        for i in range(n):
            conv = start_conversation(tenant=world.tenant, contact=world.contact, team=world.team)
            set_labels(conversation=conv, labels=labels)
            assign_conversation(conversation=conv, assignee=world.agent)
            kind = ("text", "note", "attachment")[i % 3]
            att = None
            if kind == "attachment":
                att = store_attachment(tenant=world.tenant, uploaded_file=SimpleUploadedFile(f"f{i}.txt", b"hi"),
                                       name=f"f{i}.txt")
            post_message(conversation=conv, author_type="agent", author_membership=world.agent2, kind=kind,
                         body=f"message {i}" if kind != "attachment" else "", attachment=att)
            kinds[conv.public_id] = kind
    return kinds


def test_list_shows_each_last_message_in_the_same_three_queries(world, api, django_assert_num_queries):
    kinds = _inbox_with_messages(world, 30)
    api.get("/api/v1/me")  # last_used_at written now, so the pinned calls below do not write it
    for limit in (5, 30):
        # 1 token (+ tenant), 2 page of conversations (+ contact, assignee, user, team, last message
        # with its author, their user and its attachment), 3 labels of the page
        with django_assert_num_queries(3):
            body = api.get("/api/v1/conversations", {"limit": limit}).json()
        assert len(body["results"]) == limit
        for row in body["results"]:
            last = row["last_message"]
            assert last["kind"] == kinds[row["id"]] and last["seq"] == row["last_seq"]  # posted after the events
            assert last["author"] == {"type": "agent", "id": world.agent2.public_id, "name": "Bob"}
            if last["kind"] == "attachment":
                assert last["preview"] == "" and last["attachment"]["name"].startswith("f")
                assert last["attachment"]["content_type"] == "text/plain"
            else:
                assert last["preview"].startswith("message ") and last["attachment"] is None


def test_retrieve_and_contact_list_show_it_too(world, api):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        msg = post_message(conversation=conv, author_type="contact", body="  my\n\ninvoice   is wrong ").message
        assign_conversation(conversation=conv, assignee=world.agent)  # an event: not the last message
    expected = {
        "id": msg.public_id, "seq": 1, "kind": "text", "author": {"type": "contact"},
        "preview": "my invoice is wrong", "attachment": None, "created": msg.created_at.isoformat(),
    }
    detail = api.get(f"/api/v1/conversations/{conv.public_id}").json()
    assert detail["last_seq"] == 2 and detail["last_message"] == expected
    listed = api.get(f"/api/v1/contacts/{world.contact.public_id}/conversations").json()["results"]
    assert [c["last_message"] for c in listed] == [expected]
    open_rows = api.get("/api/v1/conversations", {"status": "open"}).json()["results"]
    assert [c["last_message"] for c in open_rows] == [expected]


def test_a_conversation_without_messages_has_null(world, api):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
    assert api.get(f"/api/v1/conversations/{conv.public_id}").json()["last_message"] is None


def test_patch_answers_with_the_last_message(world, api):
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type="agent", author_membership=world.agent, kind="note", body="vip")
    body = api.patch(f"/api/v1/conversations/{conv.public_id}", {"status": "resolved"}).json()
    assert body["status"] == "resolved" and body["last_message"]["kind"] == "note"


def test_another_tenant_never_sees_our_previews(world, outsider, outsider_api):
    with scope(tenant=world.tenant):
        ours = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=ours, author_type="agent", author_membership=world.agent, kind="note",
                     body="our secret note")
    with scope(tenant=outsider.tenant):
        theirs = start_conversation(tenant=outsider.tenant, contact=outsider.contact)
        post_message(conversation=theirs, author_type="contact", body="their own question")
    for client in (outsider_api, session_client(outsider.owner)):
        listed = client.get("/api/v1/conversations")
        assert [c["last_message"]["preview"] for c in listed.json()["results"]] == ["their own question"]
        assert "our secret note" not in json.dumps(listed.json())
        assert client.get(f"/api/v1/conversations/{ours.public_id}").status_code == 404
