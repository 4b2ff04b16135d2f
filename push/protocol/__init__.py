"""The realtime protocol, independent of transport (docs/protocol.md is its contract).

A session is one client connection (a socket, or one long-poll request rebuilt from its cursor).
Transports hand it client frames and wake-ups from the bus (push/hub.py); it checks them, calls
the services, reads from the database and returns the server frames to send. The bus is only a
wake-up: a message reaches a client either as the very next seq after the last one this
connection delivered (carried by its after-commit wake-up, or the sender's own ack), or read from
the database after that seq. So a lost wake-up costs latency, never data, and nothing is sent twice.

Modules: ``frames`` (schemas, close codes, errors), ``session`` (the core), ``visitor`` and
``agent`` (what differs per kind), ``delivery`` (follows and catch-up), ``inbox`` (an agent's
inbox cursor), ``inbox_frames`` (inbox rows as ``conversation``/``conversations`` frames, a batch's
encoded once for every socket), ``sending`` (the send path), ``opening`` (authenticating a new session). The
limits a test may lower live in the module that uses them (``delivery.REPLAY_BATCH``,
``inbox.INBOX_CATCHUP_MAX``).
"""
from push.protocol.agent import AgentSession
from push.protocol.dbthread import on_db_thread
from push.protocol.delivery import VISITOR_EVENTS, Follow, visible_to_contact
from push.protocol.frames import (
    AGENT,
    CLOSE_BAD_HELLO,
    CLOSE_FLOODING,
    CLOSE_FORBIDDEN,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_UNAUTHENTICATED,
    FOLLOW_MAX,
    VISITOR,
    FrameError,
    Refused,
    clean_text,
    error_frame,
    parse_json,
)
from push.protocol.inbox import InboxCursor, from_us, to_us
from push.protocol.opening import open_agent, open_visitor
from push.protocol.session import Session
from push.protocol.visitor import VisitorSession, visitor_conversation

__all__ = [
    "AGENT", "CLOSE_BAD_HELLO", "CLOSE_FLOODING", "CLOSE_FORBIDDEN", "CLOSE_HELLO_TIMEOUT", "CLOSE_UNAUTHENTICATED",
    "FOLLOW_MAX", "VISITOR", "VISITOR_EVENTS", "AgentSession", "Follow", "FrameError", "InboxCursor", "Refused",
    "Session", "VisitorSession", "clean_text", "error_frame", "from_us", "on_db_thread", "open_agent", "open_visitor",
    "parse_json", "to_us", "visible_to_contact", "visitor_conversation",
]
