"""The customer account statement (对账单) as PDF (kernel pdf helpers) and xlsx (kernel exports)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse, HttpResponseBase
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Spacer, Table, TableStyle

from crm.kernel import pdf
from crm.kernel.exports import export_response


def _kind(kind: str) -> str:
    return {"contract": _("Contract"), "receipt": _("Receipt"), "reversal": _("Reversal")}.get(kind, kind)


def statement_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [[data["start"], _("Opening balance"), "", "", "", "", data["opening"]]]
    for x in data["lines"]:
        rows.append([x["date"], _kind(x["kind"]), x["ref"], x["text"], x["debit"], x["credit"], x["balance"]])
    rows.append([data["end"], _("Closing balance"), "", "", data["debits"], data["credits"], data["closing"]])
    return rows


def columns() -> list[str]:
    return [_("Date"), _("Kind"), _("Number"), _("Description"), _("Debit"), _("Credit"), _("Balance")]


def statement_xlsx(data: dict[str, Any]) -> HttpResponseBase:
    return export_response(
        rows=statement_rows(data), columns=columns(), filename=f"statement-{data['customer'].pk}", fmt="xlsx"
    )


def statement_pdf(data: dict[str, Any], *, company: str = "") -> HttpResponse:
    st = pdf.styles()
    customer = data["customer"]
    title = _("Account statement")
    flow: list[Any] = [
        pdf.para(company, st.small),
        pdf.para(title, st.title),
        pdf.facts_table(
            [
                (_("Customer"), customer.name),
                (_("Period"), f"{data['start']} – {data['end']}"),
                (_("Closing balance"), pdf.money(data["closing"], "CNY")),
                (_("Customer credit"), pdf.money(data["credit"], "CNY")),
            ],
            st,
        ),
        Spacer(1, 6 * mm),
    ]
    body = [[pdf.para(c, st.small) for c in columns()]]
    for r in statement_rows(data):
        body.append(
            [
                pdf.para(r[0], st.base),
                pdf.para(r[1], st.base),
                pdf.para(r[2], st.base),
                pdf.para(r[3], st.small),
                *(pdf.para("" if v == "" else pdf.money(v, "CNY"), st.right) for v in r[4:7]),
            ]
        )
    table = Table(
        body, colWidths=[20 * mm, 18 * mm, 28 * mm, 34 * mm, 24 * mm, 24 * mm, 24 * mm], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#bbbbbb")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    flow.append(table)
    flow.append(Spacer(1, 4 * mm))
    flow.append(
        pdf.para(
            _("Balance in words: %(words)s") % {"words": pdf.amount_in_words_cn(data["closing"])}, st.base
        )
    )
    content = pdf.build_pdf(flow, title=title, subject=customer.name)
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="statement-{customer.pk}.pdf"'
    return response
