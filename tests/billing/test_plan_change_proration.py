"""Plan changes within a period: each plan is billed for the share of the period it was in force.

Every amount below is worked out by hand in its comment (November 2026 has 30 days, December 31);
each line is rounded half-up to cents and the total is the sum of the lines.
"""
from __future__ import annotations

import base64
import re
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django_scopes import scope

from billing.dunning import GRACE_DAYS, dunning_sweep
from billing.invoicing import close_period, compute_lines
from billing.models import Invoice, InvoiceLine, PlanChange, ProviderEvent, SeatChange, Subscription, UsageRecord
from billing.payments import apply_provider_event
from billing.pdf import invoice_pdf
from billing.plans import PRO, STARTER
from billing.subscriptions import change_plan, start_trial
from support.events.dispatcher import drain
from tests.billing.conftest import stripe_event

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def nov(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def sub_of(world) -> Subscription:
    with scope(tenant=world.tenant):
        return Subscription.objects.get(tenant=world.tenant)


def plan_changes(world) -> list[PlanChange]:
    with scope(tenant=world.tenant):
        return list(PlanChange.objects.order_by("at", "pk"))


def close_november(world) -> tuple[Invoice, list[InvoiceLine]]:
    sub = sub_of(world)
    assert (sub.current_period_start, sub.current_period_end) == (START, END)
    invoice = close_period(subscription=sub, now=END + timedelta(minutes=1))
    assert invoice is not None
    with scope(tenant=world.tenant):
        lines = list(invoice.lines.order_by("pk"))
    assert sum(line.amount for line in lines) == invoice.total
    assert all(line.amount != 0 for line in lines), "no zero-amount noise lines"
    return invoice, lines


def described(lines) -> list[tuple[str, Decimal]]:
    return [(line.description, line.amount) for line in lines]


@pytest.fixture
def on_starter(world):
    """A trial started on 1 Nov and turned into Starter with 3 seats in the same instant."""
    start_trial(tenant=world.tenant, now=START)
    change_plan(tenant=world.tenant, plan_code="starter", seats=3, now=START)
    return world


def test_a_period_without_changes_is_invoiced_as_before(world):
    start_trial(tenant=world.tenant, now=START)
    with scope(tenant=world.tenant):
        sub = Subscription.objects.get()
        sub.plan, sub.status, sub.seats, sub.trial_ends_at = "starter", "active", 3, None
        sub.save()
        UsageRecord.objects.bulk_create([
            UsageRecord(tenant=world.tenant, event_id=f"evt_conv_{i}", metric="conversation",
                        period_start=START, at=nov(2))
            for i in range(1010)
        ])
    invoice, lines = close_november(world)
    # The lines the invoicing wrote before plan changes were prorated, word for word.
    assert [(line.description, line.quantity, line.unit_price, line.amount) for line in lines] == [
        ("Starter plan — 3 seat(s), 01 Nov – 01 Dec 2026", Decimal("3"), Decimal("15.00"), Decimal("45.00")),
        ("10 conversation(s) over the 1000 included", Decimal("10"), Decimal("0.05"), Decimal("0.50")),
    ]
    assert (invoice.total, invoice.plan) == (Decimal("45.50"), "starter")
    assert plan_changes(world) == []


def test_upgrade_mid_period_bills_each_plan_for_its_days(on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=nov(15))
    invoice, lines = close_november(on_starter)
    assert described(lines) == [
        ("Starter plan — 3 seats, 1–14 Nov 2026 (prorated 46.7%)", Decimal("21.00")),  # 3 × 15 × 14/30
        ("Pro plan — 3 seats, 15–30 Nov 2026 (prorated 53.3%)", Decimal("62.40")),  # 3 × 39 × 16/30
    ]
    assert [(line.quantity, line.unit_price) for line in lines] == [
        (Decimal("1.4000"), Decimal("15.00")), (Decimal("1.6000"), Decimal("39.00"))]
    assert (invoice.total, invoice.plan) == (Decimal("83.40"), "pro")


def test_downgrade_mid_period_still_bills_the_days_on_the_old_plan(on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=START)  # the first second: Pro all along
    with scope(tenant=on_starter.tenant):
        on_starter.agent2.is_active = False  # Free has room for 2
        on_starter.agent2.save(update_fields=["is_active"])
    change_plan(tenant=on_starter.tenant, plan_code="free", now=nov(29))
    invoice, lines = close_november(on_starter)
    # Free has 2 seats included at €0: only the 28 days on Pro cost anything (3 × 39 × 28/30).
    assert described(lines) == [("Pro plan — 3 seats, 1–28 Nov 2026 (prorated 93.3%)", Decimal("109.20"))]
    assert (invoice.total, invoice.plan) == (Decimal("109.20"), "free")
    change = plan_changes(on_starter)[-1]
    assert (change.from_plan, change.to_plan, change.seats_before, change.seats_after, change.at) == (
        "pro", "free", 3, 2, nov(29))


def test_two_changes_in_one_period(on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=nov(11))
    change_plan(tenant=on_starter.tenant, plan_code="starter", now=nov(21))
    invoice, lines = close_november(on_starter)
    assert described(lines) == [
        ("Starter plan — 3 seats, 1–10 Nov 2026 (prorated 33.3%)", Decimal("15.00")),  # 3 × 15 × 10/30
        ("Pro plan — 3 seats, 11–20 Nov 2026 (prorated 33.3%)", Decimal("39.00")),  # 3 × 39 × 10/30
        ("Starter plan — 3 seats, 21–30 Nov 2026 (prorated 33.3%)", Decimal("15.00")),
    ]
    assert invoice.total == Decimal("69.00")
    assert [(c.from_plan, c.to_plan) for c in plan_changes(on_starter)] == [
        ("pro", "starter"), ("starter", "pro"), ("pro", "starter")]  # the first: trial → Starter on 1 Nov


def test_plan_and_seats_in_one_call_then_a_seat_inside_the_new_segment(on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", seats=5, now=nov(16))
    change_plan(tenant=on_starter.tenant, plan_code="pro", seats=6, now=nov(26))  # seats only: no plan change
    invoice, lines = close_november(on_starter)
    assert described(lines) == [
        ("Starter plan — 3 seats, 1–15 Nov 2026 (prorated 50.0%)", Decimal("22.50")),  # 3 × 15 × 15/30
        ("Pro plan — 5 seats, 16–30 Nov 2026 (prorated 50.0%)", Decimal("97.50")),  # 5 × 39 × 15/30
        ("1 Pro seat added 26 Nov 2026, for 26–30 Nov 2026 (prorated 16.7%)", Decimal("6.50")),  # 39 × 5/30
    ]
    assert invoice.total == Decimal("126.50")
    change = plan_changes(on_starter)[-1]
    assert (change.from_plan, change.to_plan, change.seats_before, change.seats_after) == ("starter", "pro", 3, 5)
    with scope(tenant=on_starter.tenant):
        seats = list(SeatChange.objects.order_by("at").values_list("delta", "at"))
    assert seats == [(-2, START), (2, nov(16)), (1, nov(26))]  # written with the change, not after the outbox
    drain()  # the metering handler sees the same events and adds nothing
    with scope(tenant=on_starter.tenant):
        assert SeatChange.objects.count() == 3


@pytest.mark.parametrize("offset", [timedelta(milliseconds=500), timedelta(seconds=1)])
def test_a_change_in_the_first_second_leaves_no_noise(on_starter, offset):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=START + offset)
    invoice, lines = close_november(on_starter)
    assert len(lines) == 1 and invoice.total == Decimal("117.00")  # 3 × 39; one second of Starter is €0.00
    if offset < timedelta(seconds=1):  # the same second as the start: an ordinary month of Pro
        assert lines[0].description == "Pro plan — 3 seat(s), 01 Nov – 01 Dec 2026"


def test_the_trial_part_of_a_period_is_not_billed(world):
    start_trial(tenant=world.tenant, now=START)
    change_plan(tenant=world.tenant, plan_code="starter", seats=3, now=nov(11))
    invoice, lines = close_november(world)
    # The trial's 5 seats until 11 Nov cost nothing; then 3 × 15 × 20/30.
    assert described(lines) == [("Starter plan — 3 seats, 11–30 Nov 2026 (prorated 66.7%)", Decimal("30.00"))]


def test_rounding_is_per_line_in_a_31_day_period():
    start, end = datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    change = PlanChange(at=datetime(2026, 12, 11, tzinfo=UTC), from_plan="starter", to_plan="pro",
                        from_status="active", to_status="active", seats_before=3, seats_after=3)
    lines = compute_lines(plan=STARTER, seats_at_start=3, changes=[], start=start, end=end, conversations=0,
                          plan_changes=[change])
    # 3 × 15 × 10/31 = 14.516… → 14.52 and 3 × 39 × 21/31 = 79.258… → 79.26 (unrounded sum 93.774…).
    assert described(lines) == [
        ("Starter plan — 3 seats, 1–10 Dec 2026 (prorated 32.3%)", Decimal("14.52")),
        ("Pro plan — 3 seats, 11–31 Dec 2026 (prorated 67.7%)", Decimal("79.26")),
    ]
    assert sum(line.amount for line in lines) == Decimal("93.78")


def test_exact_half_cents_round_up():
    change = PlanChange(at=START + timedelta(seconds=1440), from_plan="starter", to_plan="pro",
                        from_status="active", to_status="active", seats_before=3, seats_after=3)
    lines = compute_lines(plan=STARTER, seats_at_start=3, changes=[], start=START, end=END, conversations=0,
                          plan_changes=[change])
    # 3 × 15 × 1440/2592000 = 0.025 exactly → 0.03 (half-even would say 0.02);
    # 3 × 39 × 2590560/2592000 = 116.935 exactly → 116.94.
    assert [line.amount for line in lines] == [Decimal("0.03"), Decimal("116.94")]


def test_overage_follows_the_plan_in_force_at_period_end():
    conversations = 1200
    up = PlanChange(at=nov(21), from_plan="starter", to_plan="pro", from_status="active", to_status="active",
                    seats_before=1, seats_after=1)
    down = PlanChange(at=nov(21), from_plan="pro", to_plan="starter", from_status="active", to_status="active",
                      seats_before=1, seats_after=1)
    ends_on_pro = compute_lines(plan=STARTER, seats_at_start=1, changes=[], start=START, end=END,
                                conversations=conversations, plan_changes=[up])
    assert not any("conversation" in line.description for line in ends_on_pro)  # Pro: unlimited
    ends_on_starter = compute_lines(plan=PRO, seats_at_start=1, changes=[], start=START, end=END,
                                    conversations=conversations, plan_changes=[down])
    assert ends_on_starter[-1].description == "200 conversation(s) over the 1000 included"
    assert ends_on_starter[-1].amount == Decimal("10.00")  # 200 × 0.05


def test_a_late_close_bills_the_period_as_it_was(on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=END + timedelta(minutes=10))  # beat was late
    invoice = close_period(subscription=sub_of(on_starter), now=END + timedelta(hours=1))
    assert invoice is not None and invoice.total == Decimal("45.00") and invoice.plan == "starter"


def test_dunning_downgrade_is_a_plan_change(on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=START)
    with scope(tenant=on_starter.tenant):
        sub = Subscription.objects.get()
        sub.status, sub.past_due_since = "past_due", nov(5)
        sub.save()
    assert dunning_sweep(now=nov(5) + timedelta(days=GRACE_DAYS)) == 1  # 19 Nov
    assert (plan_changes(on_starter)[-1].source, plan_changes(on_starter)[-1].at) == ("dunning", nov(19))
    invoice, lines = close_november(on_starter)
    # Past due is still Pro: 3 × 39 × 18/30 until the downgrade, then Free.
    assert described(lines) == [("Pro plan — 3 seats, 1–18 Nov 2026 (prorated 60.0%)", Decimal("70.20"))]


def test_a_trial_ending_at_a_period_end_is_a_plan_change_at_that_moment(world):
    start_trial(tenant=world.tenant, now=START)
    assert close_period(subscription=sub_of(world), now=END + timedelta(minutes=1)) is None  # trial: no invoice
    [change] = plan_changes(world)
    assert (change.from_status, change.to_plan, change.at, change.source) == ("trialing", "free", END, "trial ended")


def test_plan_changes_stay_in_their_tenant(on_starter, outsider):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=nov(15))
    with scope(tenant=outsider.tenant):
        assert PlanChange.objects.count() == 0
    assert len(plan_changes(on_starter)) == 2


