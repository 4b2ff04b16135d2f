"""Billing's outbox handlers: trials, metering, provider events, pushing plan changes to Stripe and
owner emails."""
from __future__ import annotations

from django.utils import translation
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_scopes import scope

from billing import stripe_api, usage
from billing.emails import owners, owners_language, send_invoice_email, send_owner_email
from billing.models import Invoice
from billing.payments import apply_provider_event
from billing.pdf import invoice_pdf
from billing.subscriptions import STRIPE_SYNC_EVENT, start_trial, subscription_of
from support.access import by_public_id
from support.events.handlers import outbox_handler
from support.events.models import OutboxEvent


@outbox_handler("billing.start_trial", events=["tenant.created"])
def start_trial_for_new_tenant(event: OutboxEvent) -> None:
    start_trial(tenant=event.tenant, now=event.created_at)  # get_or_create: a rerun changes nothing


@outbox_handler(
    "billing.metering",
    events=[
        "conversation.created", "membership.created", "membership.reactivated", "membership.deactivated",
        "subscription.seats_changed",
    ],
)
def meter_usage(event: OutboxEvent) -> None:
    """One usage or seat row per event, in the period the event happened in (``billing.usage``)."""
    usage.meter(event)


@outbox_handler("billing.apply_provider_event", events=["billing.provider_event"], ordered=True)
def apply_payment_provider_event(event: OutboxEvent) -> None:
    """Apply a stored provider event once: a re-run finds it marked applied (``billing.payments``)."""
    apply_provider_event(provider_event_pk=int(event.payload["provider_event"]))


@outbox_handler("billing.sync_stripe", events=[STRIPE_SYNC_EVENT], ordered=True)
def sync_stripe(event: OutboxEvent) -> None:
    """Push a plan change made here to the tenant's Stripe subscription, once.

    Ordered per tenant, so two quick changes reach Stripe in the order they were made. The event
    id is Stripe's ``Idempotency-Key``: a run after a lost response or a killed worker gets Stripe's
    first answer back instead of a second cancellation or update.
    """
    payload = event.payload
    if payload["action"] == "cancel":
        stripe_api.cancel_subscription(subscription_id=payload["subscription"], idempotency_key=event.public_id)
    elif payload["action"] == "update":
        stripe_api.update_subscription(
            subscription_id=payload["subscription"], tenant_public_id=payload["tenant"], plan_code=payload["plan"],
            seats=int(payload["seats"]), unit_amount=int(payload["unit_amount"]), idempotency_key=event.public_id,
        )
    else:
        raise ValueError(f"Unknown Stripe sync action {payload['action']!r}")


@outbox_handler(
    "billing.notify_owner",
    events=[
        "invoice.issued", "invoice.paid", "billing.payment_failed", "billing.dunning_reminder", "billing.downgraded",
    ],
)
def notify_owner(event: OutboxEvent) -> None:
    """Email the owners about a billing event, once per (event, owner) (``billing.emails``)."""
    tenant = event.tenant
    if event.type in ("invoice.issued", "invoice.paid"):
        with scope(tenant=tenant):
            invoice = by_public_id(Invoice.objects.all(), event.payload["invoice"], tenant=tenant, what="invoice")
        if event.type == "invoice.issued":
            with translation.override(owners_language(owners(tenant))):  # the PDF in the email's language
                pdf = invoice_pdf(invoice)
            send_invoice_email(event_public_id=event.public_id, invoice=invoice, pdf=pdf)
        else:
            send_owner_email(event_public_id=event.public_id, tenant=tenant,
                             subject=format_lazy(_("Payment received for invoice {number}"), number=invoice.number),
                             template="billing/email/receipt.txt", context={"invoice": invoice})
        return
    templates = {
        "billing.payment_failed": (_("Your Switchboard payment failed"), "billing/email/payment_failed.txt"),
        "billing.dunning_reminder": (_("Reminder: your Switchboard payment is overdue"), "billing/email/dunning.txt"),
        "billing.downgraded": (_("Your Switchboard workspace moved to the Free plan"), "billing/email/downgraded.txt"),
    }
    subject, template = templates[event.type]
    send_owner_email(event_public_id=event.public_id, tenant=tenant, subject=subject, template=template,
                     context={"subscription": subscription_of(tenant), "payload": event.payload})
