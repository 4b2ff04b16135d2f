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


def fraction_remaining(*, start: datetime, end: datetime, at: datetime) -> Decimal:
    """Share of [start, end) left at ``at``, counted in whole seconds, as an exact Decimal."""
    if at <= start:
        return Decimal(1)
    if at >= end:
        return Decimal(0)
    total = int((end - start).total_seconds())
    left = int((end - at).total_seconds())
    return Decimal(left) / Decimal(total)


def money(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
