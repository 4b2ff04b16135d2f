"""Usage is metered into the period it happened in, however late the metering handler runs (issue 10).

A conversation's ``conversation.created`` can be metered after its period closed (the worker was
down, the delivery was retried or replayed) or before the period it happened in was opened (the
last one ended, beat has not closed it yet). A late unit of an invoiced period is billed by an
adjustment line on the next invoice (docs/billing.md, "Metering").
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django_scopes import scope

from billing.invoicing import close_due_periods
from billing.models import Invoice, Subscription, UsageRecord
from billing.periods import add_month, month_before
from billing.subscriptions import change_plan, conversation_quota_state
from support.events.dispatcher import drain
from support.events.models import OutboxEvent
from support.events.outbox import emit_event


def sub_of(world) -> Subscription:
    with scope(tenant=world.tenant):
        return Subscription.objects.get()


def conversation_started(world, *, at=None) -> OutboxEvent:
    """A ``conversation.created`` event, not metered yet, that happened at ``at``."""
    with transaction.atomic():
        event = emit_event(tenant=world.tenant, type="conversation.created", payload={"conversation": {}})
    if at is not None:
        with scope(tenant=world.tenant):
            OutboxEvent.objects.filter(pk=event.pk).update(created_at=at)
            event.refresh_from_db()
    return event


def on_starter_with_conversations(world, count: int) -> Subscription:
    change_plan(tenant=world.tenant, plan_code="starter", seats=3)
    drain()
    sub = sub_of(world)
    with scope(tenant=world.tenant):
        UsageRecord.objects.bulk_create([
            UsageRecord(tenant=world.tenant, event_id=f"evt_bulk_{i}", metric="conversation",
                        period_start=sub.current_period_start, at=sub.current_period_start + timedelta(hours=1))
            for i in range(count)
        ])
    return sub


def invoices(world) -> list[Invoice]:
    with scope(tenant=world.tenant):
        return list(Invoice.objects.order_by("period_start").prefetch_related("lines"))


def test_a_conversation_metered_after_its_invoice_is_billed_on_the_next_one(world, subscribed):
    sub = on_starter_with_conversations(world, 1000)  # Starter includes 1,000
    event = conversation_started(world)  # the 1,001st, in this period
    first_end = sub.current_period_end
    assert close_due_periods(now=first_end + timedelta(minutes=1)) == 1  # before the metering ran
    [first] = invoices(world)
    assert not any("conversation" in line.description for line in first.lines.all())

    drain()  # now the handler meters it: into the closed period, late for its invoice
    with scope(tenant=world.tenant):
        unit = UsageRecord.objects.get(event_id=event.public_id)
    assert (unit.period_start, unit.late_for_id, unit.settled_by_id) == (sub.current_period_start, first.pk, None)
    assert conversation_quota_state(tenant=world.tenant).used == 0  # not counted in the new period

    assert close_due_periods(now=add_month(first_end) + timedelta(minutes=1)) == 1
    second = invoices(world)[1]
    adjustment = [line for line in second.lines.all() if first.number in line.description]
    assert len(adjustment) == 1
    assert (adjustment[0].quantity, adjustment[0].unit_price, adjustment[0].amount) == (
        Decimal(1), Decimal("0.05"), Decimal("0.05"))
    assert "1 conversation(s)" in adjustment[0].description and "1 over the 1000 included" in adjustment[0].description
    assert second.total == sum(line.amount for line in second.lines.all())
    with scope(tenant=world.tenant):
        assert UsageRecord.objects.get(pk=unit.pk).settled_by_id == second.pk

    close_due_periods(now=add_month(add_month(first_end)) + timedelta(minutes=1))
    third = invoices(world)[2]
    assert not any(first.number in line.description for line in third.lines.all())  # settled once


def test_a_late_conversation_within_the_quota_adds_nothing(world, subscribed):
    sub = on_starter_with_conversations(world, 10)
    conversation_started(world)
    close_due_periods(now=sub.current_period_end + timedelta(minutes=1))
    drain()
    close_due_periods(now=add_month(sub.current_period_end) + timedelta(minutes=1))
    second = invoices(world)[1]
    assert [line.description for line in second.lines.all()] == [
        f"Starter plan — 3 seat(s), {second.period_start:%d %b} – {second.period_end:%d %b %Y}"]


def test_a_conversation_after_the_period_ended_is_not_billed_in_it(world, subscribed):
    """The period ended, beat has not closed it yet, and the metering runs first."""
    sub = on_starter_with_conversations(world, 1000)
    event = conversation_started(world, at=sub.current_period_end + timedelta(seconds=30))
    drain()
    with scope(tenant=world.tenant):
        unit = UsageRecord.objects.get(event_id=event.public_id)
    assert (unit.period_start, unit.late_for_id) == (sub.current_period_end, None)
    close_due_periods(now=sub.current_period_end + timedelta(minutes=1))
    [first] = invoices(world)
    assert not any("conversation" in line.description for line in first.lines.all())
    assert conversation_quota_state(tenant=world.tenant).used == 1  # it counts in the period it happened in


def test_a_conversation_in_a_period_without_an_invoice_is_metered_there(world, subscribed):
    """Trial periods are billed nothing and get no invoice: the late unit is kept, billed nowhere."""
    sub = sub_of(world)
    event = conversation_started(world, at=sub.current_period_start + timedelta(days=2))
    assert close_due_periods(now=sub.current_period_end + timedelta(minutes=1)) == 0
    drain()
    with scope(tenant=world.tenant):
        unit = UsageRecord.objects.get(event_id=event.public_id)
    assert unit.late_for_id is None
    assert unit.period_start <= unit.at < sub.current_period_end
    assert conversation_quota_state(tenant=world.tenant).used == 0


def test_month_before_steps_back_one_calendar_month():
    moment = timezone.now().replace(year=2026, month=3, day=31, hour=12)
    assert month_before(moment) == moment.replace(month=2, day=28)
    assert month_before(moment.replace(month=1, day=15)) == moment.replace(year=2025, month=12, day=15)
    assert add_month(month_before(moment.replace(day=15))) == moment.replace(day=15)
