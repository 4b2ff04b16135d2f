"""The owner's billing page and invoices: owner only, own tenant only, hostile input refused."""
from __future__ import annotations

from django_scopes import scope

from billing.models import Subscription
from billing.subscriptions import start_trial


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


def _cjk_pdf_text(pdf: bytes) -> str:
    """The text a CID font draws on the PDF's pages: reportlab writes it as UTF-16BE in ``(…) Tj``
    literal strings inside ASCII85 + Flate page streams."""
    import base64
    import re
    import zlib
    drawn = []
    for header, raw in re.findall(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", pdf, re.S):
        if b"ASCII85Decode" in header:
            raw = base64.a85decode(raw.strip().removeprefix(b"<~").removesuffix(b"~>"))
        if b"FlateDecode" in header:
            raw = zlib.decompress(raw)
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", raw, re.S):
            unescaped = re.sub(rb"\\([0-7]{1,3}|.)", lambda m: bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit()
                               else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1)), literal)
            drawn.append(unescaped.decode("utf-16-be", errors="replace"))
    return " ".join(drawn)


def test_invoice_in_a_chinese_owners_language(client, world, invoiced):
    ours, _ = invoiced
    world.owner.user.language = "zh-hans"
    world.owner.user.save(update_fields=["language"])
    client.force_login(world.owner.user)
    page = client.get(f"/billing/invoices/{ours.public_id}/").content.decode()
    assert f"发票 {ours.number}" in page and "合计" in page and "未付" in page
    pdf = client.get(f"/billing/invoices/{ours.public_id}.pdf").content
    assert b"STSong-Light" in pdf
    drawn = _cjk_pdf_text(pdf)
    for label in (f"发票 {ours.number}", "合计", "单价", "开票对象：", "状态：未付"):
        assert label in drawn
    english = client.get(f"/billing/invoices/{ours.public_id}.pdf", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 200  # the user's choice wins over the browser: still Chinese
    assert b"STSong-Light" in english.content
