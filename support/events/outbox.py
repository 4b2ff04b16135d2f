"""Writing outbox events. Services call ``emit_event`` (or ``emit_events``) inside their transaction."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django_scopes import scopes_disabled

from support.events.handlers import handlers_for
from support.events.models import OutboxEvent
from support.models import Tenant
from support.round_trip import Statement
from support.row_insert import insert_rows

log = logging.getLogger(__name__)

# Set while a dispatch task is queued and not yet started, so a burst of commits sends one task.
KICK_PENDING_KEY = "outbox:kick-pending"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An outbox event to write (see ``emit_events``)."""

    tenant_id: int
    type: str
    payload: dict[str, Any]
    ordering_key: str = ""
    version: int = 1


def emit_event(
    *, tenant: Tenant, type: str, payload: dict[str, Any], ordering_key: str = "", version: int = 1
) -> OutboxEvent:
    """Record a side effect to perform once the surrounding transaction commits.

    Must be called inside ``transaction.atomic``: a rollback then discards the event too. The
    event names the handlers registered for its type; the dispatcher, kicked on commit (and the
    periodic sweep if that kick is lost), writes their delivery rows and runs them.
    """
    return emit_events([NewEvent(tenant.pk, type, payload, ordering_key, version)])[0]


def emit_events(
    events: Sequence[NewEvent], *, pks: Sequence[int] | None = None, into: list[Statement] | None = None
) -> list[OutboxEvent]:
    """``emit_event`` for many events at once: one multi-row insert, whatever their number (a batch
    of messages writes its events this way).

    Events with the same ordering key keep their order in ``events`` (ids are assigned in it; ``pks``,
    ids reserved beforehand with ``row_insert.reserve_pks``, must be in ascending order). With
    ``pks``, ``into`` collects the insert to run with other statements in one round trip
    (``support.round_trip.run_together``), in the same transaction.
    """
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        raise RuntimeError("emit_event must be called inside the transaction of the change it describes")
    if not events:
        return []
    names: dict[str, list[str]] = {}
    for e in events:
        if e.type not in names:
            names[e.type] = [h.name for h in handlers_for(e.type)]
    with scopes_disabled():  # a batch spans tenants; every row names its own
        rows = [
            OutboxEvent(tenant_id=e.tenant_id, type=e.type, payload=e.payload, ordering_key=e.ordering_key,
                        version=e.version, handlers=names[e.type], fanned_out=not names[e.type])
            for e in events
        ]
        if pks is not None:
            for row, pk in zip(rows, pks, strict=True):
                row.pk = pk
        insert_rows(rows, into=into)
    if any(names.values()):
        _kick_on_commit()
    return rows


def _kick_on_commit() -> None:
    connection = transaction.get_connection()
    # One kick per transaction however many events it writes; Django drops the callback on rollback.
    if not any(func is kick_dispatcher for _, func, _ in connection.run_on_commit):
        transaction.on_commit(kick_dispatcher, robust=True)


def kick_dispatcher() -> None:
    """Ask for a dispatch soon, without ever blocking the committing request on the broker.

    The send happens on a background thread (a broker that is down can take seconds to refuse);
    kicks that arrive while one is waiting to be sent are folded into it. A process sends at most
    one kick per ``KICK_INTERVAL_S`` (always after the commits it covers): at a few hundred lone
    commits a second, a kick each (a thread hand-over and a cache round trip, and with a worker
    taking them a broker publish) was a tenth of a server's samples.
    """
    global _kick_waiting
    with _kick_lock:
        if _kick_waiting:
            return
        _kick_waiting = True
    _kick_sender.submit(_send_kick)


# Kicks of one process are at least this far apart; the commits in between ride on the next one.
KICK_INTERVAL_S = 0.05

_kick_lock = threading.Lock()
_kick_waiting = False
_kick_last = 0.0  # time.monotonic() of the last kick sent (only the kick thread sets it)
_kick_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-kick")


def _send_kick() -> None:
    """Queue a dispatch task unless one is already queued and not yet started.

    Best effort by design: if the cache or the broker is down the caller's commit stands and the
    beat sweep dispatches the event a few seconds later.
    """
    global _kick_waiting, _kick_last
    pause = _kick_last + KICK_INTERVAL_S - time.monotonic()
    if pause > 0:
        time.sleep(pause)  # commits meanwhile find the kick waiting and fold into it
    with _kick_lock:
        # Cleared before sending: a commit from now on must be covered by a kick of its own.
        _kick_waiting = False
    _kick_last = time.monotonic()
    from support.events.tasks import dispatch_outbox

    try:
        # The flag expires on its own, so a task lost with the broker cannot silence kicks for long.
        if not cache.add(KICK_PENDING_KEY, 1, timeout=30):
            return
    except Exception:  # noqa: BLE001 - a cache outage must not stop the kick; send it uncoalesced
        log.warning("Outbox kick: cache unavailable, kicking without coalescing", exc_info=True)
    try:
        dispatch_outbox.apply_async(retry=False)
    except Exception:  # noqa: BLE001 - the broker is optional for correctness: the sweep catches up
        log.warning("Outbox kick could not reach the broker; the sweep will dispatch", exc_info=True)
        try:
            cache.delete(KICK_PENDING_KEY)
        except Exception:  # noqa: BLE001
            log.debug("Outbox kick: could not clear the pending flag", exc_info=True)
