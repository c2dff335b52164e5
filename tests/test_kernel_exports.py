"""The one export helper (crm/kernel/exports.py) and the exports moved onto it (core customers and
products, retail members): BOM'd UTF-8 CSV, .xlsx, formula quoting, tenant-keyed safe file names."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from openpyxl import load_workbook

from crm.kernel.exports import export_filename, export_response
from crm.platform.errors import ServiceError


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return content


ROWS = [["张三", Decimal("12.50"), 3, date(2026, 1, 2), None, "=1+1", "-5 天"]]
COLUMNS = ["姓名", "金额", "数量", "日期", "空", "公式", "文本"]


def test_csv_is_utf8_with_bom_and_quotes_formulas(alpha):
    with schema_context(alpha.schema):
        response = export_response(rows=iter(ROWS), columns=COLUMNS, filename="members")
        body = _body(response)
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == "张三,12.50,3,2026-01-02,,'=1+1,'-5 天"
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_xlsx_keeps_numbers_and_dates_and_quotes_formulas(alpha):
    with schema_context(alpha.schema):
        response = export_response(rows=ROWS, columns=COLUMNS, filename="members", fmt="xlsx")
        body = _body(response)
    ws = load_workbook(io.BytesIO(body)).worksheets[0]
    header, row = list(ws.iter_rows(values_only=True))
    assert list(header) == COLUMNS
    assert row[0] == "张三" and row[1] == 12.5 and row[2] == 3 and row[3].date() == date(2026, 1, 2)
    assert row[5] == "'=1+1"


def test_file_names_carry_the_workspace_and_are_safe(alpha):
    with schema_context(alpha.schema):
        connection.tenant = alpha.tenant  # type: ignore[attr-defined]
        name = export_filename('客户"; rm -rf /', "csv")
        response = export_response(rows=[], columns=["a"], filename="members", fmt="xlsx")
        disposition = response["Content-Disposition"]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert name.startswith("alpha-") and name.endswith(".csv")
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_")
    assert disposition.startswith('attachment; filename="alpha-members-') and disposition.endswith('.xlsx"')


def test_unknown_format_is_refused():
    with pytest.raises(ServiceError):
        export_response(rows=[], columns=["a"], filename="x", fmt="pdf")


def test_member_export_api_csv_and_xlsx(alpha):
    from crm.modules.retail.suite import members

    with schema_context(alpha.schema):
        members(n=3, owner=alpha.users["owner"])
    client = alpha.client("manager")
    csv_response = client.get("/api/v1/retail/members/export/")
    assert csv_response.status_code == 200
    assert 'filename="alpha-members-' in csv_response["Content-Disposition"]
    text = _body(csv_response).decode("utf-8-sig")
    assert text.count("SUITE") == 3
    xlsx = client.get("/api/v1/retail/members/export/?type=xlsx")
    rows = list(load_workbook(io.BytesIO(_body(xlsx))).worksheets[0].iter_rows(min_row=2, values_only=True))
    assert len(rows) == 3
    bad = client.get("/api/v1/retail/members/export/?type=pdf")
    assert bad.status_code == 400 and "type" in bad.json()["error"]["fields"]
    assert alpha.client("clerk").get("/api/v1/retail/members/export/").status_code == 403


def test_customer_export_api_names_the_workspace(alpha):
    response = alpha.client("owner").get("/api/v1/core/customers/export/?type=xlsx")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="alpha-customers-')
    assert alpha.client("owner").get("/api/v1/core/customers/export/?type=doc").status_code == 400
