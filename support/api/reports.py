"""Report figures: conversation volume, first-response and resolution times, CSAT — by day and by agent.

Each conversation counts on the day it started (in the tenant's time zone), with whatever has
happened to it since: "of the conversations started on Monday, 40 are resolved, median time to
resolve 2 h". Rows are read once per report (a bounded date range) and aggregated here, so the
medians work the same on SQLite and PostgreSQL.

CSAT: ratings are 1–5; a rating of 4 or 5 counts as satisfied.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q
from django.utils import timezone

from support.models import Conversation, Membership, Tenant

SATISFIED_MIN = 4
MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Row:
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    status: str
    rating: int | None
    assignee_id: int | None


def tenant_zone(tenant: Tenant) -> ZoneInfo:
    try:
        return ZoneInfo(tenant.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def day_bounds(tenant: Tenant, since: date, until: date) -> tuple[datetime, datetime]:
    """[start of ``since``, end of ``until``) in the tenant's zone."""
    zone = tenant_zone(tenant)
    start = datetime.combine(since, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(until + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start, end


def _rows(tenant: Tenant, start: datetime, end: datetime) -> list[Row]:
    values = (
        Conversation.objects.with_scope(tenant=tenant)
        .filter(created_at__gte=start, created_at__lt=end)
        .values_list("created_at", "first_response_at", "resolved_at", "status", "rating", "assignee_id")
    )
    return [Row(*v) for v in values]


def _durations(pairs: Iterable[tuple[datetime, datetime | None]]) -> dict[str, Any]:
    seconds = [(b - a).total_seconds() for a, b in pairs if b is not None and b >= a]
    return {
        "count": len(seconds),
        "median_seconds": round(statistics.median(seconds), 1) if seconds else None,
        "average_seconds": round(statistics.fmean(seconds), 1) if seconds else None,
    }


def _csat(ratings: list[int]) -> dict[str, Any]:
    return {
        "ratings": len(ratings),
        "average": round(statistics.fmean(ratings), 2) if ratings else None,
        "satisfied_percent": (
            round(100 * sum(r >= SATISFIED_MIN for r in ratings) / len(ratings), 1) if ratings else None
        ),
    }


def figures(rows: list[Row]) -> dict[str, Any]:
    return {
        "conversations": len(rows),
        "resolved": sum(r.status == Conversation.Status.RESOLVED for r in rows),
        "first_response": _durations((r.created_at, r.first_response_at) for r in rows),
        "resolution": _durations(
            (r.created_at, r.resolved_at) for r in rows if r.status == Conversation.Status.RESOLVED
        ),
        "csat": _csat([r.rating for r in rows if r.rating is not None]),
    }


def by_day(*, tenant: Tenant, since: date, until: date) -> dict[str, Any]:
    start, end = day_bounds(tenant, since, until)
    zone = tenant_zone(tenant)
    rows = _rows(tenant, start, end)
    buckets: dict[date, list[Row]] = defaultdict(list)
    for row in rows:
        buckets[row.created_at.astimezone(zone).date()].append(row)
    days = []
    day = since
    while day <= until:
        days.append({"date": day.isoformat(), **figures(buckets.get(day, []))})
        day += timedelta(days=1)
    return {"time_zone": str(zone), "since": since.isoformat(), "until": until.isoformat(),
            "totals": figures(rows), "days": days}


def by_agent(*, tenant: Tenant, since: date, until: date) -> dict[str, Any]:
    start, end = day_bounds(tenant, since, until)
    rows = _rows(tenant, start, end)
    buckets: dict[int | None, list[Row]] = defaultdict(list)
    for row in rows:
        buckets[row.assignee_id].append(row)
    members = Membership.objects.with_scope(tenant=tenant).select_related("user").filter(
        Q(is_active=True) | Q(pk__in=[k for k in buckets if k is not None])
    ).order_by("created_at")
    agents = [
        {"agent": {"id": m.public_id, "name": m.user.name, "role": m.role}, **figures(buckets.get(m.pk, []))}
        for m in members
    ]
    return {"time_zone": str(tenant_zone(tenant)), "since": since.isoformat(), "until": until.isoformat(),
            "agents": agents, "unassigned": figures(buckets.get(None, []))}


def summary(*, tenant: Tenant, online_agents: int, now: datetime | None = None) -> dict[str, Any]:
    """Live figures for the dashboard: now, today (tenant's zone) by hour, and the last 30 days."""
    now = now or timezone.now()
    zone = tenant_zone(tenant)
    today = now.astimezone(zone).date()
    conversations = Conversation.objects.with_scope(tenant=tenant)
    today_start, today_end = day_bounds(tenant, today, today)
    counts = conversations.aggregate(
        open=Count("pk", filter=Q(status=Conversation.Status.OPEN)),
        waiting=Count("pk", filter=Q(status=Conversation.Status.OPEN, queued_at__isnull=False)),
        resolved_today=Count("pk", filter=Q(
            status=Conversation.Status.RESOLVED, resolved_at__gte=today_start, resolved_at__lt=today_end
        )),
    )
    since = today - timedelta(days=29)
    start, end = day_bounds(tenant, since, today)
    rows = _rows(tenant, start, end)
    by_hour = [0] * 24
    per_day: dict[date, int] = defaultdict(int)
    today_rows = []
    for row in rows:
        local = row.created_at.astimezone(zone)
        per_day[local.date()] += 1
        if local.date() == today:
            by_hour[local.hour] += 1
            today_rows.append(row)
    today_figures = figures(today_rows)
    return {
        "time_zone": str(zone),
        "open": counts["open"],
        "waiting": counts["waiting"],
        "online_agents": online_agents,
        "today": {
            "conversations": len(today_rows),
            "resolved": counts["resolved_today"],
            "first_response_median_seconds": today_figures["first_response"]["median_seconds"],
            "resolution_median_seconds": today_figures["resolution"]["median_seconds"],
        },
        "by_hour_today": [{"hour": h, "conversations": n} for h, n in enumerate(by_hour)],
        "by_day": [
            {"date": day.isoformat(), "conversations": per_day.get(day, 0)}
            for day in (since + timedelta(days=i) for i in range(30))
        ],
    }
