"""post_message: seq allocation, idempotency, outbox in the same transaction."""
from __future__ import annotations

import pytest
from django.db import transaction
from django_scopes import ScopeError, scope

from support.errors import ValidationFailed
from support.events.models import OutboxEvent
from support.models import Conversation, Message
from support.services.conversations import start_conversation
from support.services.messages import post_message


def test_seq_is_gap_free_and_per_conversation(in_scope):
    w = in_scope
    a = start_conversation(tenant=w.tenant, contact=w.contact)
    b = start_conversation(tenant=w.tenant, contact=w.contact)
    seqs_a = [post_message(conversation=a, author_type="contact", body=f"a{i}").message.seq for i in range(3)]
    seqs_b = [post_message(conversation=b, author_type="contact", body="b").message.seq]
    assert seqs_a == [1, 2, 3]
    assert seqs_b == [1]
    a.refresh_from_db()
    assert a.last_seq == 3


def test_same_client_id_returns_original(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    first = post_message(conversation=conv, author_type="contact", body="hi", client_id="c-1")
    again = post_message(conversation=conv, author_type="contact", body="hi", client_id="c-1")
    assert first.created and not again.created
    assert again.message.pk == first.message.pk
    assert Message.objects.filter(conversation=conv).count() == 1


def test_rollback_writes_no_event_and_no_message(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    before = OutboxEvent.objects.count()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            post_message(conversation=conv, author_type="contact", body="lost")
            raise RuntimeError("boom")
    assert OutboxEvent.objects.count() == before
    assert not Message.objects.filter(body="lost").exists()


def test_message_created_event_is_written(in_scope):
    w = in_scope
    conv = start_conversation(tenant=w.tenant, contact=w.contact)
    msg = post_message(conversation=conv, author_type="contact", body="hello").message
    event = OutboxEvent.objects.filter(type="message.created").latest("created_at")
    assert event.payload["message"]["id"] == msg.public_id
    assert event.ordering_key == conv.public_id


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_bad_bodies_are_refused(in_scope, body):
    conv = start_conversation(tenant=in_scope.tenant, contact=in_scope.contact)
    with pytest.raises(ValidationFailed):
        post_message(conversation=conv, author_type="contact", body=body)


def test_contacts_cannot_write_notes(in_scope):
    conv = start_conversation(tenant=in_scope.tenant, contact=in_scope.contact)
    with pytest.raises(ValidationFailed):
        post_message(conversation=conv, author_type="contact", kind="note", body="sneaky")


def test_unscoped_query_fails_loudly(world):
    with pytest.raises(ScopeError):
        list(Conversation.objects.all())


def test_scope_hides_other_tenants(world, outsider):
    with scope(tenant=outsider.tenant):
        start_conversation(tenant=outsider.tenant, contact=outsider.contact)
    with scope(tenant=world.tenant):
        assert Conversation.objects.count() == 0
