"""Billing under concurrency, on real PostgreSQL: gap-free invoice numbers, one effect per webhook."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django_scopes import scope, scopes_disabled

from billing.invoicing import close_period, next_invoice_number
from billing.models import Invoice, InvoiceSequence, ProviderEvent, Subscription
from billing.subscriptions import change_plan, start_trial
from support.events.models import OutboxEvent
from tests.billing.conftest import stripe_event, stripe_signature
from tests.conftest import make_world

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(n, target):
    barrier = threading.Barrier(n)
    errors = []

    def run(i):
        try:
            barrier.wait()
            target(i)
        except Exception as exc:  # collected and re-raised in the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_invoice_numbers_are_gap_free_under_concurrency(require_postgres):
    from django.db import transaction

    numbers = []

    def take(i):
        for _ in range(10):
            with transaction.atomic():
                numbers.append(next_invoice_number(year=2031))

    run_threads(8, take)
    assert sorted(numbers) == [f"SB-2031-{n:06d}" for n in range(1, 81)]
    assert InvoiceSequence.objects.get(year=2031).last_number == 80


def test_concurrent_period_closing_issues_one_invoice_per_tenant(require_postgres):
    worlds = [make_world(f"co{i}") for i in range(4)]
    subs = []
    for w in worlds:
        start_trial(tenant=w.tenant)
        subs.append(change_plan(tenant=w.tenant, plan_code="starter", seats=3))
    with scopes_disabled():
        end = max(Subscription.objects.values_list("current_period_end", flat=True)) + timedelta(seconds=1)

    def close(i):
        for sub in subs:
            close_period(subscription=sub, now=end)

    run_threads(4, close)
    with scopes_disabled():
        numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert len(numbers) == 4
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, 5))


def test_concurrent_duplicate_webhooks_store_one_event(require_postgres, settings):
    settings.STRIPE_WEBHOOK_SECRET = "whsec_concurrent"
    w = make_world("dupco")
    start_trial(tenant=w.tenant)
    event = stripe_event("checkout.session.completed", {
        "id": "cs_1", "customer": "cus_c", "client_reference_id": w.tenant.public_id,
        "metadata": {"tenant": w.tenant.public_id, "plan": "pro", "seats": "8"},
    }, created=1_900_000_000, event_id="evt_concurrent")
    payload = json.dumps(event).encode()
    answers = []

    def deliver(i):
        response = Client().post("/billing/stripe/webhook", data=payload, content_type="application/json",
                                 HTTP_STRIPE_SIGNATURE=stripe_signature(payload, secret="whsec_concurrent"))
        answers.append((response.status_code, response.json()["duplicate"]))

    run_threads(6, deliver)
    assert sorted(answers) == [(200, False)] + [(200, True)] * 5
    assert ProviderEvent.objects.filter(event_id="evt_concurrent").count() == 1
    with scope(tenant=w.tenant):
        assert OutboxEvent.objects.filter(type="billing.provider_event").count() == 1
