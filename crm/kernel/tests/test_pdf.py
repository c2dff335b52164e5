"""Amounts in Chinese capitals and the document PDF (the invoice PDF shares the mechanism: its tests are
tests/billing/test_invoice_pdf.py)."""

from __future__ import annotations

from decimal import Decimal
from io import BytesIO

import pytest
from django_tenants.utils import schema_context
from pypdf import PdfReader

from crm.kernel.documents import LineData, document_create
from crm.kernel.pdf import amount_in_words_cn, document_pdf
from tests.dummy_module.models import DummyOrder


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("0", "零元整"),
        ("0.05", "伍分"),
        ("0.50", "伍角"),
        ("1", "壹元整"),
        ("1.05", "壹元零伍分"),
        ("10", "壹拾元整"),
        ("15.20", "壹拾伍元贰角"),
        ("100.05", "壹佰元零伍分"),
        ("105.25", "壹佰零伍元贰角伍分"),
        ("1001", "壹仟零壹元整"),
        ("1010", "壹仟零壹拾元整"),
        ("1100", "壹仟壹佰元整"),
        ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
        ("10005", "壹万零伍元整"),
        ("100000", "壹拾万元整"),
        ("100100", "壹拾万零壹佰元整"),
        ("1001000", "壹佰万壹仟元整"),
        ("1000100", "壹佰万零壹佰元整"),
        ("10000000", "壹仟万元整"),
        ("100000001", "壹亿零壹元整"),
        ("100100000", "壹亿零壹拾万元整"),
        ("120000000.99", "壹亿贰仟万元玖角玖分"),
        ("-35.6", "负叁拾伍元陆角"),
        ("2.005", "贰元零壹分"),  # rounded half up to the fen first
    ],
)
def test_amount_in_words_cn(amount, words):
    assert amount_in_words_cn(Decimal(amount)) == words


def test_document_pdf_has_header_lines_totals_words_and_terms(alpha):
    with schema_context(alpha.schema):
        doc = document_create(
            actor=alpha.users["sales"],
            model=DummyOrder,
            terms="货到30天内付款",
            lines=[
                LineData(
                    description="螺纹钢 HRB400",
                    quantity=Decimal("2.5"),
                    unit="吨",
                    unit_price_incl=Decimal("4000"),
                ),
                LineData(
                    description="运费",
                    quantity=Decimal("1"),
                    unit_price_incl=Decimal("234.56"),
                    vat_rate=Decimal("0.09"),
                ),
            ],
        )
        data = document_pdf(
            doc, title="销售订单", company="Alpha 有限公司", customer="上海明达科技", language="zh-hans"
        )
        again = document_pdf(
            doc, title="销售订单", company="Alpha 有限公司", customer="上海明达科技", language="zh-hans"
        )
    assert data.startswith(b"%PDF") and data == again  # same rows, same bytes
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)
    for expected in (
        "Alpha 有限公司",
        "销售订单",
        doc.number,
        "上海明达科技",
        "螺纹钢 HRB400",
        "2.5 吨",
        "10,234.56",
        "壹万零贰佰叁拾肆元伍角陆分",
        "货到30天内付款",
    ):
        assert expected in text, expected
