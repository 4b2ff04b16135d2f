"""The owner's billing page, invoices (HTML and PDF) and the Stripe webhook endpoint."""
from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import stripe_api
from billing.models import Invoice
from billing.payments import record_provider_event
from billing.pdf import invoice_pdf
from billing.plans import PLANS
from billing.subscriptions import change_plan as change_plan_service
from billing.subscriptions import (
    conversation_quota_state,
    effective_plan,
    seat_limit,
    seats_in_use,
    stripe_billed,
    subscription_of,
)
from billing.usage import usage_by_day
from support.access import by_public_id
from support.error_shape import error_response
from support.errors import DomainError, NotFound
from support.models import Membership

log = logging.getLogger(__name__)
STRIPE_TOLERANCE_SECONDS = 300


_PROVIDER_DOWN = ("Our payment provider could not be reached; nothing was changed or charged. "
                  "Please try again in a minute.")


def _owner_membership(request: HttpRequest) -> Membership:
    membership = getattr(request, "membership", None)
    if membership is None or membership.role != Membership.Role.OWNER:
        raise Http404("Billing is for the workspace owner")
    return membership


@login_required
def billing_page(request: HttpRequest) -> HttpResponse:
    membership = _owner_membership(request)
    tenant = membership.tenant
    sub = subscription_of(tenant)
    days = usage_by_day(subscription=sub)
    peak = max([count for _, count in days] + [1])
    chart = [
        {"day": day, "count": count, "height": max(1, round(100 * count / peak)), "x": i * 14,
         "y": 110 - max(1, round(100 * count / peak))}
        for i, (day, count) in enumerate(days)
    ]
    return render(request, "billing/page.html", {
        "tenant": tenant, "sub": sub, "plan": effective_plan(sub), "plans": PLANS.values(),
        "seat_limit": seat_limit(sub), "seats_in_use": seats_in_use(tenant),
        "quota": conversation_quota_state(tenant=tenant), "chart": chart, "chart_width": len(chart) * 14,
        "invoices": Invoice.objects.filter(tenant=tenant).order_by("-issued_at")[:24],
        "stripe_enabled": stripe_api.stripe_enabled(), "stripe_billed": stripe_billed(sub),
    })


@login_required
@require_POST
def change_plan(request: HttpRequest) -> HttpResponse:
    import stripe
    membership = _owner_membership(request)
    plan_code = request.POST.get("plan", "")
    try:
        seats = int(request.POST.get("seats", "") or 0) or None
    except ValueError:
        messages.error(request, "Seats must be a whole number")
        return redirect("billing:page")
    plan = PLANS.get(plan_code)
    if plan is None:
        messages.error(request, "Unknown plan")
        return redirect("billing:page")
    sub = subscription_of(membership.tenant)
    on_stripe = stripe_billed(sub)
    if stripe_api.stripe_enabled() and plan.price_per_seat and not on_stripe:
        # No running Stripe subscription yet (trial, Free, canceled): a paid plan starts with Checkout.
        try:
            url = stripe_api.create_checkout_session(subscription=sub, plan=plan, seats=seats or sub.seats)
        except stripe.StripeError:
            log.warning("Stripe checkout session for tenant %s failed", membership.tenant.public_id, exc_info=True)
            messages.error(request, _PROVIDER_DOWN)
            return redirect("billing:page")
        return HttpResponseRedirect(url)
    # Otherwise the change is made here, at once; for a Stripe-billed tenant it is queued for Stripe
    # in the same transaction (cancel for Free, price × seats for a paid plan).
    try:
        change_plan_service(tenant=membership.tenant, plan_code=plan.code, seats=seats)
    except DomainError as exc:
        messages.error(request, exc.detail)
    else:
        messages.success(request, f"You are now on the {plan.name} plan.")
        if on_stripe and not plan.price_per_seat:
            messages.info(request, "Your Stripe subscription is being canceled now; the unused part of this "
                                   "period is credited to your Stripe balance.")
    return redirect("billing:page")


@login_required
@require_POST
def customer_portal(request: HttpRequest) -> HttpResponse:
    import stripe
    sub = subscription_of(_owner_membership(request).tenant)
    if not stripe_api.stripe_enabled() or not sub.stripe_customer_id:
        raise Http404("No payment provider account")
    try:
        return HttpResponseRedirect(stripe_api.create_portal_session(subscription=sub))
    except stripe.StripeError:
        log.warning("Stripe portal session for tenant %s failed", sub.tenant.public_id, exc_info=True)
        messages.error(request, _PROVIDER_DOWN)
        return redirect("billing:page")


def _invoice(request: HttpRequest, public_id: str) -> Invoice:
    tenant = _owner_membership(request).tenant
    try:
        return by_public_id(Invoice.objects.all(), public_id, tenant=tenant, what="invoice")
    except NotFound:
        raise Http404("No such invoice") from None


@login_required
def invoice_html(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _invoice(request, public_id)
    return render(request, "billing/invoice.html", {"invoice": invoice, "lines": invoice.lines.order_by("pk")})


@login_required
def invoice_pdf_view(request: HttpRequest, public_id: str) -> HttpResponse:
    invoice = _invoice(request, public_id)
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
    return response


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    """Verify ``Stripe-Signature`` (HMAC over "timestamp.body", 5-minute tolerance), store once, 200."""
    import stripe  # on first use: the SDK is ~13 MB (docs/operations.md, memory of a web node)
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        return error_response(404, "not_configured", "Stripe is not configured")
    payload = request.body
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), request.headers.get("Stripe-Signature"), secret, tolerance=STRIPE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        log.warning("refused a Stripe webhook: %s", exc)
        return error_response(400, "bad_signature", "Signature verification failed")
    try:
        created = record_provider_event(provider="stripe", event=event)
    except ValueError as exc:
        return error_response(400, "bad_event", str(exc))
    return JsonResponse({"received": True, "duplicate": not created})
