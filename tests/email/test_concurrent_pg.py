"""The same mail arriving on two routes at the same moment (PostgreSQL, real row locks): one message."""
from __future__ import annotations

import threading

import pytest
from django.db import connections
from django_scopes import scope

from support.models import Conversation, MailRecord, Message
from support.services.inbound_email import receive_mail
from tests.email.conftest import fixture

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_routes_at_once_store_one_message(require_postgres, world):
    raw = fixture("attachments.eml")
    barrier = threading.Barrier(2)
    results: list[object] = []

    def deliver(route: str) -> None:
        try:
            barrier.wait(10)
            results.append(receive_mail(raw=raw, recipients=["acme@in.example"], route=route)[0])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(route,)) for route in ("smtp", "http")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(not isinstance(r, Exception) for r in results), results
    assert sorted(r.created for r in results) == [False, True]  # type: ignore[attr-defined]
    with scope(tenant=world.tenant):
        assert MailRecord.objects.count() == 1
        assert Conversation.objects.filter(channel="email").count() == 1
        assert Message.objects.filter(author_type="contact").count() == 2  # the text and the PNG
