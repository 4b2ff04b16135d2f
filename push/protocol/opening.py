"""Opening a session: authenticate a visitor (token, Origin, plan) or an agent (login session)."""
from __future__ import annotations

from push.protocol.agent import AgentSession
from push.protocol.dbthread import on_db_thread
from push.protocol.frames import CLOSE_FORBIDDEN, CLOSE_UNAUTHENTICATED, Refused
from push.protocol.visitor import VisitorSession
from support.access import access_membership
from support.errors import DomainError
from support.models import User
from support.services.visitors import OriginForbidden, authenticate_visitor


def visitor_session(
    *, token: object, origin: str | None, own_origins: set[str], connection_id: str, transport: str,
    ip: str, persistent: bool,
) -> VisitorSession:
    """A visitor session from a token, if the Origin is allowed and the tenant lets them chat (on the
    database thread: the long-poll path opens it in the same trip as the rest of its request)."""
    try:
        contact = authenticate_visitor(token=token, origin=origin, own_origins=own_origins)
    except OriginForbidden as exc:
        raise Refused(CLOSE_FORBIDDEN, exc.code, exc.detail) from None
    except DomainError as exc:  # no valid token (code unauthenticated), or not a verified visitor
        raise Refused(CLOSE_UNAUTHENTICATED, exc.code, exc.detail) from None
    return VisitorSession(
        tenant=contact.tenant, contact=contact, connection_id=connection_id, transport=transport, ip=ip,
        persistent=persistent,
    )


async def open_visitor(
    *, token: object, origin: str | None, own_origins: set[str], connection_id: str, transport: str,
    ip: str, persistent: bool,
) -> VisitorSession:
    """``visitor_session`` from the event loop."""
    return await on_db_thread(visitor_session)(  # type: ignore[no-any-return]
        token=token, origin=origin, own_origins=own_origins, connection_id=connection_id, transport=transport,
        ip=ip, persistent=persistent,
    )


async def open_agent(
    *, user: User, session_tenant: str | None, connection_id: str, transport: str, ip: str, persistent: bool
) -> AgentSession:
    """An agent session for the membership chosen in the login session (else their first)."""
    if user is None or not user.is_authenticated:
        raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "Sign in first")
    membership = await on_db_thread(access_membership)(user, session_tenant)
    if membership is None:
        raise Refused(CLOSE_UNAUTHENTICATED, "unauthenticated", "You are not a member of any team")
    return AgentSession(
        tenant=membership.tenant, membership=membership, connection_id=connection_id, transport=transport, ip=ip,
        persistent=persistent,
    )
