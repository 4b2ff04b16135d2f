"""Rendering and sending our notification emails (plain text plus HTML, one message per recipient)."""
from __future__ import annotations

from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core import mail
from django.template.loader import render_to_string
from django.utils import translation

from support.models import Tenant


def sender_for(tenant: Tenant) -> str:
    """The tenant's name with our sending address, so visitors see who is writing."""
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((tenant.team_name or tenant.name, address))


def send_templated(
    *, tenant: Tenant, to: list[str], subject: str, template: str, context: dict[str, Any],
    reply_to: list[str] | None = None, from_email: str | None = None, headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes, str]] | None = None, language: str | None = None,
) -> int:
    """Render ``push/email/<template>.txt`` and ``.html`` and send one message per address.

    ``headers`` (Message-ID, In-Reply-To, …) and ``attachments`` (name, bytes, content type) go
    on every message. Raises on SMTP failure, so the calling handler is retried by the outbox dispatcher.
    The body is in ``language`` (the recipient's, support/language.py); the caller translates ``subject``.
    """
    recipients = sorted({address for address in to if address})
    if not recipients:
        return 0
    context = {"tenant": tenant, "site_url": settings.SITE_URL, **context}
    with translation.override(language or settings.LANGUAGE_CODE):
        text = render_to_string(f"push/email/{template}.txt", context)
        html = render_to_string(f"push/email/{template}.html", context)
    subject = " ".join(subject.split())[:200]
    messages = []
    for address in recipients:
        message = mail.EmailMultiAlternatives(
            subject=subject, body=text, from_email=from_email or sender_for(tenant), to=[address],
            reply_to=reply_to, headers=dict(headers or {}),
        )
        message.attach_alternative(html, "text/html")
        for name, content, content_type in attachments or []:
            message.attach(name, content, content_type)
        messages.append(message)
    with mail.get_connection(fail_silently=False) as connection:
        return connection.send_messages(messages) or 0
