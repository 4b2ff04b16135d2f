"""Conversation.last_message: what the inbox row previews, kept by post_message and backfilled once."""
from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django_scopes import scope, scopes_disabled

from support.models import Conversation, Message
from support.payloads import CONVERSATION_RELATED, PREVIEW_CHARS, conversation_payload, preview_text
from support.services.attachments import store_attachment
from support.services.conversations import assign_conversation, set_status, start_conversation
from support.services.messages import post_message

backfill_migration = importlib.import_module("support.migrations.0004_conversation_last_message")


def _loaded(conv: Conversation) -> Conversation:
    return Conversation.objects.select_related(*CONVERSATION_RELATED).get(pk=conv.pk)


def test_no_message_yet_is_null(in_scope):
    conv = start_conversation(tenant=in_scope.tenant, contact=in_scope.contact)
    assert conversation_payload(_loaded(conv))["last_message"] is None


def test_text_from_an_agent_names_them_and_folds_whitespace(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    body = "Hello\n\n  there,\tfriend " + "x" * 300
    msg = post_message(conversation=conv, author_type="agent", author_membership=w.agent, body=body).message
    last = conversation_payload(_loaded(conv))["last_message"]
    assert last == {
        "id": msg.public_id, "seq": 1, "kind": "text",
        "author": {"type": "agent", "id": w.agent.public_id, "name": "Alice"},
        "preview": ("Hello there, friend " + "x" * 300)[:PREVIEW_CHARS], "attachment": None,
        "created": msg.created_at.isoformat(),
    }
    assert len(last["preview"]) == PREVIEW_CHARS


def test_a_visitor_message_has_no_agent_in_the_author(in_scope):
    conv = start_conversation(tenant=in_scope.tenant, contact=in_scope.contact)
    post_message(conversation=conv, author_type="contact", body="where is my order?")
    last = conversation_payload(_loaded(conv))["last_message"]
    assert last["author"] == {"type": "contact"} and last["preview"] == "where is my order?"


def test_an_internal_note_is_the_last_message_for_agents(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    post_message(conversation=conv, author_type="contact", body="hi")
    note = post_message(conversation=conv, author_type="agent", author_membership=w.agent2, kind="note",
                        body="VIP, be nice").message
    last = conversation_payload(_loaded(conv))["last_message"]
    assert (last["id"], last["kind"], last["preview"]) == (note.public_id, "note", "VIP, be nice")
    assert last["author"]["name"] == "Bob"


def test_an_attachment_gives_its_name_and_type(in_scope, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    att = store_attachment(tenant=w.tenant, uploaded_file=SimpleUploadedFile("label.txt", b"hello"), name="label.txt")
    post_message(conversation=conv, author_type="contact", kind="attachment", attachment=att)
    last = conversation_payload(_loaded(conv))["last_message"]
    assert last["kind"] == "attachment" and last["preview"] == ""
    assert last["attachment"] == {"name": att.name, "content_type": att.content_type}


def test_events_do_not_change_it(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    msg = post_message(conversation=conv, author_type="contact", body="help").message
    assign_conversation(conversation=conv, assignee=w.agent, actor=w.agent)
    set_status(conversation=conv, status="resolved", actor=w.agent)
    conv.refresh_from_db()
    assert conv.last_seq == 3  # two events were written after the message
    assert conv.last_message_id == msg.pk


def test_only_events_leave_it_null(in_scope):
    conv = start_conversation(tenant=in_scope.tenant, contact=in_scope.contact)
    assign_conversation(conversation=conv, assignee=in_scope.agent)
    conv.refresh_from_db()
    assert conv.last_seq == 1 and conv.last_message_id is None


def test_it_is_written_in_the_message_transaction(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    kept = post_message(conversation=conv, author_type="contact", body="first").message
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            lost = post_message(conversation=conv, author_type="contact", body="second").message
            conv.refresh_from_db()
            assert conv.last_message_id == lost.pk  # visible inside the transaction at once
            raise RuntimeError("boom")
    conv.refresh_from_db()
    assert conv.last_message_id == kept.pk


def test_the_payload_reads_nothing_more_when_loaded_with_its_relations(in_scope, django_assert_num_queries,
                                                                       settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    w = in_scope
    for kind in ("text", "note", "attachment"):
        conv = start_conversation(tenant=w.tenant, contact=w.contact, team=w.team)
        assign_conversation(conversation=conv, assignee=w.agent)
        att = None
        if kind == "attachment":
            att = store_attachment(tenant=w.tenant, uploaded_file=SimpleUploadedFile("a.txt", b"x"), name="a.txt")
        post_message(conversation=conv, author_type="agent", author_membership=w.agent, kind=kind, body="hi",
                     attachment=att)
    with django_assert_num_queries(1):
        rows = [conversation_payload(c) for c in Conversation.objects.select_related(*CONVERSATION_RELATED)]
    assert sorted(r["last_message"]["kind"] for r in rows) == ["attachment", "note", "text"]
    assert all(r["last_message"]["author"]["name"] == "Alice" for r in rows)


def test_preview_text_folds_and_cuts():
    assert preview_text("  a \n\n b\t c  ") == "a b c"
    assert preview_text("") == ""
    assert preview_text("y" * (PREVIEW_CHARS - 1) + " z") == "y" * (PREVIEW_CHARS - 1)  # no trailing space


def test_backfill_points_each_conversation_at_its_newest_non_event_message(world, outsider):
    """The migration's RunPython, run on rows written as if before the field existed."""
    made = {}
    for w in (world, outsider):
        with scope(tenant=w.tenant):
            talk = start_conversation(tenant=w.tenant, contact=w.contact)
            post_message(conversation=talk, author_type="contact", body="one")
            newest = post_message(conversation=talk, author_type="agent", author_membership=w.agent, kind="note",
                                  body="two").message
            assign_conversation(conversation=talk, assignee=w.agent)  # an event after it: not the last message
            events_only = start_conversation(tenant=w.tenant, contact=w.contact)
            assign_conversation(conversation=events_only, assignee=w.agent)
            empty = start_conversation(tenant=w.tenant, contact=w.contact)
            made[w.tenant.pk] = (talk.pk, newest.pk, events_only.pk, empty.pk)
    with scopes_disabled():
        Conversation.objects.update(last_message=None)
        backfill_migration.backfill_last_message(django_apps, None)
        found = dict(Conversation.objects.values_list("pk", "last_message_id"))
        for talk, newest, events_only, empty in made.values():
            assert found[talk] == newest
            assert Message.objects.get(pk=newest).conversation_id == talk
            assert found[events_only] is None and found[empty] is None
