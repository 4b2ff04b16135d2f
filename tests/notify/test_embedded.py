"""The embedded default end to end: the in-process Celery worker and beat send digests and retry webhooks
on their own — countdowns honoured, nothing called by hand."""
from __future__ import annotations

import time

import pytest
from django.db import OperationalError
from django_scopes import scope, scopes_disabled

from config.embedded_worker import start_embedded_worker
from push.models import WebhookDelivery
from push.webhooks import services
from support.models import Message
from support.services.conversations import start_conversation
from support.services.messages import post_message
from tests.notify.conftest import text_of
from tests.waiting import wait_for
from tests.webhooks.http_receiver import start_receiver, stop_receiver


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_embedded_worker_sends_the_digest_after_its_delay_and_retries_a_webhook(world, smtp, settings):
    settings.VISITOR_DIGEST_DELAY_SECONDS = 1
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.WEBHOOK_RETRY_BASE_SECONDS = 1
    receiver = start_receiver()
    receiver.script = [500]
    # Written before the worker starts: the test database is SQLite in memory, whose shared cache
    # locks whole tables, so the test thread and the worker thread must not write at once. The
    # kicks queued on commit wait in the in-memory broker until the worker takes them.
    services.create_endpoint(tenant=world.tenant, url=receiver.url, event_types=["message.created"])
    with scope(tenant=world.tenant):
        conv = start_conversation(tenant=world.tenant, contact=world.contact)
        post_message(conversation=conv, author_type=Message.Author.AGENT, author_membership=world.agent,
                     body="Your refund is on its way")
    replied = time.monotonic()
    handle = start_embedded_worker()
    try:
        assert wait_for(lambda: smtp.messages), "no digest arrived"
        assert time.monotonic() - replied >= 0.9, "the digest waited for its delay"
        [mail] = smtp.messages
        assert "Your refund is on its way" in text_of(mail)

        def delivered() -> bool:
            try:
                with scopes_disabled():
                    return WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SUCCEEDED).exists()
            except OperationalError:  # the worker holds the table lock right now (SQLite); ask again
                return False

        assert wait_for(delivered), f"webhook not delivered; requests={len(receiver.requests)}"
        assert [r.headers["X-Switchboard-Attempt"] for r in receiver.requests] == ["1", "2"]
        assert len(smtp.messages) == 1
    finally:
        handle.stop()
        stop_receiver(receiver)
