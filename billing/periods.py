"""Billing-period arithmetic: monthly periods anchored on the subscription's start day."""
from __future__ import annotations

import calendar
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def add_month(moment: datetime) -> datetime:
    """The same day next month, clamped to the month's last day (Jan 31 → Feb 28/29)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def month_before(moment: datetime) -> datetime:
    """The same day a month earlier, clamped to that month's last day (Mar 31 → Feb 28/29).

    Not an exact inverse of ``add_month`` after a clamp (Jan 31 → Feb 28 → Jan 28).
    """
    year, month = (moment.year - 1, 12) if moment.month == 1 else (moment.year, moment.month - 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def second_of(*, start: datetime, end: datetime, at: datetime) -> int:
    """Whole seconds of [start, end) elapsed at ``at``, clamped to the period.

    Everything that happens within the same second counts as simultaneous, so a change in the
    first second of a period counts as made at its start.
    """
    total = int((end - start).total_seconds())
    return min(max(int((at - start).total_seconds()), 0), total)


def fraction_between(*, start: datetime, end: datetime, since: datetime, until: datetime) -> Decimal:
    """Share of [start, end) between ``since`` and ``until``, in whole seconds, as an exact Decimal.

    Adjacent pieces of one period add up to exactly 1.
    """
    total = int((end - start).total_seconds())
    if total <= 0:
        return Decimal(0)
    seconds = second_of(start=start, end=end, at=until) - second_of(start=start, end=end, at=since)
    return Decimal(max(seconds, 0)) / Decimal(total)


def prorate(amount: Decimal, *, start: datetime, end: datetime, since: datetime, until: datetime) -> Decimal:
    """``amount`` for the part of [start, end) between ``since`` and ``until``, rounded to cents.

    Multiplies before dividing: the only rounding is the division's (to 28 digits, exact whenever
    the result has an exact decimal form, e.g. 45 × 864/2592000 = 0.015) and then ``money``'s.
    """
    total = int((end - start).total_seconds())
    if total <= 0:
        return money(Decimal(0))
    seconds = second_of(start=start, end=end, at=until) - second_of(start=start, end=end, at=since)
    return money(amount * max(seconds, 0) / total)


def fraction_remaining(*, start: datetime, end: datetime, at: datetime) -> Decimal:
    """Share of [start, end) left at ``at``, counted in whole seconds, as an exact Decimal."""
    return fraction_between(start=start, end=end, since=at, until=end)


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
