"""Proration and invoice arithmetic with exact decimals."""
from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from billing.invoicing import compute_lines
from billing.models import SeatChange
from billing.periods import add_month, fraction_remaining
from billing.plans import FREE, PRO, STARTER

START = datetime(2026, 11, 1, tzinfo=UTC)
END = datetime(2026, 12, 1, tzinfo=UTC)


def test_add_month_clamps_to_month_end():
    assert add_month(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_month(datetime(2028, 1, 31, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert add_month(datetime(2026, 12, 15, tzinfo=UTC)) == datetime(2027, 1, 15, tzinfo=UTC)


def test_fraction_remaining_is_exact():
    mid = datetime(2026, 11, 16, tzinfo=UTC)
    assert fraction_remaining(start=START, end=END, at=mid) == Decimal(15) / Decimal(30)
    assert fraction_remaining(start=START, end=END, at=START) == 1
    assert fraction_remaining(start=START, end=END, at=END) == 0


def test_seats_and_prorated_additions():
    changes = [SeatChange(delta=2, at=datetime(2026, 11, 21, tzinfo=UTC)),  # 10 of 30 days left
               SeatChange(delta=-1, at=datetime(2026, 11, 11, tzinfo=UTC))]  # 20 of 30 days left
    lines = compute_lines(plan=STARTER, seats_at_start=3, changes=changes, start=START, end=END, conversations=10)
    amounts = [line.amount for line in lines]
    assert amounts == [Decimal("45.00"), Decimal("-10.00"), Decimal("10.00")]
    assert all(isinstance(a, Decimal) for a in amounts)


def test_rounding_is_half_up_to_cents():
    # 1 seat × 39.00 × 1/3 = 13.000… ; 1 seat × 15.00 × 7/30 = 3.50
    third = datetime(2026, 11, 21, tzinfo=UTC)
    lines = compute_lines(plan=PRO, seats_at_start=0, changes=[SeatChange(delta=1, at=third)],
                          start=START, end=END, conversations=0)
    assert [line.amount for line in lines] == [Decimal("13.00")]
    seven = datetime(2026, 11, 24, tzinfo=UTC)
    lines = compute_lines(plan=STARTER, seats_at_start=0, changes=[SeatChange(delta=1, at=seven)],
                          start=START, end=END, conversations=0)
    assert [line.amount for line in lines] == [Decimal("3.50")]


def test_quota_overage_is_billed_on_starter_only():
    lines = compute_lines(plan=STARTER, seats_at_start=1, changes=[], start=START, end=END, conversations=1234)
    assert lines[-1].amount == Decimal("11.70")  # 234 × 0.05
    assert compute_lines(plan=FREE, seats_at_start=2, changes=[], start=START, end=END, conversations=500) == []
