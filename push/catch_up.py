"""What a session missed, read from the database: after a long-poll cursor, and after the channel
layer lost wake-ups (Redis was down) on a socket or a waiting poll."""
from __future__ import annotations

from typing import Any

from push.protocol import VISITOR, Session


def behind(session: Session) -> list[dict[str, Any]]:
    """What the client is behind on: new conversations (visitor), inbox changes (agent), messages.

    Runs on the database thread. A visitor's conversations started elsewhere are followed from
    their first message (as on ``contact.changed``), then every followed conversation replays
    from the database after what the client has seen, in seq order.
    """
    frames: list[dict[str, Any]] = []
    if session.kind == VISITOR:
        session._follow_visitor_conversations({})
    else:
        inbox, complete = session.inbox_catch_up(session.inbox_since)
        frames = [session.conversation_frame(c) for c in inbox]
        if not complete:
            frames.append({"type": "inbox_resync"})
    if session.follows:
        frames += session._catch_up(list(session.follows.values()), None, None)
    return frames
