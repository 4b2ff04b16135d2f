"""Presence: who is online, derived from live connections on any node, with heartbeats and expiry.

Transports call ``connection_opened`` / ``connection_heartbeat`` (every
``PRESENCE_HEARTBEAT_SECONDS``) / ``connection_closed``; a connection not heard of for
``PRESENCE_TTL_SECONDS`` counts as gone, and ``sweep`` (a Celery beat task) removes such
connections and announces the change, so a crashed node's agents fade to offline.

An agent is *online* when connected and available, *away* when connected and set away, else
*offline*. When that derived status changes we publish ``presence.changed`` to the tenant's
presence group (a wake-up: receivers call ``agents_presence``/``team_online``) and write an
``agent.presence_changed`` outbox event (auto-assignment drains the queue on it).

All functions are synchronous and may touch the database: async callers wrap them in
``database_sync_to_async``. Time comes from ``clock()`` or an explicit ``now`` (tests freeze it).

While the store (Redis) is unreachable, reads answer as if nobody were connected (every agent
offline, the team not online) and writes fail; transports log the failure and the next heartbeat
writes again (docs/operations.md, "When Redis is down").
"""
from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.db import transaction
from django_scopes import scope

from push.presence_store import Subject, Transition, derived_status, get_store
from support.events import fanout
from support.events.outbox import emit_event
from support.failsoft_cache import REDIS_DOWN
from support.models import Membership, Tenant
from support.services import accounts

log = logging.getLogger(__name__)

KINDS = ("agent", "contact")
TRANSPORTS = ("ws", "longpoll", "mqtt")


def clock() -> float:
    """Seconds since the epoch; tests replace this to freeze time."""
    return time.time()


def _ttl() -> float:
    return float(settings.PRESENCE_TTL_SECONDS)


def _subject(tenant_id: int, kind: str, subject_id: int) -> Subject:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return Subject(int(tenant_id), kind, int(subject_id))


def _available(subject: Subject) -> bool:
    """Contacts are always 'available'; agents per their Membership (inactive ones never)."""
    if subject.kind != "agent":
        return True
    row = (
        Membership.objects.with_scope(tenant=subject.tenant_id)
        .filter(pk=subject.subject_id)
        .values_list("availability", "is_active")
        .first()
    )
    return row is not None and row[1] and row[0] == Membership.Availability.AVAILABLE


def _apply(op: str, subject: Subject, connection_id: str, now: float | None) -> Transition:
    if not connection_id or not isinstance(connection_id, str):
        raise ValueError("connection_id must be a non-empty string")
    at = clock() if now is None else now
    transition = get_store().apply(
        op=op,  # type: ignore[arg-type]
        subject=subject, connection_id=connection_id, expires_at=at + _ttl(), now=at,
        available=_available(subject),
    )
    if subject.kind == "agent" and transition.changed:
        _announce(subject, transition)
    return transition