def test_invoice_page_pdf_and_billing_page_show_the_prorated_lines(client, on_starter):
    change_plan(tenant=on_starter.tenant, plan_code="pro", now=nov(15))
    invoice, _ = close_november(on_starter)
    client.force_login(on_starter.owner.user)
    page = client.get(f"/billing/invoices/{invoice.public_id}/").content.decode()
    assert "Starter plan — 3 seats, 1–14 Nov 2026 (prorated 46.7%)" in page
    assert ">1.4<" in page and ">21.00<" in page and "83.40 EUR" in page
    pdf = invoice_pdf(invoice)
    assert pdf.startswith(b"%PDF")
    # reportlab writes WinAnsi: "—" is \227, "–" is \226, and parentheses are escaped.
    assert r"Starter plan \227 3 seats, 1\22614 Nov 2026 \(prorated 46.7%\)" in _pdf_text(pdf)
    billing = client.get("/billing/").content.decode()
    assert "takes effect at once, for features and for billing" in billing
    assert InvoiceLine(quantity=Decimal("10.0000")).quantity_display == "10"  # never "1E+1"


def _pdf_text(pdf: bytes) -> str:
    """The page content streams of a reportlab PDF, decoded (ASCII85 and Flate filters)."""
    streams = []
    for match in re.finditer(rb"/Filter\s*\[?\s*((?:/\w+\s*)+)\]?[^>]*>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        body = match.group(2)
        for name in match.group(1).split():
            if name == b"/ASCII85Decode":
                body = base64.a85decode(body.strip(), adobe=True)
            elif name == b"/FlateDecode":
                body = zlib.decompress(body)
        streams.append(body.decode("latin-1"))
    return "\n".join(streams)


# --- Stripe ---------------------------------------------------------------------------------------

def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _checkout(world, *, created: datetime, event_id: str | None = None) -> dict:
    return stripe_event("checkout.session.completed", {
        "id": "cs_test_1", "customer": "cus_test_1", "subscription": "sub_test_1",
        "client_reference_id": world.tenant.public_id,
        "metadata": {"tenant": world.tenant.public_id, "plan": "pro", "seats": "3"},
    }, created=_ts(created), event_id=event_id)


def _updated(plan: str, *, created: datetime, status: str = "active", event_id: str | None = None) -> dict:
    return stripe_event("customer.subscription.updated", {
        "id": "sub_test_1", "customer": "cus_test_1", "status": status,
        "items": {"data": [{"quantity": 3}]}, "metadata": {"plan": plan},
    }, created=_ts(created), event_id=event_id)


def test_stripe_plan_changes_are_recorded_once_and_billed(world, post_webhook):
    start_trial(tenant=world.tenant, now=START)
    checkout = _checkout(world, created=START)
    downgrade = _updated("starter", created=nov(21), event_id="evt_down")
    for event in (checkout, checkout, downgrade, downgrade):  # every delivery twice
        assert post_webhook(event).status_code == 200
    drain()
    post_webhook(downgrade)
    drain()
    assert [(c.from_plan, c.from_status, c.to_plan, c.at, c.source) for c in plan_changes(world)] == [
        ("pro", "trialing", "pro", START, f"stripe {checkout['id']}"),
        ("pro", "active", "starter", nov(21), "stripe evt_down"),
    ]
    # The outbox delivering an applied event again finds its state already there: nothing new.
    apply_provider_event(provider_event_pk=ProviderEvent.objects.get(event_id="evt_down").pk)
    assert len(plan_changes(world)) == 2
    invoice, lines = close_november(world)
    assert described(lines) == [
        ("Pro plan — 3 seats, 1–20 Nov 2026 (prorated 66.7%)", Decimal("78.00")),  # 3 × 39 × 20/30
        ("Starter plan — 3 seats, 21–30 Nov 2026 (prorated 33.3%)", Decimal("15.00")),  # 3 × 15 × 10/30
    ]
    assert invoice.total == Decimal("93.00")


def test_stripe_out_of_order_and_status_only_events_record_no_change(world, post_webhook):
    start_trial(tenant=world.tenant, now=START)
    post_webhook(_checkout(world, created=START))
    post_webhook(_updated("starter", created=nov(21)))
    post_webhook(_updated("pro", created=nov(10)))  # older than the state applied: ignored
    post_webhook(_updated("starter", created=nov(22), status="past_due"))  # status only: same billed plan
    drain()
    assert [(c.to_plan, c.at) for c in plan_changes(world)] == [("pro", START), ("starter", nov(21))]
    post_webhook(stripe_event("customer.subscription.deleted", {
        "id": "sub_test_1", "customer": "cus_test_1", "status": "canceled", "metadata": {"plan": "starter"},
    }, created=_ts(nov(26))))
    drain()
    last = plan_changes(world)[-1]  # canceled bills Free from then on
    assert (last.from_plan, last.from_status, last.to_plan, last.to_status, last.at) == (
        "starter", "past_due", "starter", "canceled", nov(26))
    invoice, lines = close_november(world)
    assert [line.amount for line in lines] == [Decimal("78.00"), Decimal("7.50")]  # 39×3×20/30, 15×3×5/30
    assert invoice.plan == "free"
