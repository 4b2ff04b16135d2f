"""Working through a sweep's due rows, each in its own tenant's scope (visitors' email digests, webhook
deliveries): one row that fails is logged and is due again; it never holds up the others."""
from __future__ import annotations

import logging
from collections.abc import Callable

from support.models import Tenant

log = logging.getLogger(__name__)


def handle_due_rows(due: list[tuple[int, int]], handle: Callable[[int, Tenant], object | None], *,
                    what: str, gone: tuple[type[Exception], ...] = ()) -> int:
    """Call ``handle(pk, tenant)`` for each ``(pk, tenant_id)`` of ``due`` (their tenants read in one
    query); how many calls returned something other than None. A ``gone`` exception (the row went
    meanwhile) is passed over; any other is logged as "``what`` <pk> failed"."""
    tenants = Tenant.objects.in_bulk({tenant_id for _, tenant_id in due})
    handled = 0
    for pk, tenant_id in due:
        try:
            if handle(pk, tenants[tenant_id]) is not None:
                handled += 1
        except gone:
            pass
        except Exception:  # noqa: BLE001 - one bad row must not hold up the others; it is due again
            log.exception("%s %s failed", what, pk)
    return handled
