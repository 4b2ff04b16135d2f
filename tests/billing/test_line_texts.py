"""Invoice lines are stored as a kind and parameters and read in the reader's language."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.utils import translation
from django_scopes import scope

from billing.invoicing import close_due_periods
from billing.line_texts import KINDS, describe
from billing.models import Invoice, InvoiceLine, Subscription
from billing.subscriptions import change_plan, start_trial
from support.events.dispatcher import drain
from support.models import User
from tests.admin.helpers import admin_url
from tests.billing.test_pages import _cjk_pdf_text

SAMPLES = {
    "seats": {"plan": "Starter", "seats": 3, "start": "2026-11-01", "end": "2026-12-01"},
    "seats_prorated": {"plan": "Pro", "seats": 3, "first": "2026-11-15", "last": "2026-11-30", "percent": "53.3"},
    "seats_added": {"plan": "Pro", "count": 1, "day": "2026-11-20", "first": "2026-11-20", "last": "2026-12-03",
                    "percent": "46.7"},
    "seats_removed": {"plan": "Pro", "count": 2, "day": "2025-12-20", "first": "2025-12-20", "last": "2026-01-03",
                      "percent": "6.7"},
    "overage": {"over": 10, "quota": 1000},
    "late_usage": {"units": 1, "first": "2026-11-01", "last": "2026-11-30", "invoice": "SB-2026-000001",
                   "extra": 1, "quota": 1000},
}
ENGLISH = {
    "seats": "Starter plan — 3 seat(s), 01 Nov – 01 Dec 2026",
    "seats_prorated": "Pro plan — 3 seats, 15–30 Nov 2026 (prorated 53.3%)",
    "seats_added": "1 Pro seat added 20 Nov 2026, for 20 Nov – 3 Dec 2026 (prorated 46.7%)",
    "seats_removed": "2 Pro seats removed 20 Dec 2025, for 20 Dec 2025 – 3 Jan 2026 (prorated 6.7%)",
    "overage": "10 conversation(s) over the 1000 included",
    "late_usage": "1 conversation(s) of 1–30 Nov 2026 metered after invoice SB-2026-000001: 1 over the 1000 included",
}
CHINESE = {
    "seats": "Starter 套餐 — 3 个席位，2026年11月1日 – 2026年12月1日",
    "seats_prorated": "Pro 套餐 — 3 个席位，2026年11月15日–30日（按比例 53.3%）",
    "seats_added": "2026年11月20日 增加 1 个 Pro 席位，计费 2026年11月20日 – 12月3日（按比例 46.7%）",
    "seats_removed": "2025年12月20日 减少 2 个 Pro 席位，计费 2025年12月20日 – 2026年1月3日（按比例 6.7%）",
    "overage": "超出所含 1000 个会话的 10 个会话",
    "late_usage": "2026年11月1日–30日 的 1 个会话在发票 SB-2026-000001 之后计量：超出所含 1000 个会话 1 个",
}


def test_every_kind_reads_in_english_and_chinese():
    assert set(SAMPLES) == set(KINDS) == set(ENGLISH) == set(CHINESE)
    for kind, params in SAMPLES.items():
        with translation.override("en"):
            assert describe(kind, params) == ENGLISH[kind]
        with translation.override("zh-hans"):
            assert describe(kind, params) == CHINESE[kind]


def test_a_single_day_and_an_unknown_kind():
    with translation.override("en"):
        assert describe("seats_prorated", {**SAMPLES["seats_prorated"], "last": "2026-11-15"}) == (
            "Pro plan — 3 seats, 15 Nov 2026 (prorated 53.3%)")
    with pytest.raises(ValueError, match="unknown invoice line kind 'refund'"):
        describe("refund", {})


@pytest.fixture
def invoice(invoiced):
    return invoiced[0]


def test_an_issued_invoice_reads_in_each_owners_language(client, world, invoice):
    with scope(tenant=world.tenant):
        line = invoice.lines.get()
    assert line.kind == "seats" and line.params["plan"] == "Starter"
    assert line.description.startswith("Starter plan — 3 seat(s), ")  # English kept for the admin
    start = datetime.fromisoformat(line.params["start"])
    chinese = f"Starter 套餐 — 3 个席位，{start.year}年{start.month}月{start.day}日 – "
    client.force_login(world.owner.user)
    english_page = client.get(f"/billing/invoices/{invoice.public_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert line.description in english_page and "套餐" not in english_page
    world.owner.user.language = "zh-hans"
    world.owner.user.save(update_fields=["language"])
    page = client.get(f"/billing/invoices/{invoice.public_id}/").content.decode()
    assert chinese in page and line.description not in page
    assert chinese in _cjk_pdf_text(client.get(f"/billing/invoices/{invoice.public_id}.pdf").content)


def test_lines_issued_before_kinds_show_their_stored_english(client, world, invoice):
    with scope(tenant=world.tenant):
        old = InvoiceLine.objects.create(
            tenant=world.tenant, invoice=invoice, description="Starter plan — 3 seat(s), 01 Oct – 01 Nov 2026",
            quantity=3, unit_price=15, amount=45)
    assert (old.kind, old.params) == ("", {})
    with translation.override("zh-hans"):
        assert old.text == "Starter plan — 3 seat(s), 01 Oct – 01 Nov 2026"
    world.owner.user.language = "zh-hans"
    world.owner.user.save(update_fields=["language"])
    client.force_login(world.owner.user)
    page = client.get(f"/billing/invoices/{invoice.public_id}/").content.decode()
    assert "Starter plan — 3 seat(s), 01 Oct – 01 Nov 2026" in page and "发票" in page



def test_the_admin_shows_the_lines_in_the_readers_language(client, invoice):
    staff = User.objects.create_superuser("root@platform.example", "x-Secret-123", language="zh-hans")
    client.force_login(staff)
    page = client.get(admin_url(invoice, "change")).content.decode()
    assert "Starter 套餐 — 3 个席位" in page and "Starter plan" not in page
    staff.language = "en"
    staff.save(update_fields=["language"])
    assert "Starter plan — 3 seat(s)" in client.get(admin_url(invoice, "change")).content.decode()


def test_the_emailed_pdf_writes_the_lines_in_the_owners_language(world):
    world.owner.user.language = "zh-hans"
    world.owner.user.save(update_fields=["language"])
    start_trial(tenant=world.tenant)
    change_plan(tenant=world.tenant, plan_code="starter", seats=3)
    drain()
    with scope(tenant=world.tenant):
        end = Subscription.objects.get().current_period_end
    close_due_periods(now=end + timedelta(minutes=1))
    drain()
    with scope(tenant=world.tenant):
        invoice = Invoice.objects.get()
    [email] = [m for m in mail.outbox if invoice.number in m.subject]
    drawn = _cjk_pdf_text(email.attachments[0][1])
    assert "Starter 套餐 — 3 个席位" in drawn
