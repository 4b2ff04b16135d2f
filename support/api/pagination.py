"""Keyset (cursor) pagination: ``{"results": [...], "next": "<url with ?cursor=…>" | null}``.

A cursor holds the ordering values of the last row of the page (opaque ids, never pks), so a
page costs one indexed range scan however deep it is, and rows inserted meanwhile never shift
later pages the way OFFSET would.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.utils.urls import replace_query_param

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


@dataclass
class Page:
    rows: list[Any]
    next_url: str | None


def parse_limit(request: Request, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    raw = request.query_params.get("limit")
    if raw in (None, ""):
        return default
    try:
        value = int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise serializers.ValidationError({"limit": ["Must be an integer."]}, code="invalid") from None
    if not 1 <= value <= maximum:
        raise serializers.ValidationError({"limit": [f"Must be between 1 and {maximum}."]}, code="invalid")
    return value


def _encode(values: list[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode(cursor: str, fields: list[models.Field[Any, Any]]) -> list[Any]:
    invalid = serializers.ValidationError({"cursor": ["Invalid cursor."]}, code="invalid")
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid from None
    if not isinstance(raw, list) or len(raw) != len(fields):
        raise invalid
    values: list[Any] = []
    for field, value in zip(fields, raw, strict=True):
        if isinstance(field, models.DateTimeField):
            parsed = parse_datetime(value) if isinstance(value, str) else None
            if parsed is None:
                raise invalid
            values.append(parsed)
        elif isinstance(field, models.IntegerField | models.BigIntegerField):
            if not isinstance(value, int) or isinstance(value, bool):
                raise invalid
            values.append(value)
        else:
            if not isinstance(value, str) or len(value) > 200:
                raise invalid
            values.append(value)
    return values


def paginate(request: Request, queryset: QuerySet[Any], *, ordering: tuple[str, ...]) -> Page:
    """One page of ``queryset`` ordered by ``ordering`` (non-null fields, the last one unique)."""
    limit = parse_limit(request)
    names = [o.lstrip("-") for o in ordering]
    fields = [queryset.model._meta.get_field(name) for name in names]
    cursor = request.query_params.get("cursor")
    if cursor:
        values = _decode(cursor, fields)  # type: ignore[arg-type]
        queryset = queryset.filter(_after(ordering, values))
    rows = list(queryset.order_by(*ordering)[: limit + 1])
    next_url = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        token = _encode([getattr(last, name) for name in names])
        next_url = replace_query_param(request.build_absolute_uri(), "cursor", token)
    return Page(rows=rows, next_url=next_url)


def _after(ordering: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in ``ordering``: (a > x) or (a = x and b > y) or …

    The leading ``a >= x`` is implied by that, but spelled out: it is a plain range on the first
    column that an index can seek to, where the OR alone would make the planner scan.
    """
    condition = Q()
    equal_so_far = Q()
    for order, value in zip(ordering, values, strict=True):
        name = order.lstrip("-")
        op = "lt" if order.startswith("-") else "gt"
        condition |= equal_so_far & Q(**{f"{name}__{op}": value})
        equal_so_far &= Q(**{name: value})
    first = ordering[0]
    seek = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
    return seek & condition
