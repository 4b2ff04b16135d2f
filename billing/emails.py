"""Billing emails to a tenant's active owners, sent by outbox handlers.

Each owner gets each event's email at most once: a notification receipt per (event, owner) is
claimed before sending (``support.events.receipts``), so a redelivered or re-run event finds
the receipts and sends nothing. A failed send releases them, and the handler's retry sends again.
"""
from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.functional import Promise
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_scopes import scope

from billing.models import Invoice
from support.events import receipts
from support.events.models import NotificationReceipt
from support.language import user_language
from support.models import Membership, Tenant


def owners(tenant: Tenant) -> list[Membership]:
    with scope(tenant=tenant):
        return list(
            Membership.objects.filter(role=Membership.Role.OWNER, is_active=True)
            .select_related("user", "tenant").order_by("user__email")
        )


def owners_language(owners: list[Membership]) -> str:
    """The language of what goes to all of a tenant's owners: theirs when they share one, else the default."""
    languages = {user_language(owner.user) for owner in owners}
    return languages.pop() if len(languages) == 1 else settings.LANGUAGE_CODE


def send_owner_email(*, event_public_id: str, tenant: Tenant, subject: str | Promise, template: str,
                     context: dict[str, object], attachments: list[tuple[str, bytes, str]] | None = None) -> int:
    """Send one email about outbox event ``event_public_id`` to the owners not yet sent it.

    Returns how many owners it went to (0 when every owner already has it). One message goes to all
    of them: in their language when they share one, else in the default (``subject`` may be lazy).
    """
    everyone = owners(tenant)
    with translation.override(owners_language(everyone)):
        body = render_to_string(template, {"tenant": tenant, "site_url": settings.SITE_URL, **context})
        subject = str(subject)
    claimed = []
    for owner in everyone:
        receipt = receipts.claim(
            event_public_id=event_public_id, kind=NotificationReceipt.Kind.BILLING_EMAIL, membership=owner
        )
        if receipt is not None:
            claimed.append((owner, receipt))
    if not claimed:
        return 0
    mail = EmailMessage(subject=subject, body=body, to=[owner.user.email for owner, _ in claimed])
    for name, content, mimetype in attachments or []:
        mail.attach(name, content, mimetype)
    try:
        mail.send()
    except Exception:
        for _, receipt in claimed:
            receipts.release(receipt)
        raise
    for _, receipt in claimed:
        receipts.finish(receipt, channels=["email"])
    return len(claimed)


def send_invoice_email(*, event_public_id: str, invoice: Invoice, pdf: bytes) -> int:
    return send_owner_email(
        event_public_id=event_public_id,
        tenant=invoice.tenant,
        subject=format_lazy(_("Your Switchboard invoice {number}"), number=invoice.number),
        template="billing/email/invoice.txt",
        context={"invoice": invoice},
        attachments=[(f"{invoice.number}.pdf", pdf, "application/pdf")],
    )