def connection_opened(
    *, tenant_id: int, kind: str, subject_id: int, connection_id: str, transport: str, now: float | None = None
) -> None:
    """A socket or long-poll session of an agent or contact started (on this or any node)."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {TRANSPORTS}, got {transport!r}")
    _apply("touch", _subject(tenant_id, kind, subject_id), connection_id, now)


def connection_heartbeat(
    *, tenant_id: int, kind: str, subject_id: int, connection_id: str, now: float | None = None
) -> None:
    """The connection is still alive; also revives one that a sweep already expired."""
    _apply("touch", _subject(tenant_id, kind, subject_id), connection_id, now)


def connection_closed(
    *, tenant_id: int, kind: str, subject_id: int, connection_id: str, now: float | None = None
) -> None:
    _apply("drop", _subject(tenant_id, kind, subject_id), connection_id, now)


def is_connected(*, tenant_id: int, kind: str, subject_id: int, now: float | None = None) -> bool:
    at = clock() if now is None else now
    return _live_counts([_subject(tenant_id, kind, subject_id)], at)[0] > 0


def _live_counts(subjects: list[Subject], at: float) -> list[int]:
    """Live connections per subject; none while the store cannot be read (presence is advisory)."""
    try:
        return get_store().live_counts(subjects=subjects, now=at)
    except REDIS_DOWN as exc:
        log.warning("presence store unreachable (%s): answering that nobody is connected", exc)
        return [0] * len(subjects)


def _agent_rows(tenant_id: int) -> list[Membership]:
    return list(
        Membership.objects.with_scope(tenant=tenant_id)
        .filter(is_active=True)
        .select_related("user")
        .order_by("pk")
    )


def _statuses(tenant_id: int, members: list[Membership], now: float | None) -> list[str]:
    at = clock() if now is None else now
    counts = _live_counts([Subject(tenant_id, "agent", m.pk) for m in members], at)
    return [
        derived_status(live=n, available=m.availability == Membership.Availability.AVAILABLE)
        for m, n in zip(members, counts, strict=True)
    ]


def online_agent_ids(tenant_id: int, *, now: float | None = None) -> set[int]:
    """Membership pks of the tenant's online agents (connected and available)."""
    members = [
        m for m in _agent_rows(tenant_id) if m.availability == Membership.Availability.AVAILABLE
    ]
    return {m.pk for m, s in zip(members, _statuses(tenant_id, members, now), strict=True) if s == "online"}


def team_online(tenant_id: int, *, now: float | None = None) -> bool:
    """Whether a visitor can expect an answer now: some agent is connected and available."""
    return bool(online_agent_ids(tenant_id, now=now))


def agents_presence(tenant_id: int, *, now: float | None = None) -> list[dict[str, Any]]:
    members = _agent_rows(tenant_id)
    return [
        {"id": m.public_id, "name": m.user.name, "status": status}
        for m, status in zip(members, _statuses(tenant_id, members, now), strict=True)
    ]


def agent_status(*, membership: Membership, now: float | None = None) -> str:
    return _statuses(membership.tenant_id, [membership], now)[0]


def set_availability(*, membership: Membership, status: str, now: float | None = None) -> None:
    """The agent sets themselves available or away; connected agents' presence follows at once."""
    accounts.set_availability(membership=membership, status=status)
    # A "check" re-derives the status with the new availability without touching connections.
    try:
        _apply("check", Subject(membership.tenant_id, "agent", membership.pk), "-", now)
    except REDIS_DOWN:  # saved; the next heartbeat's touch derives and announces the status
        log.warning("presence store unreachable: availability saved, announced at the next heartbeat",
                    exc_info=True)


def sweep(*, now: float | None = None, limit: int = 1000) -> int:
    """Drop connections past their expiry and announce the resulting changes. Returns how many.

    Safe to run on several nodes at once: the announced-status swap makes one of them announce.
    """
    at = clock() if now is None else now
    expired = get_store().expired(now=at, limit=limit)
    for subject, connection_id in expired:
        try:
            _apply("drop", subject, connection_id, at)
        except Exception:  # noqa: BLE001 - one bad entry (e.g. a deleted tenant) must not stop the sweep
            log.exception("presence sweep failed for %s", subject)
    return len(expired)


def _announce(subject: Subject, transition: Transition) -> None:
    tenant = Tenant.objects.filter(pk=subject.tenant_id).first()
    if tenant is None:  # deleted while connected: nobody left to tell
        return
    with scope(tenant=tenant):
        membership = Membership.objects.select_related("user").filter(pk=subject.subject_id).first()
        if membership is None:
            return
        with transaction.atomic():
            emit_event(
                tenant=tenant,
                type="agent.presence_changed",
                payload={
                    "agent": {"id": membership.public_id, "name": membership.user.name, "status": transition.status},
                    "previous": transition.previous,
                },
                ordering_key=membership.public_id,
            )
            tenant_id = tenant.pk
            transaction.on_commit(
                lambda: fanout.publish(fanout.presence_group(tenant_id), {"type": "presence.changed"})
            )
