"""A period billed at nothing at all (Free or trial throughout) gets no invoice, number or email;
a period with any paid part is invoiced and emailed as before (issue 7)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django_scopes import scope

from billing.invoicing import close_due_periods, close_period
from billing.models import Invoice, InvoiceSequence, Subscription
from billing.subscriptions import change_plan, start_trial
from support.events.dispatcher import drain
from support.models import Membership

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def nov(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def sub_of(world) -> Subscription:
    with scope(tenant=world.tenant):
        return Subscription.objects.get()


def invoices(world) -> list[Invoice]:
    with scope(tenant=world.tenant):
        return list(Invoice.objects.order_by("period_start"))


def last_number() -> int:
    seq = InvoiceSequence.objects.filter(year=2026).first()
    return seq.last_number if seq else 0


def mails_to(world) -> list[str]:
    return [m.subject for m in mail.outbox if m.to == [world.owner.user.email]]


def two_members(world) -> None:
    """Free allows two seats: one of the fixture's three members leaves first."""
    with scope(tenant=world.tenant):
        Membership.objects.filter(pk=world.agent2.pk).update(is_active=False)


@pytest.fixture
def on_free(world):
    two_members(world)
    start_trial(tenant=world.tenant, now=START)
    change_plan(tenant=world.tenant, plan_code="free", now=START)
    return world


def test_a_free_period_is_not_invoiced_and_uses_no_number(on_free, outsider):
    world = on_free
    start_trial(tenant=outsider.tenant, now=START)
    change_plan(tenant=outsider.tenant, plan_code="starter", seats=3, now=START)

    assert close_period(subscription=sub_of(world), now=END + timedelta(minutes=1)) is None
    assert invoices(world) == [] and last_number() == 0
    sub = sub_of(world)
    assert (sub.current_period_start, sub.plan) == (END, "free")  # the period moved on all the same

    [theirs] = [close_period(subscription=sub_of(outsider), now=END + timedelta(minutes=2))]
    assert theirs is not None and theirs.number == "SB-2026-000001"  # no gap where the Free period was
    assert theirs.total == Decimal("45.00")  # 3 × €15
    drain()
    assert mails_to(world) == []
    assert [s for s in mails_to(outsider) if "SB-2026-000001" in s]

    # Every later Free month stays silent too.
    assert close_due_periods(now=datetime(2027, 3, 1, 0, 1, tzinfo=UTC)) == 3  # the outsider's Dec, Jan, Feb
    drain()
    assert invoices(world) == [] and mails_to(world) == []
    assert sub_of(world).current_period_start == datetime(2027, 3, 1, tzinfo=UTC)


def test_a_trial_then_free_period_is_not_invoiced(world):
    two_members(world)
    start_trial(tenant=world.tenant, now=START)
    change_plan(tenant=world.tenant, plan_code="free", now=nov(10))
    assert close_period(subscription=sub_of(world), now=END + timedelta(minutes=1)) is None
    drain()
    assert invoices(world) == [] and mails_to(world) == [] and last_number() == 0


def test_a_paid_part_then_free_is_invoiced_and_emailed(world):
    two_members(world)
    start_trial(tenant=world.tenant, now=START)
    change_plan(tenant=world.tenant, plan_code="pro", seats=3, now=START)
    change_plan(tenant=world.tenant, plan_code="free", now=nov(29))
    invoice = close_period(subscription=sub_of(world), now=END + timedelta(minutes=1))
    assert invoice is not None and invoice.number == "SB-2026-000001"
    assert invoice.total == Decimal("109.20")  # 3 × 39 × 28/30; Free costs nothing
    assert invoice.status == "open"
    drain()
    assert [s for s in mails_to(world) if invoice.number in s]


def test_a_paid_part_that_rounds_to_nothing_is_still_invoiced(on_free):
    """Starter for one second (2 × €15 × 1/2,592,000 s rounds to €0.00): the period had a paid
    plan, so it gets its invoice — €0.00, settled at once — and its email, and a number."""
    world = on_free
    change_plan(tenant=world.tenant, plan_code="starter", seats=2, now=nov(10))
    change_plan(tenant=world.tenant, plan_code="free", now=nov(10) + timedelta(seconds=1))
    invoice = close_period(subscription=sub_of(world), now=END + timedelta(minutes=1))
    assert invoice is not None and invoice.number == "SB-2026-000001"
    assert (invoice.total, invoice.status) == (Decimal("0.00"), "paid")
    drain()
    assert [s for s in mails_to(world) if invoice.number in s]
