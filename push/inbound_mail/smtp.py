"""The SMTP listener: aiosmtpd, refusing unknown recipients at RCPT and answering DATA with what
the inbound service decided (250, or a 4xx/5xx the sending server understands)."""
from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from support.services.inbound_email import MailRejected, UnknownRecipient, check_recipient, receive_mail

log = logging.getLogger(__name__)

# Refusals by the service's error code: (SMTP reply).
_REPLIES = {
    "too_large": "552 5.3.4 Message too big for this system",
    "malformed": "554 5.6.0 Message is not a valid email",
    "rate_limited": "451 4.7.1 Too many messages; try again later",
}


def _check_recipient(address: str) -> bool:
    # Like a request: connections are opened and retired per unit of work (pool or CONN_MAX_AGE).
    close_old_connections()
    try:
        check_recipient(address)
    except UnknownRecipient:
        return False
    finally:
        close_old_connections()
    return True


def _receive(raw: bytes, recipients: list[str], mail_from: str) -> None:
    close_old_connections()
    try:
        receive_mail(raw=raw, recipients=recipients, route="smtp", mail_from=mail_from)
    finally:
        close_old_connections()


class InboundHandler:
    """aiosmtpd handler hooks (``handle_RCPT``, ``handle_DATA``)."""

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not await sync_to_async(_check_recipient, thread_sensitive=False)(address):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        raw = envelope.original_content or b""
        # The null reverse path (MAIL FROM:<>) is how bounces arrive; aiosmtpd reports it as "".
        mail_from = envelope.mail_from or "<>"
        try:
            await sync_to_async(_receive, thread_sensitive=False)(raw, list(envelope.rcpt_tos), mail_from)
        except MailRejected as exc:
            return _REPLIES.get(exc.code, "554 5.6.0 Message refused")
        except UnknownRecipient:
            return "550 5.1.1 No such mailbox here"
        except Exception:  # noqa: BLE001 - the sender keeps the mail and retries; we log why
            log.exception("inbound mail from %s could not be stored", mail_from)
            return "451 4.3.0 Temporary failure; try again later"
        return "250 2.0.0 Message accepted"


def smtp_factory() -> SMTP:
    """One SMTP session. Mail above twice the limit is refused by aiosmtpd unread; up to that, the
    service refuses what is over ``INBOUND_EMAIL_MAX_BYTES`` and keeps its head for inspection."""
    return SMTP(
        InboundHandler(), data_size_limit=2 * settings.INBOUND_EMAIL_MAX_BYTES, enable_SMTPUTF8=True,
        decode_data=False, hostname=settings.INBOUND_EMAIL_DOMAIN or None, ident="Switchboard inbound",
    )


async def serve(*, host: str, port: int, stop: asyncio.Event | None = None, ready: Any = None) -> None:
    """Listen on ``host:port`` until ``stop`` is set (or SIGTERM/SIGINT in the main thread)."""
    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    server = await loop.create_server(smtp_factory, host=host, port=port)
    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    except (ValueError, RuntimeError):
        pass  # not the main thread (tests): the caller sets ``stop``
    bound = server.sockets[0].getsockname()[1]
    log.info("inbound SMTP listening on %s:%s for @%s", host, bound, settings.INBOUND_EMAIL_DOMAIN)
    if ready is not None:
        ready(bound)
    async with server:
        await stop.wait()
