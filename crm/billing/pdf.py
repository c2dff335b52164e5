"""A manual (offline) invoice as a PDF, drawn with reportlab on request.

Nothing is written to disk: the document is made from the invoice rows each time, byte for byte the same
for the same rows (reportlab's invariant mode fixes the creation date and document id), so there is no
stored file whose path could leak between tenants. Text uses Adobe's built-in CID font STSong-Light, which
every PDF reader has, so Chinese renders without shipping a font file. Labels and module names are in the
workspace's default language, whoever downloads the file (an operator sees what the customer sees).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from crm.billing.ledger import tenant_tz
from crm.billing.models import Invoice, InvoiceLine, InvoiceStatus
from crm.billing.services import DISCOUNT_LINE
from crm.kernel.pdf import build_pdf, facts_table, money, para, styles
from crm.platform.registry import registry

__all__ = ["invoice_pdf", "money"]

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")


def _day(value: datetime | None, invoice: Invoice) -> str:
    return value.astimezone(tenant_tz(invoice.tenant)).date().isoformat() if value else ""


def _module_name(line: InvoiceLine) -> str:
    # Rendered now, in the active (workspace) language; the stored description was written in whatever
    # language the monthly task ran in.
    return registry.name_of(line.module, default=line.description)


def _discount_label(line: InvoiceLine) -> str:
    found = _PERCENT.search(line.description)
    if found is None:
        return line.description
    return _("Discount %(percent)s%%") % {"percent": found.group(1)}


def invoice_pdf(invoice: Invoice, *, compress: bool = True) -> bytes:
    """The PDF of a manual invoice (tests may turn page compression off to read the drawing commands)."""
    tenant = invoice.tenant
    with translation.override(tenant.default_language or "zh-hans"):
        return _render(invoice, compress=compress)


def _render(invoice: Invoice, *, compress: bool) -> bytes:
    st = styles()
    base, title, small, right = st.base, st.title, st.small, st.right
    tenant = invoice.tenant
    currency = invoice.currency
    lines = list(invoice.lines.all())
    modules = [ln for ln in lines if ln.module != DISCOUNT_LINE]
    discounts = [ln for ln in lines if ln.module == DISCOUNT_LINE]
    subtotal = sum((ln.amount for ln in modules), Decimal("0"))

    def p(text: Any, style: ParagraphStyle = base) -> Paragraph:
        return para(text, style)

    if invoice.status == InvoiceStatus.PAID and invoice.paid_at:
        status = _("Paid on %(date)s") % {"date": _day(invoice.paid_at, invoice)}
    else:
        status = str(invoice.get_status_display())
    facts = [
        (_("Invoice number"), invoice.number),
        (_("Customer"), tenant.name or tenant.slug or ""),
        (
            _("Period"),
            _("%(start)s to %(end)s")
            % {"start": invoice.period_start.isoformat(), "end": invoice.period_end.isoformat()},
        ),
        (_("Issue date"), _day(invoice.created_at, invoice)),
        (_("Due date"), _day(invoice.due_at, invoice)),
        (_("Status"), status),
    ]
    head = facts_table(facts, st)

    rows: list[list[Any]] = [
        [p(_("Module")), p(_("Days"), right), p(_("Monthly price"), right), p(_("Amount"), right)]
    ]
    for line in modules:
        rows.append(
            [
                p(_module_name(line)),
                p(str(line.days), right),
                p(money(line.monthly_amount, currency), right),
                p(money(line.amount, currency), right),
            ]
        )
    rows.append([p(_("Subtotal")), "", "", p(money(subtotal, currency), right)])
    for line in discounts:
        rows.append([p(_discount_label(line)), "", "", p(money(line.amount, currency), right)])
    rows.append(
        [
            p(_("Total (%(currency)s, tax included)") % {"currency": currency}),
            "",
            "",
            p(money(invoice.total, currency), right),
        ]
    )
    table = Table(rows, colWidths=[80 * mm, 20 * mm, 35 * mm, 35 * mm], hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
                ("LINEABOVE", (0, len(modules) + 1), (-1, len(modules) + 1), 0.4, colors.grey),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
            ]
        )
    )

    if invoice.status == InvoiceStatus.PAID:
        closing = _("This invoice has been paid. Thank you.")
    else:
        closing = _("Please pay %(total)s by %(date)s by bank transfer, quoting the invoice number.") % {
            "total": money(invoice.total, currency),
            "date": _day(invoice.due_at, invoice),
        }

    return build_pdf(
        [
            p(_("SMB CRM"), small),
            p(_("Invoice"), title),
            head,
            Spacer(1, 8 * mm),
            table,
            Spacer(1, 6 * mm),
            p(closing),
            Spacer(1, 2 * mm),
            p(_("Amounts include tax."), small),
        ],
        title=_("Invoice %(number)s") % {"number": invoice.number},
        subject=tenant.name or "",
        compress=compress,
    )
