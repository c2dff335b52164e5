"""Suppliers and supplier prices through the core's shared import: Chinese headers and words, existing
suppliers updated by code, a second run of the same file adds nothing, bad rows are row errors, the
downloadable template maps itself, and only buyers (purchasing.manage) are offered the kinds."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from crm.modules.core import import_kinds, imports
from crm.modules.purchasing.imports import SUPPLIER_PRICES, SUPPLIERS
from crm.modules.purchasing.models import Supplier, SupplierContact, SupplierPrice

from .factories import make_product, make_supplier

SUPPLIER_FILE = (
    "供应商编码,供应商名称,纳税人类型,发票类型,账期,开户行,联系人,手机\n"
    "gys101,佛山恒达五金,一般纳税人,专票,60,工行南海支行,陈国强,13802561234\n"
    "GYS102,义乌小商品行,小规模,,30天,,,\n"
    "GYS103,坏账期公司,一般纳税人,专票,400,,,\n"
    "GYS104,发票不明公司,一般纳税人,电子发票,30,,,\n"
)


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)


def run(actor: Any, kind: str, data: bytes, filename: str = "x.csv", **kw: Any) -> Any:
    job = imports.import_upload(actor=actor, kind=kind, filename=filename, data=data)
    imports.import_start(actor=actor, job=job, mapping=job.mapping, key="", all_or_nothing=False, **kw)
    return imports.import_run(job.pk)


def test_only_buyers_are_offered_the_kinds(pur: Any) -> None:
    offered = {k.name for k in import_kinds.kinds_offered(pur.users["owner"])}
    assert {"suppliers", "supplier_prices"} <= offered
    for role in ("sales", "warehouse"):
        names = {k.name for k in import_kinds.kinds_offered(pur.users[role])}
        assert "suppliers" not in names and "supplier_prices" not in names


def test_import_suppliers_creates_updates_and_is_idempotent(pur: Any) -> None:
    # Given an existing supplier GYS101 with other terms
    old = make_supplier(code="GYS101", name="旧名", payment_days=15, bank_name="原开户行")
    owner = pur.users["owner"]
    # When the file is imported (gb18030, as Excel writes CSV in China)
    job = run(owner, "suppliers", SUPPLIER_FILE.encode("gb18030"))
    # Then GYS101 is updated, GYS102 created, and the two bad rows are row errors
    assert (job.created_count, job.updated_count) == (1, 1), job.errors
    assert {e["row"] for e in job.errors} == {4, 5}
    assert {e["field"] for e in job.errors} == {"payment_days", "invoice_type"}
    old.refresh_from_db()
    assert (old.name, old.payment_days, old.bank_name, old.invoice_type) == (
        "佛山恒达五金",
        60,
        "工行南海支行",
        "special_13",
    )
    assert list(old.contacts.values_list("name", "phone")) == [("陈国强", "13802561234")]
    small = Supplier.objects.get(code="GYS102")
    # A small-scale taxpayer without an invoice column gives 3 % general invoices; "30天" is 30 days.
    assert (small.tax_status, small.invoice_type, small.payment_days) == ("small_scale", "general_3", 30)
    assert not Supplier.objects.filter(code__in=["GYS103", "GYS104"]).exists()
    # When the same file is imported again, nothing new appears (no second contact either)
    again = run(owner, "suppliers", SUPPLIER_FILE.encode("gb18030"))
    assert again.created_count == 0
    assert Supplier.objects.filter(code__startswith="GYS1").count() == 2
    assert SupplierContact.objects.filter(supplier=old).count() == 1


def test_unknown_invoice_word_can_be_mapped_on_the_preview(pur: Any) -> None:
    data = "供应商编码,供应商名称,发票类型\nGYS201,宁波精工,电子专票\n".encode()
    job = run(pur.users["owner"], "suppliers", data, value_map={"invoice_type": {"电子专票": "special_13"}})
    assert job.created_count == 1, job.errors
    assert Supplier.objects.get(code="GYS201").invoice_type == "special_13"


def test_import_prices_by_code_or_name_updates_same_day(pur: Any) -> None:
    # Given two suppliers (one giving 3 % invoices) and two products
    a = make_supplier(code="GYS301", name="恒达五金")
    b = make_supplier(invoice="general_3", code="GYS302", name="义乌小商品")
    p, q = make_product("不锈钢螺丝 M6"), make_product("尼龙扎带")
    data = (
        "供应商,商品,含税单价,税率,生效日期,来源\n"
        f"GYS301,{p.code},12.80,13%,2027-03-01,报价单 BJ-01\n"
        f"义乌小商品,尼龙扎带,3.5,,2027/3/2,\n"
        f"GYS301,{q.code},-1,,2027-03-01,\n"
        f"无此供应商,{q.code},1,,2027-03-01,\n"
        f"GYS302,{q.code},2,7%,2027-03-01,\n"
    ).encode()
    owner = pur.users["owner"]
    job = run(owner, "supplier_prices", data)
    # Then the two good rows are history rows, the bad ones row errors
    assert job.created_count == 2, job.errors
    assert [e["field"] for e in job.errors] == ["unit_price_incl", "supplier", "vat_rate"]
    first = SupplierPrice.objects.get(supplier=a, product=p)
    assert (first.unit_price_incl, first.vat_rate, first.valid_from, first.source) == (
        Decimal("12.8000"),
        Decimal("0.1300"),
        date(2027, 3, 1),
        "报价单 BJ-01",
    )
    # An empty VAT rate is the rate of the supplier's invoice
    assert SupplierPrice.objects.get(supplier=b, product=q).vat_rate == Decimal("0.0300")
    # When the same file is imported again, no history row is added
    again = run(owner, "supplier_prices", data)
    assert (again.created_count, again.updated_count) == (0, 0)
    assert SupplierPrice.objects.filter(supplier__in=[a, b]).count() == 2
    # When a corrected price for the same day comes, that row is updated, not doubled
    fixed = f"供应商,商品,含税单价,生效日期\nGYS301,{p.code},12.50,2027-03-01\n".encode()
    third = run(owner, "supplier_prices", fixed)
    assert (third.created_count, third.updated_count) == (0, 1)
    assert SupplierPrice.objects.get(supplier=a, product=p).unit_price_incl == Decimal("12.5000")


def test_templates_have_chinese_headers_that_map_every_field(pur: Any) -> None:
    from openpyxl import load_workbook

    for kind in (SUPPLIERS, SUPPLIER_PRICES):
        ws = load_workbook(io.BytesIO(imports.import_template(kind))).active
        headers = [c.value for c in ws[1]]
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in headers), headers
        assert set(imports.guess_mapping(kind, headers).values()) == kind.field_names()
