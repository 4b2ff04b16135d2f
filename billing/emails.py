"""Billing emails to a tenant's owners, sent by outbox handlers (so each goes once per event)."""
from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django_scopes import scope

from billing.models import Invoice
from support.models import Membership, Tenant


def owner_emails(tenant: Tenant) -> list[str]:
    with scope(tenant=tenant):
        return sorted(
            Membership.objects.filter(role=Membership.Role.OWNER, is_active=True).values_list("user__email", flat=True)
        )


def send_owner_email(*, tenant: Tenant, subject: str, template: str, context: dict[str, object],
                     attachments: list[tuple[str, bytes, str]] | None = None) -> None:
    recipients = owner_emails(tenant)
    if not recipients:
        return
    body = render_to_string(template, {"tenant": tenant, "site_url": settings.SITE_URL, **context})
    mail = EmailMessage(subject=subject, body=body, to=recipients)
    for name, content, mimetype in attachments or []:
        mail.attach(name, content, mimetype)
    mail.send()


def send_invoice_email(*, invoice: Invoice, pdf: bytes) -> None:
    send_owner_email(
        tenant=invoice.tenant,
        subject=f"Your Switchboard invoice {invoice.number}",
        template="billing/email/invoice.txt",
        context={"invoice": invoice},
        attachments=[(f"{invoice.number}.pdf", pdf, "application/pdf")],
    )
