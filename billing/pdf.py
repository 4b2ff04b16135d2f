"""Invoice PDFs, drawn with reportlab."""
from __future__ import annotations

from io import BytesIO

from django_scopes import scope

from billing.models import Invoice


def invoice_pdf(invoice: Invoice) -> bytes:
    # Imported here: reportlab (~9 MB) is only needed by the processes that draw invoices.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=f"Invoice {invoice.number}",
                            leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm)
    styles = getSampleStyleSheet()
    story = [
        Paragraph("Switchboard", styles["Title"]),
        Paragraph(f"Invoice <b>{invoice.number}</b>", styles["Heading2"]),
        Paragraph(f"Billed to: {_escape(invoice.tenant.name)}", styles["Normal"]),
        Paragraph(f"Period: {invoice.period_start:%d %b %Y} – {invoice.period_end:%d %b %Y}", styles["Normal"]),
        Paragraph(f"Issued: {invoice.issued_at:%d %b %Y} · Status: {invoice.get_status_display()}", styles["Normal"]),
        Spacer(1, 8 * mm),
    ]
    rows = [["Description", "Qty", "Unit price", "Amount"]]
    with scope(tenant=invoice.tenant):
        lines = list(invoice.lines.all().order_by("pk"))
    for line in lines:
        rows.append([Paragraph(_escape(line.description), styles["Normal"]), line.quantity_display,
                     f"{line.unit_price:.2f}", f"{line.amount:.2f}"])
    rows.append(["", "", "Total", f"{invoice.total:.2f} {invoice.currency}"])
    table = Table(rows, colWidths=[95 * mm, 20 * mm, 25 * mm, 30 * mm])
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2ff")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#6366f1")),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table)
    doc.build(story)
    return buffer.getvalue()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
