"""An agent connection's inbox cursor: which conversation versions it has sent, and its watermark.

The watermark (``since``, microseconds since the epoch) is the newest ``updated_at`` sent; a
client hands it back in its next ``hello`` and gets what changed after it (``catch_up``), at most
``INBOX_CATCHUP_MAX`` rows, else it is told to reload the inbox (``inbox_resync``). ``recent``
remembers the stamps sent near the watermark, so a row re-read in the overlap window, or
carried by wake-ups from two processes out of order, is sent once and never replaced by an older one.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django_scopes import scope

from support.models import Conversation, Tenant
from support.payloads import CONVERSATION_RELATED, conversation_payload, with_label_rows

# Conversation rows a catch-up sends at most; beyond it the client reloads its inbox over REST.
INBOX_CATCHUP_MAX = 200
# Conversations updated this close to the watermark are re-checked: a transaction that stamped
# updated_at earlier may commit later than one we already saw.
INBOX_OVERLAP_US = 5_000_000
INBOX_RECENT_MAX = 300
INBOX_PRUNE_US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


class InboxCursor:
    """One agent connection's inbox state; the ``catch_up`` and ``one`` reads run on the database thread."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.since: int | None = None
        self.recent: dict[str, int] = {}
        self._pruned_at = -INBOX_PRUNE_US  # the floor of the last pruning of ``recent``

    def conversation_frame(self, payload: dict[str, Any]) -> dict[str, Any]:
        """An inbox update; ``inbox_since`` is the watermark to send in the next ``hello``."""
        return {"type": "conversation", "conversation": payload, "inbox_since": str(self.since)}

    def catch_up(self, since: int | None) -> tuple[list[dict[str, Any]], bool]:
        """Conversations changed after the watermark, and whether that was all of them."""
        if since is None:
            # A fresh client loads the inbox over REST; remember what changed just before now so
            # the overlap window of the next catch-up does not send it again.
            now = to_us(timezone.now())
            with scope(tenant=self.tenant):
                recent = Conversation.objects.filter(updated_at__gt=from_us(now - INBOX_OVERLAP_US))
                self._remember(list(recent.order_by("updated_at")[:INBOX_RECENT_MAX]))
            self.since = max(self.since or 0, now)
            return [], True
        with scope(tenant=self.tenant):
            rows = list(
                with_label_rows(Conversation.objects.filter(updated_at__gt=from_us(since - INBOX_OVERLAP_US)))
                .select_related(*CONVERSATION_RELATED)
                .order_by("updated_at", "pk")[: INBOX_CATCHUP_MAX + 1]
            )
            complete = len(rows) <= INBOX_CATCHUP_MAX
            rows = rows[:INBOX_CATCHUP_MAX]
            fresh = [c for c in rows if self.recent.get(c.public_id) != to_us(c.updated_at)]
            self.since = since
            self._remember(rows)
            return [conversation_payload(c) for c in fresh], complete

    def one(self, conv_pk: object) -> dict[str, Any] | None:
        """A conversation's row as it is now, unless this version was already sent."""
        if not isinstance(conv_pk, int):
            return None
        with scope(tenant=self.tenant):
            conv = (
                with_label_rows(Conversation.objects.select_related(*CONVERSATION_RELATED)).filter(pk=conv_pk).first()
            )
            if conv is None:
                return None
            if self.recent.get(conv.public_id) == to_us(conv.updated_at):
                return None
            self._remember([conv])
            return conversation_payload(conv)

    def carried(self, payload: dict[str, Any]) -> dict[str, Any] | None:
        """The inbox row a wake-up carries, unless this version (or a later one) was already sent.

        Rows published by two processes can arrive out of order; an older one must not replace
        a newer one the client already shows.
        """
        public_id, stamp = payload.get("id"), stamp_of(payload.get("updated"))
        if not isinstance(public_id, str) or stamp is None or not self.fresh(public_id, stamp):
            return None
        self._remember_stamps([(public_id, stamp)])
        return payload

    def fresh(self, public_id: str, stamp: int) -> bool:
        """Whether this version of the row is newer than any this connection sent."""
        known = self.recent.get(public_id)
        return known is None or stamp > known

    def remember_stamps(self, stamps: dict[str, int], *, newest: int) -> None:
        """Rows about to be sent, ``newest`` the latest of their stamps (a batch's, at C speed)."""
        self.recent.update(stamps)
        self.since = max(self.since or 0, newest)
        self._prune()

    def _remember(self, convs: list[Conversation]) -> None:
        self._remember_stamps([(conv.public_id, to_us(conv.updated_at)) for conv in convs])

    def _remember_stamps(self, stamps: list[tuple[str, int]]) -> None:
        for public_id, stamp in stamps:
            self.recent[public_id] = stamp
            self.since = max(self.since or 0, stamp)
        self._prune()

    def _prune(self) -> None:
        floor = (self.since or 0) - INBOX_OVERLAP_US
        # Stamps below the floor are forgotten at most once per INBOX_PRUNE_US of watermark (or when
        # there are too many): an agent of a busy tenant remembers a row per wake-up, and rebuilding
        # the map each time cost as much as the rest of the row. Keeping one a little longer only
        # keeps an older version of that conversation from being sent again.
        if floor - self._pruned_at < INBOX_PRUNE_US and len(self.recent) <= INBOX_RECENT_MAX:
            return
        self._pruned_at = floor
        recent = {k: v for k, v in self.recent.items() if v > floor}
        if len(recent) > INBOX_RECENT_MAX:
            recent = dict(sorted(recent.items(), key=lambda kv: kv[1])[-INBOX_RECENT_MAX:])
        self.recent = recent


def rows_of(tenant_id: int, conv_pks: list[int]) -> list[dict[str, Any]]:
    """On the database thread: the inbox rows of these conversations as they are now (wake-ups that
    carried none), read once for every connection of the process."""
    with scope(tenant=tenant_id):
        convs = with_label_rows(Conversation.objects.select_related(*CONVERSATION_RELATED)).filter(pk__in=conv_pks)
        return [conversation_payload(conv) for conv in convs]


def stamp_of(updated: object) -> int | None:
    """A row's ``updated`` as microseconds (None when it is not a time)."""
    return _stamp_of(updated) if isinstance(updated, str) else None


@lru_cache(maxsize=1024)
def _stamp_of(updated: str) -> int | None:
    """Parsed once for all the connections a wake-up reaches."""
    try:
        return to_us(datetime.fromisoformat(updated))
    except (ValueError, TypeError):
        return None
