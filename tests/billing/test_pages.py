"""The owner's billing page and invoices: owner only, own tenant only, hostile input refused."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django_scopes import scope

from billing.invoicing import close_due_periods
from billing.models import Invoice, Subscription
from billing.subscriptions import change_plan, start_trial


@pytest.fixture
def invoiced(world, outsider):
    for w in (world, outsider):
        start_trial(tenant=w.tenant)
        change_plan(tenant=w.tenant, plan_code="starter", seats=3)
    with scope(tenant=world.tenant):
        end = Subscription.objects.get().current_period_end
    close_due_periods(now=end + timedelta(seconds=5))
    with scope(tenant=world.tenant):
        ours = Invoice.objects.get()
    with scope(tenant=outsider.tenant):
        theirs = Invoice.objects.get()
    return ours, theirs


def test_owner_sees_plan_usage_and_invoices(client, world, invoiced):
    ours, _ = invoiced
    client.force_login(world.owner.user)
    page = client.get("/billing/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Starter" in body and ours.number in body and "<svg" in body
    assert client.get(f"/billing/invoices/{ours.public_id}/").status_code == 200
    pdf = client.get(f"/billing/invoices/{ours.public_id}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_other_tenants_invoice_is_404(client, world, invoiced):
    _, theirs = invoiced
    client.force_login(world.owner.user)
    assert client.get(f"/billing/invoices/{theirs.public_id}/").status_code == 404
    assert client.get(f"/billing/invoices/{theirs.public_id}.pdf").status_code == 404
    assert theirs.number not in client.get("/billing/").content.decode()


def test_agents_and_anonymous_cannot_see_billing(client, world, invoiced):
    assert client.get("/billing/").status_code == 302
    client.force_login(world.agent.user)
    assert client.get("/billing/").status_code == 404


def test_change_plan_form(client, world):
    start_trial(tenant=world.tenant)
    client.force_login(world.owner.user)
    response = client.post("/billing/plan", {"plan": "starter", "seats": "4"})
    assert response.status_code == 302
    with scope(tenant=world.tenant):
        assert (Subscription.objects.get().plan, Subscription.objects.get().seats) == ("starter", 4)
    for bad in ({"plan": "platinum"}, {"plan": "pro", "seats": "lots"}, {"plan": "pro", "seats": "-3"},
                {"plan": "<script>alert(1)</script>"}):
        response = client.post("/billing/plan", bad, follow=True)
        assert response.status_code == 200
        assert b"<script>alert(1)</script>" not in response.content
    with scope(tenant=world.tenant):
        assert Subscription.objects.get().plan == "starter"
