"""A workspace's own settings: its name, the widget's look and words, opening hours and the sites
allowed to embed the widget.

Owners and admins change them in the dashboard (/app/settings, through ``PATCH /api/v1/workspace``)
and in the admin; both check values with the cleaners here. Text is kept as text (markup is escaped
or set as textContent wherever it is shown); control characters and overlong values are refused.
"""
from __future__ import annotations

import re
import unicodedata
import zoneinfo
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from support.errors import PermissionDenied, ValidationFailed
from support.language import bcp47, django_code, language_codes
from support.models import Membership, Tenant
from support.services.install_check import MAX_ALLOWED_ORIGINS
from support.services.visitors import normalise_origin

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GREETING_MAX = 280
TEAM_NAME_MAX = 60
NAME_MAX = 100
RANGES_PER_DAY_MAX = 6
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
# Control characters other than newline and tab.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")

EDITABLE = ("name", "greeting", "greetings", "team_name", "color", "position", "prechat_form", "time_zone",
            "business_hours", "allowed_origins", "identity_verification")


class SettingsInvalid(ValidationFailed):
    """Some values are refused; ``fields`` maps each field to its message."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(" ".join(fields.values()), code="invalid")
        self.fields = fields


def clean_text(value: object, *, what: str, max_length: int, required: bool) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(_("%(what)s must be text") % {"what": what})
    text = unicodedata.normalize("NFC", value).strip()
    if _CONTROL.search(text):
        raise ValidationFailed(_("%(what)s contains control characters") % {"what": what})
    if required and not text:
        raise ValidationFailed(_("%(what)s is required") % {"what": what})
    if len(text) > max_length:
        raise ValidationFailed(_("%(what)s must be at most %(max)d characters (it has %(length)d)")
                               % {"what": what, "max": max_length, "length": len(text)})
    return text


def clean_color(value: object) -> str:
    if not isinstance(value, str) or not _HEX_COLOR.match(value):
        raise ValidationFailed(_("Use a colour like #4f46e5"))
    return value.lower()


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def clean_time_zone(value: object) -> str:
    if not isinstance(value, str) or value not in time_zones():
        raise ValidationFailed(_("Unknown time zone; use a name like Europe/Paris"))
    return value


def clean_business_hours(value: object) -> dict[str, list[list[str]]]:
    """``{"mon": [["09:00", "17:00"]], …}``: each day's ranges sorted, none overlapping; ``{}`` = always open."""
    if value in (None, {}):
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(_('Use an object like {"mon": [["09:00", "17:00"]]}'))
    hours: dict[str, list[list[str]]] = {}
    for day, ranges in value.items():
        if day not in DAYS:
            raise ValidationFailed(_("Unknown day %(day)s; use %(days)s")
                                   % {"day": repr(str(day)[:10]), "days": ", ".join(DAYS)})
        if not isinstance(ranges, list) or len(ranges) > RANGES_PER_DAY_MAX:
            raise ValidationFailed(_("%(day)s: give a list of at most %(n)d [open, close] pairs")
                                   % {"day": day, "n": RANGES_PER_DAY_MAX})
        spans: list[list[str]] = []
        for pair in ranges:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(t, str) and _HHMM.match(t) for t in pair)):
                raise ValidationFailed(_('%(day)s: each range is ["HH:MM", "HH:MM"]') % {"day": day})
            if pair[0] >= pair[1]:
                raise ValidationFailed(_("%(day)s: %(open)s–%(close)s closes before it opens")
                                       % {"day": day, "open": pair[0], "close": pair[1]})
            spans.append([pair[0], pair[1]])
        spans.sort()
        for before, after in zip(spans, spans[1:], strict=False):
            if after[0] < before[1]:
                raise ValidationFailed(_("%(day)s: %(first)s and %(second)s overlap") % {
                    "day": day, "first": f"{before[0]}–{before[1]}", "second": f"{after[0]}–{after[1]}"})
        hours[day] = spans
    return {day: hours[day] for day in DAYS if day in hours}


def clean_origins(value: object) -> list[str]:
    """Allowed widget origins (``https://example.com`` or with a port), each once."""
    if not isinstance(value, list):
        raise ValidationFailed(_("Give a list of origins"))
    origins: list[str] = []
    for item in value:
        text = item.strip() if isinstance(item, str) else ""
        origin = normalise_origin(text) if 0 < len(text) <= 200 else None
        rest = text.split("://", 1)[-1]
        if origin is None or "/" in rest.rstrip("/") or "?" in rest or "#" in rest or "@" in rest:
            raise ValidationFailed(_("“%(line)s” is not an origin like https://example.com")
                                   % {"line": str(item)[:100]})
        if origin not in origins:
            origins.append(origin)
    if len(origins) > MAX_ALLOWED_ORIGINS:
        raise ValidationFailed(_("At most %(n)d origins") % {"n": MAX_ALLOWED_ORIGINS})
    return origins


