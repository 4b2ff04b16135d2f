"""Invoice PDFs, drawn with reportlab, in the active language (the caller picks it: the page's, or the owners')."""
from __future__ import annotations

from datetime import datetime
from io import BytesIO

from django.utils import translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django_scopes import scope

from billing.models import Invoice

# Adobe's Simplified Chinese CID font: reportlab knows its metrics and PDF viewers supply the glyphs,
# so nothing is embedded and no font file ships with us. Chinese text needs it; Helvetica has no CJK.
CJK_FONT = "STSong-Light"


def invoice_pdf(invoice: Invoice) -> bytes:
    # Imported here: reportlab (~9 MB) is only needed by the processes that draw invoices.
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    with scope(tenant=invoice.tenant):
        lines = list(invoice.lines.all().order_by("pk"))
    texts = [invoice.tenant.name, *(line.text for line in lines)]
    cjk = (translation.get_language() or "").startswith("zh") or not all(_win_ansi(text) for text in texts)
    styles = getSampleStyleSheet()
    font, bold = "Helvetica", "Helvetica-Bold"
    if cjk:
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
        font = bold = CJK_FONT
        for style in styles.byName.values():
            style.fontName = CJK_FONT  # type: ignore[attr-defined]

    title = _("Invoice %(number)s") % {"number": invoice.number}
    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, title=title, lang=translation.get_language() or "en",
                            leftMargin=20 * mm, rightMargin=20 * mm, topMargin=20 * mm)
    story = [
        Paragraph("Switchboard", styles["Title"]),
        Paragraph(_escape(title), styles["Heading2"]),
        Paragraph(_escape(_("Billed to: %(tenant_name)s") % {"tenant_name": invoice.tenant.name}), styles["Normal"]),
        Paragraph(_escape(_("Period: %(start)s – %(end)s") % {
            "start": _date(invoice.period_start), "end": _date(invoice.period_end)}), styles["Normal"]),
        Paragraph(_escape(_("Issued: %(issued)s · Status: %(status)s") % {
            "issued": _date(invoice.issued_at), "status": invoice.get_status_display()}), styles["Normal"]),
        Spacer(1, 8 * mm),
    ]
    rows: list[list[object]] = [[_("Description"), _("Qty"), _("Unit price"), _("Amount")]]
    for line in lines:
        rows.append([Paragraph(_escape(line.text), styles["Normal"]), line.quantity_display,
                     f"{line.unit_price:.2f}", f"{line.amount:.2f}"])
    rows.append(["", "", _("Total"), f"{invoice.total:.2f} {invoice.currency}"])
    table = Table(rows, colWidths=[95 * mm, 20 * mm, 25 * mm, 30 * mm])
    table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef2ff")),
        ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.HexColor("#6366f1")),
        ("LINEABOVE", (0, -1), (-1, -1), 0.5, colors.black),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("FONTNAME", (0, -1), (-1, -1), bold),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(table)
    doc.build(story)
    return buffer.getvalue()


def _date(moment: datetime) -> str:
    """A date as the active language writes it (5 Dec 2026, 2026年12月5日)."""
    return date_format(moment, "DATE_FORMAT")


def _win_ansi(text: str) -> bool:
    """Whether Helvetica's WinAnsi encoding (cp1252: Latin letters, dashes, €) can draw ``text``."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
