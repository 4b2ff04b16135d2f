"""Teams, labels and canned responses of a tenant: create, change, delete.

Names (and canned shortcuts) are unique per tenant; a clash is a ``ValidationFailed`` with code
``duplicate`` rather than a database error.
"""
from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from support.errors import ValidationFailed
from support.models import CannedResponse, Label, Membership, Team, Tenant

_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_SHORTCUT = re.compile(r"^[-a-zA-Z0-9_]{1,40}$")


def _name(value: str, *, max_length: int, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > max_length:
        raise ValidationFailed(_("%(what)s needs a name of 1–%(n)d characters") % {"what": what, "n": max_length},
                               code="invalid_name")
    return value


def _save_unique(obj: Team | Label | CannedResponse, *, clash: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError:
        raise ValidationFailed(clash, code="duplicate") from None


def _members(tenant: Tenant, members: list[Membership]) -> list[Membership]:
    if any(m.tenant_id != tenant.pk for m in members):
        raise ValidationFailed(_("Unknown agent"), code="invalid_member")
    return members


@transaction.atomic
def create_team(*, tenant: Tenant, name: str, members: list[Membership] | None = None) -> Team:
    team = Team(tenant=tenant, name=_name(name, max_length=80, what=_("A team")))
    _save_unique(team, clash=_("A team with this name exists"))
    if members:
        team.members.set(_members(tenant, members))
    return team


@transaction.atomic
def update_team(*, team: Team, name: str | None = None, members: list[Membership] | None = None) -> Team:
    if name is not None:
        team.name = _name(name, max_length=80, what=_("A team"))
        _save_unique(team, clash=_("A team with this name exists"))
    if members is not None:
        team.members.set(_members(team.tenant, members))
    return team


def delete_team(*, team: Team) -> None:
    team.delete()  # conversations keep going, without a team (SET_NULL)


def _color(value: str) -> str:
    if not _COLOR.match(value or ""):
        raise ValidationFailed(_("color must look like #1a2b3c"), code="invalid_color")
    return value.lower()


def create_label(*, tenant: Tenant, name: str, color: str = "#64748b") -> Label:
    label = Label(tenant=tenant, name=_name(name, max_length=50, what=_("A label")), color=_color(color))
    _save_unique(label, clash=_("A label with this name exists"))
    return label


def update_label(*, label: Label, name: str | None = None, color: str | None = None) -> Label:
    if name is not None:
        label.name = _name(name, max_length=50, what=_("A label"))
    if color is not None:
        label.color = _color(color)
    _save_unique(label, clash=_("A label with this name exists"))
    return label


def delete_label(*, label: Label) -> None:
    label.delete()


def _canned_fields(*, shortcut: str | None, title: str | None, body: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    if shortcut is not None:
        shortcut = shortcut.strip().lstrip("/")
        if not _SHORTCUT.match(shortcut):
            raise ValidationFailed(_("shortcut must be 1–40 letters, digits, - or _"), code="invalid_shortcut")
        fields["shortcut"] = shortcut
    if title is not None:
        if len(title) > 80:
            raise ValidationFailed(_("title is longer than 80 characters"), code="invalid_title")
        fields["title"] = title.strip()
    if body is not None:
        body = body.strip()
        if not body or len(body) > 5000:
            raise ValidationFailed(_("body must be 1–5000 characters"), code="invalid_body")
        fields["body"] = body
    return fields


def create_canned_response(*, tenant: Tenant, shortcut: str, body: str, title: str = "") -> CannedResponse:
    canned = CannedResponse(tenant=tenant, **_canned_fields(shortcut=shortcut, title=title, body=body))
    _save_unique(canned, clash=_("A canned response with this shortcut exists"))
    return canned


def update_canned_response(
    *, canned: CannedResponse, shortcut: str | None = None, title: str | None = None, body: str | None = None
) -> CannedResponse:
    for key, value in _canned_fields(shortcut=shortcut, title=title, body=body).items():
        setattr(canned, key, value)
    _save_unique(canned, clash=_("A canned response with this shortcut exists"))
    return canned


def delete_canned_response(*, canned: CannedResponse) -> None:
    canned.delete()