def greeting_languages() -> list[str]:
    """The languages with a greeting of their own (Django codes): all but the default language's, which
    is ``Tenant.greeting``."""
    return [code for code in language_codes() if code != settings.LANGUAGE_CODE]


def clean_greetings(value: object) -> dict[str, str]:
    """``{"zh-Hans": "…"}`` (browser tags or Django codes) as stored: Django codes, blanks dropped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed(_('Give the greetings as {"zh-Hans": "…"}'))
    allowed = greeting_languages()
    out: dict[str, str] = {}
    for tag, text in value.items():
        code = django_code(str(tag)) if len(str(tag)) <= 20 else ""
        if code not in allowed:
            raise ValidationFailed(_("Unknown language %(tag)s; use %(languages)s") % {
                "tag": repr(str(tag)[:20]), "languages": ", ".join(bcp47(c) for c in allowed)})
        what = _("The greeting (%(language)s)") % {"language": bcp47(code)}
        cleaned = clean_text(text, what=what, max_length=GREETING_MAX, required=False)
        if cleaned:
            out[code] = cleaned
    return out


def _choice(value: object, choices: list[str], what: str) -> str:
    if value not in choices:
        raise ValidationFailed(_("%(what)s is one of %(choices)s") % {"what": what, "choices": ", ".join(choices)})
    return str(value)


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(_("%(what)s must be true or false") % {"what": what})
    return value


_CLEANERS: dict[str, Any] = {
    "name": lambda v: clean_text(v, what=_("The workspace name"), max_length=NAME_MAX, required=True),
    "greeting": lambda v: clean_text(v, what=_("The greeting"), max_length=GREETING_MAX, required=True),
    "greetings": clean_greetings,
    "team_name": lambda v: clean_text(v, what=_("The team name"), max_length=TEAM_NAME_MAX, required=False),
    "color": clean_color,
    "position": lambda v: _choice(v, Tenant.Position.values, _("The position")),
    "prechat_form": lambda v: _bool(v, _("The pre-chat form")),
    "time_zone": clean_time_zone,
    "business_hours": clean_business_hours,
    "allowed_origins": clean_origins,
    "identity_verification": lambda v: _choice(v, Tenant.Verification.values, _("Identity verification")),
}


def settings_of(tenant: Tenant) -> dict[str, Any]:
    """The editable settings, greetings keyed by browser tag (``zh-Hans``) as the widget reads them."""
    out = {field: getattr(tenant, field) for field in EDITABLE}
    stored = tenant.greetings if isinstance(tenant.greetings, dict) else {}
    out["greetings"] = {bcp47(code): text for code, text in stored.items() if code in greeting_languages()}
    return out


def update_workspace(*, tenant: Tenant, actor: Membership | None, changes: dict[str, Any]) -> Tenant:
    """Apply ``changes`` (any of ``EDITABLE``) all or nothing; ``SettingsInvalid`` names each bad field.

    ``actor`` is the member making the change (owners and admins only), or None for an API token
    with write access (its caller was checked as the tenant's integration).
    """
    if actor is not None and (actor.tenant_id != tenant.pk or not actor.is_active or not actor.is_admin):
        raise PermissionDenied(_("Only owners and admins change the workspace settings"), code="admin_required")
    unknown = sorted(set(changes) - set(EDITABLE))
    errors: dict[str, str] = {field: _("This setting cannot be changed here") for field in unknown}
    clean: dict[str, Any] = {}
    for field, value in changes.items():
        if field in unknown:
            continue
        try:
            clean[field] = _CLEANERS[field](value)
        except ValidationFailed as exc:
            errors[field] = exc.detail
    if errors:
        raise SettingsInvalid(errors)
    if not clean:
        return tenant
    with transaction.atomic():
        locked = Tenant.objects.select_for_update().get(pk=tenant.pk)
        for field, value in clean.items():
            setattr(locked, field, value)
        locked.save(update_fields=list(clean))
    for field, value in clean.items():
        setattr(tenant, field, value)
    return tenant
