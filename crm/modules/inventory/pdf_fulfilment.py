"""The delivery note (送货单) as a Chinese PDF through the kernel's PDF helpers."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer, Table, TableStyle

from crm.kernel.numbering import tenant_zone
from crm.kernel.pdf import build_pdf, facts_table, para, styles


def _qty(value: Any) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def delivery_note_pdf(delivery: Any, lines: list[Any], *, company: str) -> bytes:
    st = styles()
    shipped = timezone.localtime(delivery.shipped_at, tenant_zone()).date().isoformat()
    facts = [
        ("单号", delivery.number),
        ("订单号", delivery.contract.number),
        ("客户", delivery.customer.name),
        ("发货日期", shipped),
        ("发货仓库", f"{delivery.warehouse.code} {delivery.warehouse.name}"),
        ("承运商 / 运单号", f"{delivery.carrier} {delivery.waybill}".strip() or "-"),
    ]
    rows: list[list[Any]] = [[para(h, st.base) for h in ("序号", "品名", "数量", "单位")]]
    for i, ln in enumerate(lines, start=1):
        rows.append(
            [
                para(str(i), st.base),
                para(ln.description or ln.product.name, st.base),
                para(_qty(ln.quantity), st.right),
                para(ln.unit, st.base),
            ]
        )
    table = Table(rows, colWidths=[15 * mm, 100 * mm, 25 * mm, 25 * mm], hAlign="LEFT", repeatRows=1)
    table.setStyle(
        TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
    )
    flow: list[Flowable] = [
        para(company, st.small),
        para("送货单", st.title),
        facts_table(facts, st),
        Spacer(1, 6 * mm),
        table,
    ]
    if delivery.note:
        flow += [Spacer(1, 4 * mm), para(f"备注：{delivery.note}", st.base)]
    flow += [
        Spacer(1, 14 * mm),
        para("发货人：__________　　收货人签字：__________　　日期：__________", st.base),
    ]
    return build_pdf(flow, title=f"送货单 {delivery.number}", subject=company)
