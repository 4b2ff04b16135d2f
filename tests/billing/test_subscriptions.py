"""Trials, seat limits, quota behaviour, plan features, period closing, invoices and dunning."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scope

from billing.dunning import GRACE_DAYS, dunning_sweep
from billing.invoicing import close_due_periods
from billing.models import Invoice, Subscription, UsageRecord
from billing.payments import mark_invoice_paid
from billing.pdf import invoice_pdf
from billing.subscriptions import (
    SeatLimitReached,
    change_plan,
    check_can_add_seat,
    conversation_quota_state,
    has_feature,
    start_trial,
)
from support.events.dispatcher import drain
from support.events.handlers import handler_named
from support.events.models import OutboxEvent
from support.events.outbox import emit_event
from support.models import Membership, User
from support.services.conversations import start_conversation


def sub_of(world) -> Subscription:
    with scope(tenant=world.tenant):
        return Subscription.objects.get(tenant=world.tenant)


_extra = iter(range(10_000))


def add_members(world, n):
    with scope(tenant=world.tenant):
        for _ in range(n):
            i = next(_extra)
            user = User.objects.create_user(f"extra{i}@{world.tenant.slug}.example", "x-Secret-123")
            Membership.objects.create(tenant=world.tenant, user=user)


def test_new_tenant_starts_a_trial_through_the_outbox(world):
    from django.db import transaction
    with transaction.atomic():
        emit_event(tenant=world.tenant, type="tenant.created", payload={"tenant": world.tenant.public_id})
    drain()
    sub = sub_of(world)
    assert sub.status == "trialing" and sub.trial_ends_at is not None and sub.seats == 5


def test_seat_limit_refuses_with_a_way_out(world, subscribed):
    add_members(world, 1)  # 3 from the fixture + 1 = 4 of 5 trial seats
    check_can_add_seat(tenant=world.tenant)
    add_members(world, 1)
    with pytest.raises(SeatLimitReached) as exc:
        check_can_add_seat(tenant=world.tenant)
    assert "5 seats" in exc.value.detail and "/billing/" in exc.value.detail


def test_change_plan_cannot_go_below_seats_in_use(world, subscribed):
    with pytest.raises(Exception, match="seats are in use"):
        change_plan(tenant=world.tenant, plan_code="starter", seats=2)
    sub = change_plan(tenant=world.tenant, plan_code="starter", seats=4)
    assert (sub.plan, sub.seats, sub.status) == ("starter", 4, "active")


def test_free_plan_over_quota_degrades_to_offline(world, subscribed):
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get(tenant=world.tenant)
        sub.plan, sub.status = "free", "active"
        sub.save()
        UsageRecord.objects.bulk_create([
            UsageRecord(tenant=world.tenant, event_id=f"evt_{i}", metric="conversation",
                        period_start=sub.current_period_start, at=timezone.now())
            for i in range(100)
        ])
    state = conversation_quota_state(tenant=world.tenant)
    assert (state.used, state.quota, state.over, state.behaviour) == (100, 100, True, "offline")
    assert not has_feature(tenant=world.tenant, feature="api")


def test_conversations_are_metered_once_per_event(world, subscribed):
    with scope(tenant=world.tenant):
        start_conversation(tenant=world.tenant, contact=world.contact)
        [event] = OutboxEvent.objects.filter(type="conversation.created").select_related("tenant")
    drain()
    metering = handler_named("billing.metering")
    assert metering is not None
    with scope(tenant=world.tenant):
        metering.func(event)  # the handler's second run for the same event (a worker died before "done")
    assert conversation_quota_state(tenant=world.tenant).used == 1


def test_closing_a_period_issues_one_numbered_invoice_with_pdf_and_email(world, subscribed):
    change_plan(tenant=world.tenant, plan_code="starter", seats=4)
    drain()
    sub = sub_of(world)
    later = sub.current_period_end + timedelta(minutes=1)
    assert close_due_periods(now=later) == 1
    assert close_due_periods(now=later) == 0
    with scope(tenant=world.tenant):
        invoice = Invoice.objects.get(tenant=world.tenant)
        lines = list(invoice.lines.order_by("pk"))
    assert invoice.number.startswith(f"SB-{invoice.period_end.year}-")
    # Trial → Starter with 4 seats in the period's first second: 4 × 15 for the whole period (the trial costs nothing).
    assert invoice.total == Decimal("60.00")
    assert sum(line.amount for line in lines) == invoice.total
    drain()
    invoice_mails = [m for m in mail.outbox if invoice.number in m.subject]
    assert len(invoice_mails) == 1
    assert invoice_mails[0].attachments[0][0] == f"{invoice.number}.pdf"
    assert invoice_pdf(invoice).startswith(b"%PDF")


def test_trial_without_a_plan_ends_on_free_keeping_data(world, subscribed):
    sub = sub_of(world)
    later = sub.trial_ends_at + timedelta(days=40)
    close_due_periods(now=later)
    sub = sub_of(world)
    assert (sub.plan, sub.status) == ("free", "active")
    with scope(tenant=world.tenant):
        assert Invoice.objects.count() == 0
        assert Membership.objects.count() == 3


def test_manual_payment_marks_paid_once(world, subscribed):
    change_plan(tenant=world.tenant, plan_code="pro", seats=3)
    close_due_periods(now=sub_of(world).current_period_end + timedelta(seconds=1))
    with scope(tenant=world.tenant):
        invoice = Invoice.objects.get()
    mark_invoice_paid(invoice=invoice, reference="bank transfer 42")
    mark_invoice_paid(invoice=invoice, reference="again")
    drain()
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.payment_reference == "bank transfer 42"
    assert len([m for m in mail.outbox if "Payment received" in m.subject]) == 1


def test_dunning_reminds_then_downgrades_without_deleting(world, subscribed):
    change_plan(tenant=world.tenant, plan_code="pro", seats=3)
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get()
        start = timezone.now()
        sub.status, sub.past_due_since = "past_due", start
        sub.save()
    assert dunning_sweep(now=start + timedelta(hours=1)) == 0
    assert dunning_sweep(now=start + timedelta(days=1, hours=1)) == 1
    assert dunning_sweep(now=start + timedelta(days=1, hours=2)) == 0  # one reminder per step
    assert dunning_sweep(now=start + timedelta(days=7, hours=1)) == 1  # days 3 and 7 reached: one catch-up
    assert dunning_sweep(now=start + timedelta(days=GRACE_DAYS)) == 1
    drain()
    sub = sub_of(world)
    assert (sub.plan, sub.status) == ("free", "active")
    subjects = [m.subject for m in mail.outbox]
    assert sum("overdue" in s for s in subjects) == 2
    assert sum("Free plan" in s for s in subjects) == 1
    with scope(tenant=world.tenant):
        assert Membership.objects.count() == 3


def test_start_trial_is_idempotent(world):
    a = start_trial(tenant=world.tenant)
    b = start_trial(tenant=world.tenant)
    assert a.pk == b.pk
