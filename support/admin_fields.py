"""Admin form fields that spare tenant owners from typing JSON (business hours as plain lines)."""
from __future__ import annotations

import re
from typing import Any

from django import forms

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})$")

BUSINESS_HOURS_HELP = (
    "One line per open day: the day, then opening ranges separated by commas, e.g. "
    "“mon 09:00-12:00, 13:00-17:30”. Days: mon tue wed thu fri sat sun. Days not listed are closed. "
    "Leave empty to be always open. Times are in the time zone above."
)


def hours_to_text(value: Any) -> str:
    """``{"mon": [["09:00", "17:00"]]}`` → ``mon 09:00-17:00`` (days in week order)."""
    if not isinstance(value, dict):
        return ""
    lines = []
    for day in DAYS:
        ranges = value.get(day)
        if isinstance(ranges, list) and ranges:
            lines.append(f"{day} " + ", ".join(f"{pair[0]}-{pair[1]}" for pair in ranges
                                               if isinstance(pair, list | tuple) and len(pair) == 2))
    return "\n".join(lines)


def text_to_hours(text: str) -> dict[str, list[list[str]]]:
    """The inverse of ``hours_to_text``; raises ValidationError naming the line that is wrong."""
    hours: dict[str, list[list[str]]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        day, _, rest = line.partition(" ")
        day = day.lower()[:3]
        if day not in DAYS:
            raise forms.ValidationError(f"Line {number}: start with a day (mon … sun), e.g. “mon 09:00-17:00”.")
        if day in hours:
            raise forms.ValidationError(f"Line {number}: {day} is listed twice; put all its ranges on one line.")
        ranges = []
        for part in filter(None, (p.strip() for p in rest.split(","))):
            match = _RANGE.match(part)
            if not match:
                raise forms.ValidationError(f"Line {number}: “{part[:30]}” is not a range like 09:00-17:00.")
            ranges.append([t.zfill(5) for t in match.groups()])
        if not ranges:
            raise forms.ValidationError(f"Line {number}: give {day}'s opening hours, e.g. “{day} 09:00-17:00”.")
        hours[day] = ranges
    return hours


class BusinessHoursField(forms.CharField):
    """Edits the ``business_hours`` JSON as one line per day; cleans to the same dict shape."""

    widget = forms.Textarea(attrs={"rows": 7, "cols": 40, "placeholder": "mon 09:00-17:00\ntue 09:00-17:00"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", BUSINESS_HOURS_HELP)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return hours_to_text(value) if isinstance(value, dict) else value

    def clean(self, value: Any) -> dict[str, list[list[str]]]:
        text = super().clean(value) or ""
        return text_to_hours(text)

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return text_to_hours(data or "") != (initial or {})
        except forms.ValidationError:
            return True
