"""What an invoice line says, in the active language, from its kind and parameters.

A line is stored language-neutral: a ``kind`` (one of ``KINDS``) and JSON ``params`` (counts,
plan names, ISO dates, the prorated percentage as a string). ``describe`` writes it in the active
language when the invoice is read (page, PDF, email attachment), so one invoice reads in English
for one owner and in Chinese for another. The English wording is the one invoices have always
had; lines issued before kinds existed keep their stored English ``description``.

Dates are written with translatable format strings (Django's date format characters), so each
language orders day, month and year its own way: "1–14 Nov 2026", "2026年11月1日–14日".
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

SEATS = "seats"  # a whole period's seats: plan, seats, start, end
SEATS_PRORATED = "seats_prorated"  # a segment's seats: plan, seats, first, last, percent
SEATS_ADDED = "seats_added"  # a seat change: plan, count, day, first, last, percent
SEATS_REMOVED = "seats_removed"
OVERAGE = "overage"  # conversations over the quota: over, quota
LATE_USAGE = "late_usage"  # conversations metered after their invoice: units, first, last, invoice, extra, quota


def _day(value: date) -> str:
    return date_format(value, pgettext("invoice line: a day", "j M Y"))


def _days(first: date, last: date) -> str:
    """The calendar days first..last (inclusive), as short as the language writes them."""
    if first == last:
        return _day(first)
    if (first.year, first.month) == (last.year, last.month):
        return _("%(first)s–%(last)s") % {
            "first": date_format(first, pgettext("invoice line: first day of a range within one month", "j")),
            "last": date_format(last, pgettext("invoice line: last day of a range within one month", "j M Y")),
        }
    if first.year == last.year:
        return _("%(first)s – %(last)s") % {
            "first": date_format(first, pgettext("invoice line: first day of a range within one year", "j M")),
            "last": date_format(last, pgettext("invoice line: last day of a range within one year", "j M Y")),
        }
    return _("%(first)s – %(last)s") % {"first": _day(first), "last": _day(last)}


def _date(value: Any) -> date:
    return date.fromisoformat(str(value))


def _seats(p: Mapping[str, Any]) -> str:
    return _("%(plan)s plan — %(seats)s seat(s), %(start)s – %(end)s") % {
        "plan": p["plan"], "seats": p["seats"],
        "start": date_format(_date(p["start"]), pgettext("invoice line: a period's first day", "d M")),
        "end": date_format(_date(p["end"]), pgettext("invoice line: a period's end", "d M Y")),
    }


def _seats_prorated(p: Mapping[str, Any]) -> str:
    seats = ngettext("%(count)s seat", "%(count)s seats", p["seats"]) % {"count": p["seats"]}
    return _("%(plan)s plan — %(seats)s, %(days)s (prorated %(percent)s%%)") % {
        "plan": p["plan"], "seats": seats, "days": _days(_date(p["first"]), _date(p["last"])),
        "percent": p["percent"],
    }


def _seat_change(added: bool) -> Callable[[Mapping[str, Any]], str]:
    def describe_change(p: Mapping[str, Any]) -> str:
        if added:
            text = ngettext(
                "%(count)s %(plan)s seat added %(day)s, for %(days)s (prorated %(percent)s%%)",
                "%(count)s %(plan)s seats added %(day)s, for %(days)s (prorated %(percent)s%%)", p["count"])
        else:
            text = ngettext(
                "%(count)s %(plan)s seat removed %(day)s, for %(days)s (prorated %(percent)s%%)",
                "%(count)s %(plan)s seats removed %(day)s, for %(days)s (prorated %(percent)s%%)", p["count"])
        return text % {"count": p["count"], "plan": p["plan"], "day": _day(_date(p["day"])),
                       "days": _days(_date(p["first"]), _date(p["last"])), "percent": p["percent"]}
    return describe_change


def _overage(p: Mapping[str, Any]) -> str:
    return _("%(over)s conversation(s) over the %(quota)s included") % {"over": p["over"], "quota": p["quota"]}


def _late_usage(p: Mapping[str, Any]) -> str:
    return _("%(units)s conversation(s) of %(days)s metered after invoice %(invoice)s: "
             "%(extra)s over the %(quota)s included") % {
        "units": p["units"], "days": _days(_date(p["first"]), _date(p["last"])), "invoice": p["invoice"],
        "extra": p["extra"], "quota": p["quota"],
    }


KINDS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    SEATS: _seats,
    SEATS_PRORATED: _seats_prorated,
    SEATS_ADDED: _seat_change(added=True),
    SEATS_REMOVED: _seat_change(added=False),
    OVERAGE: _overage,
    LATE_USAGE: _late_usage,
}


def describe(kind: str, params: Mapping[str, Any]) -> str:
    """The line's text in the active language; ValueError for a kind this code does not know."""
    try:
        writer = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown invoice line kind {kind!r}") from None
    return writer(params)
