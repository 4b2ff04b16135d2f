"""Every billing handler really run twice for the same event: each email, ledger row and outbox
event it writes exists once (issue 10).

The dispatcher records a handler as done and never runs it again, so running the dispatcher twice
proves nothing. A second run happens when a worker dies after the effect and before that record
(its lease expires and another worker claims the delivery), or when an admin replays it; these
tests call the handler itself again with the same event, as that second worker would.
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMessage
from django.db import transaction
from django_scopes import scope

from billing.invoicing import close_due_periods
from billing.models import Invoice, PlanChange, ProviderEvent, SeatChange, Subscription, UsageRecord
from billing.payments import mark_invoice_paid
from billing.subscriptions import change_plan
from support.events.dispatcher import drain
from support.events.handlers import REGISTRY, handler_named
from support.events.models import OutboxEvent
from support.events.outbox import emit_event
from support.models import Membership, User
from support.services.conversations import start_conversation
from tests.billing.conftest import stripe_event

NOW = int(time.time())
# Each billing handler and the test(s) below that run it twice for one event.
RERUN_TESTS = {
    "billing.start_trial": "test_start_trial_rerun_keeps_one_subscription",
    "billing.metering": "test_metering_rerun_writes_one_row_per_event",
    "billing.apply_provider_event": "test_provider_event_rerun_has_each_effect_once",
    "billing.sync_stripe": "tests/billing/test_stripe_sync.py::test_sync_rerun_for_one_event_changes_stripe_once",
    "billing.notify_owner": "test_owner_email_rerun_sends_each_email_once",
}


def test_every_billing_handler_has_a_rerun_test():
    handlers = {name for name in REGISTRY if name.startswith("billing.")}
    assert handlers == set(RERUN_TESTS), (
        "A billing handler without a test that runs it twice for the same event: add one and name it "
        f"in RERUN_TESTS ({sorted(handlers ^ set(RERUN_TESTS))})"
    )


def events_of(world, type_: str) -> list[OutboxEvent]:
    with scope(tenant=world.tenant):
        return list(OutboxEvent.objects.filter(type=type_).select_related("tenant").order_by("pk"))


def rerun(handler: str, event: OutboxEvent) -> None:
    """The handler's second run for ``event``, as the dispatcher runs it (in the tenant's scope)."""
    found = handler_named(handler)
    assert found is not None and event.type in found.event_types
    with scope(tenant=event.tenant):
        found.func(event)


def test_start_trial_rerun_keeps_one_subscription(world):
    with transaction.atomic():
        emit_event(tenant=world.tenant, type="tenant.created", payload={"tenant": world.tenant.public_id})
    drain()
    with scope(tenant=world.tenant):
        first = Subscription.objects.get()
    [event] = events_of(world, "tenant.created")
    rerun("billing.start_trial", event)
    with scope(tenant=world.tenant):
        again = Subscription.objects.get()
    assert (again.pk, again.trial_ends_at, again.current_period_start) == (
        first.pk, first.trial_ends_at, first.current_period_start)


def test_metering_rerun_writes_one_row_per_event(world, subscribed):
    with scope(tenant=world.tenant):
        start_conversation(tenant=world.tenant, contact=world.contact)
    with transaction.atomic():
        emit_event(tenant=world.tenant, type="membership.created", payload={"membership": world.agent.public_id})
    change_plan(tenant=world.tenant, plan_code="starter", seats=4)  # writes subscription.seats_changed
    drain()
    metered = [*events_of(world, "conversation.created"), *events_of(world, "membership.created"),
               *events_of(world, "subscription.seats_changed")]
    assert {e.type for e in metered} == {"conversation.created", "membership.created", "subscription.seats_changed"}
    with scope(tenant=world.tenant):
        before = (UsageRecord.objects.count(), SeatChange.objects.count())
    for event in metered:
        rerun("billing.metering", event)
        rerun("billing.metering", event)
    with scope(tenant=world.tenant):
        assert (UsageRecord.objects.count(), SeatChange.objects.count()) == before
        assert UsageRecord.objects.filter(event_id=events_of(world, "conversation.created")[0].public_id).count() == 1


def checkout(world, *, seats: int, created: int) -> dict:
    return stripe_event("checkout.session.completed", {
        "id": "cs_test_1", "customer": "cus_test_1", "subscription": "sub_test_1",
        "client_reference_id": world.tenant.public_id,
        "metadata": {"tenant": world.tenant.public_id, "plan": "pro", "seats": str(seats)},
    }, created=created)


def test_provider_event_rerun_has_each_effect_once(world, subscribed, post_webhook):
    post_webhook(checkout(world, seats=7, created=NOW - 100))
    post_webhook(stripe_event("invoice.payment_failed", {"id": "in_1", "customer": "cus_test_1"}, created=NOW - 5))
    drain()
    with scope(tenant=world.tenant):
        before = (PlanChange.objects.count(), SeatChange.objects.count())
    assert len(events_of(world, "billing.payment_failed")) == 1
    mails = len(mail.outbox)
    for event in events_of(world, "billing.provider_event"):
        rerun("billing.apply_provider_event", event)
    drain()  # whatever a second run emitted would be sent now
    with scope(tenant=world.tenant):
        assert (PlanChange.objects.count(), SeatChange.objects.count()) == before
    assert len(events_of(world, "billing.payment_failed")) == 1
    assert len(mail.outbox) == mails
    assert ProviderEvent.objects.filter(applied_at__isnull=True).count() == 0


@pytest.fixture
def second_owner(world):
    user = User.objects.create_user("co-owner@example.com", "x-Secret-123")
    with scope(tenant=world.tenant):
        return Membership.objects.create(tenant=world.tenant, user=user, role=Membership.Role.OWNER)


def billing_emails_for_every_event(world) -> list[OutboxEvent]:
    """One outbox event of each type ``billing.notify_owner`` handles, all handled once."""
    change_plan(tenant=world.tenant, plan_code="starter", seats=4)
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get()
    close_due_periods(now=sub.current_period_end + timedelta(minutes=1))
    with scope(tenant=world.tenant):
        invoice = Invoice.objects.get()
    mark_invoice_paid(invoice=invoice, reference="bank transfer")
    payload = {"tenant": world.tenant.public_id}
    with transaction.atomic():
        emit_event(tenant=world.tenant, type="billing.payment_failed", payload={**payload, "provider_event": "evt_1"})
        emit_event(tenant=world.tenant, type="billing.dunning_reminder",
                   payload={**payload, "attempt": 1, "downgrade_on": "2026-12-31T00:00:00+00:00"})
        emit_event(tenant=world.tenant, type="billing.downgraded", payload={**payload, "plan": "free"})
    drain()
    handled = handler_named("billing.notify_owner")
    assert handled is not None
    with scope(tenant=world.tenant):
        events = list(OutboxEvent.objects.filter(type__in=handled.event_types).select_related("tenant").order_by("pk"))
    assert {e.type for e in events} == handled.event_types
    return events


def test_owner_email_rerun_sends_each_email_once(world, subscribed, second_owner):
    events = billing_emails_for_every_event(world)
    sent = [(m.subject, sorted(m.to)) for m in mail.outbox]
    owners = sorted([world.owner.user.email, second_owner.user.email])
    assert len(sent) == len(events) and all(to == owners for _, to in sent)
    for event in events:
        rerun("billing.notify_owner", event)
        rerun("billing.notify_owner", event)
    assert [(m.subject, sorted(m.to)) for m in mail.outbox] == sent


def test_a_new_owner_gets_a_rerun_email_and_the_others_do_not(world, subscribed):
    events = billing_emails_for_every_event(world)
    sent = len(mail.outbox)
    user = User.objects.create_user("new-owner@example.com", "x-Secret-123")
    with scope(tenant=world.tenant):
        Membership.objects.create(tenant=world.tenant, user=user, role=Membership.Role.OWNER)
    rerun("billing.notify_owner", events[0])
    assert [m.to for m in mail.outbox[sent:]] == [["new-owner@example.com"]]


def test_a_failed_send_is_sent_by_the_retry(world, subscribed, monkeypatch):
    with transaction.atomic():
        emit_event(tenant=world.tenant, type="billing.downgraded",
                   payload={"tenant": world.tenant.public_id, "plan": "free"})
    [event] = events_of(world, "billing.downgraded")
    real_send = EmailMessage.send

    def unreachable(self, fail_silently=False):
        raise ConnectionRefusedError("SMTP is down")

    monkeypatch.setattr(EmailMessage, "send", unreachable)
    with pytest.raises(ConnectionRefusedError):
        rerun("billing.notify_owner", event)
    monkeypatch.setattr(EmailMessage, "send", real_send)
    rerun("billing.notify_owner", event)
    rerun("billing.notify_owner", event)
    assert [m.to for m in mail.outbox] == [[world.owner.user.email]]
