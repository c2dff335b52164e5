"""Printable Chinese documents: one mechanism for every PDF the product draws (invoices, orders,
contracts, quotes...).

reportlab with Adobe's built-in CID font STSong-Light, which every PDF reader has, so Chinese renders
without shipping a font file; invariant mode makes the same rows give the same bytes (no creation time
or random id), so nothing is stored and nothing can leak between tenants. `build_pdf` is the page frame,
`facts_table` the label/value header, `document_pdf` a whole numbered document with lines, totals, the
amount in Chinese capitals (大写金额) and terms.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from typing import Any

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from crm.kernel.money import round_money

FONT = "STSong-Light"
# The full-width yen sign: STSong-Light's character collection (Adobe-GB1) maps it; U+00A5 may not show.
CURRENCY_SIGNS = {"CNY": "￥"}

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("仟", "佰", "拾", "")
_GROUP_UNITS = ("", "万", "亿", "万亿")


def font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def money(amount: Decimal, currency: str) -> str:
    """ "￥1,234.50" for CNY; "1,234.50 USD" for a currency without a sign here."""
    text = f"{amount:,.2f}"
    sign = CURRENCY_SIGNS.get(currency.upper())
    if sign:
        return f"-{sign}{text[1:]}" if text.startswith("-") else f"{sign}{text}"
    return f"{text} {currency.upper()}"


def _group_words(n: int) -> str:
    """0 < n < 10000 in capitals, inner zeros as one 零 (1001 -> 壹仟零壹, 1010 -> 壹仟零壹拾)."""
    out: list[str] = []
    zero = False
    for unit, digit in zip(_SMALL_UNITS, f"{n:04d}", strict=True):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[int(digit)] + unit)
    return "".join(out)


def amount_in_words_cn(amount: Decimal) -> str:
    """The amount in Chinese capitals as written on cheques, invoices and contracts (大写金额), rounded to
    the fen: 1234.56 -> 壹仟贰佰叁拾肆元伍角陆分, 100000 -> 壹拾万元整, 1.05 -> 壹元零伍分."""
    value = round_money(Decimal(amount))
    sign = "负" if value < 0 else ""
    value = abs(value)
    whole, cents = int(value), int((value - int(value)) * 100)
    jiao, fen = divmod(cents, 10)
    if whole >= 10**16:
        raise ValueError("amount too large")
    groups = []
    rest = whole
    while rest:
        rest, g = divmod(rest, 10000)
        groups.append(g)
    words: list[str] = []
    zero = False
    for index in range(len(groups) - 1, -1, -1):
        g = groups[index]
        if g == 0:
            zero = bool(words)
            continue
        if words and (zero or g < 1000):
            words.append("零")
        words.append(_group_words(g) + _GROUP_UNITS[index])
        zero = False
    text = "".join(words)
    if text:
        text += "元"
    if not jiao and not fen:
        return sign + (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return sign + text


@dataclass(frozen=True)
class Styles:
    base: ParagraphStyle
    title: ParagraphStyle
    small: ParagraphStyle
    right: ParagraphStyle


def styles() -> Styles:
    base = ParagraphStyle("base", fontName=font(), fontSize=9.5, leading=14)
    return Styles(
        base=base,
        title=ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=4),
        small=ParagraphStyle(
            "small", parent=base, fontSize=8.5, leading=12, textColor=colors.HexColor("#555555")
        ),
        right=ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
    )


def para(text: Any, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text: Paragraph reads a little markup, so what comes from the database is
    escaped."""
    return Paragraph(html.escape(str(text), quote=False), style)


def facts_table(facts: Sequence[tuple[Any, Any]], st: Styles) -> Table:
    """The label / value block under a title (number, date, customer...)."""
    head = Table(
        [[para(label, st.small), para(value, st.base)] for label, value in facts],
        colWidths=[32 * mm, 120 * mm],
        hAlign="LEFT",
    )
    head.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return head


def build_pdf(
    flowables: Sequence[Flowable], *, title: str, subject: str = "", compress: bool = True
) -> bytes:
    """A4 with 20 mm margins, in the active language, the same bytes for the same content."""
    buffer = BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=title,
        author=_("SMB CRM"),
        subject=subject,
        creator=_("SMB CRM"),
        invariant=1,
        pageCompression=1 if compress else 0,
        lang=translation.get_language() or "zh-hans",
    )
    document.build(list(flowables))
    return buffer.getvalue()


def _quantity(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def document_pdf(
    document: Any,
    *,
    title: str,
    company: str,
    customer: str = "",
    extra_facts: Sequence[tuple[Any, Any]] = (),
    language: str | None = None,
    compress: bool = True,
) -> bytes:
    """A numbered document with lines (a `crm.kernel.models.Document`) as a PDF: company and title, number,
    date and customer, the lines, totals excl./tax/incl., the total in Chinese capitals, the terms."""
    from crm.kernel.documents import line_model
    from crm.kernel.numbering import tenant_zone

    with translation.override(language or translation.get_language() or "zh-hans"):
        st = styles()
        currency = document.currency
        lines = list(line_model(type(document))._default_manager.filter(document=document))
        facts = [
            (_("Number"), document.number),
            (_("Date"), timezone.localtime(document.created_at, tenant_zone()).date().isoformat()),
            (_("Customer"), customer),
            *extra_facts,
        ]
        rows: list[list[Any]] = [
            [
                para(_("Item"), st.base),
                para(_("Quantity"), st.right),
                para(_("Unit price"), st.right),
                para(_("VAT"), st.right),
                para(_("Amount"), st.right),
            ]
        ]
        for ln in lines:
            rows.append(
                [
                    para(ln.description, st.base),
                    para(f"{_quantity(ln.quantity)} {ln.unit}".strip(), st.right),
                    para(money(ln.unit_price_incl.quantize(Decimal("0.01")), currency), st.right),
                    para(f"{_quantity(ln.vat_rate * 100)}%", st.right),
                    para(money(ln.amount_incl, currency), st.right),
                ]
            )
        for label, amount in (
            (_("Total excl. tax"), document.total_excl),
            (_("Tax"), document.total_tax),
            (_("Total (%(currency)s, tax included)") % {"currency": currency}, document.total_incl),
        ):
            rows.append([para(label, st.base), "", "", "", para(money(amount, currency), st.right)])
        table = Table(
            rows, colWidths=[70 * mm, 25 * mm, 27 * mm, 15 * mm, 33 * mm], hAlign="LEFT", repeatRows=1
        )
        table.setStyle(
            TableStyle(
                [
                    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                    ("LINEABOVE", (0, len(lines) + 1), (-1, len(lines) + 1), 0.4, colors.grey),
                    ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                    ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                    ("LEFTPADDING", (0, 0), (0, -1), 0),
                ]
            )
        )
        flow: list[Flowable] = [
            para(company, st.small),
            para(title, st.title),
            facts_table(facts, st),
            Spacer(1, 8 * mm),
            table,
            Spacer(1, 4 * mm),
            para(
                _("Amount in words: %(words)s") % {"words": amount_in_words_cn(document.total_incl)}, st.base
            ),
        ]
        if document.terms:
            flow += [Spacer(1, 4 * mm), para(_("Terms"), st.small), para(document.terms, st.base)]
        return build_pdf(flow, title=f"{title} {document.number}", subject=company, compress=compress)
