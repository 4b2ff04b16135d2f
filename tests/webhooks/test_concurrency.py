"""Workers side by side on PostgreSQL: every webhook attempt and every digest is sent exactly once."""
from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scope

from push.notifications.visitor_digest import send_due
from push.webhooks import delivery as engine
from push.webhooks import services
from support.events.dispatcher import drain
from support.models import Message
from support.services.conversations import start_conversation
from support.services.messages import post_message

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def side_by_side(work, workers: int = 2) -> None:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors


def test_two_workers_never_send_one_delivery_twice(require_postgres, world, receiver):
    services.create_endpoint(tenant=world.tenant, url=receiver.url, event_types=["message.created"])
    with scope(tenant=world.tenant):
        for c in range(6):
            conv = start_conversation(tenant=world.tenant, contact=world.contact)
            for m in range(4):
                post_message(conversation=conv, author_type=Message.Author.CONTACT, body=f"c{c} m{m}")
    drain()

    def work() -> None:
        while engine.deliver_due():
            pass

    side_by_side(work)
    sent = Counter(r.headers["X-Switchboard-Delivery"] for r in receiver.requests)
    assert len(sent) == 24 and set(sent.values()) == {1}
    # And each conversation's messages arrived in order.
    import json

    bodies = [json.loads(r.body)["data"]["message"] for r in receiver.requests]
    for conv_id in {b["conversation"] for b in bodies}:
        seqs = [b["seq"] for b in bodies if b["conversation"] == conv_id]
        assert seqs == sorted(seqs)


def test_two_workers_send_each_digest_once(require_postgres, world, settings, mailoutbox):
    with scope(tenant=world.tenant):
        for _ in range(8):
            conv = start_conversation(tenant=world.tenant, contact=world.contact)
            post_message(conversation=conv, author_type=Message.Author.AGENT, author_membership=world.agent,
                         body="Here is your answer")
    drain()
    later = timezone.now() + timedelta(seconds=settings.VISITOR_DIGEST_DELAY_SECONDS + 60)
    side_by_side(lambda: send_due(now=later))
    assert len(mailoutbox) == 8
