"""A default VAT rate per product: shown and edited in the product form, the API and the product import;
amounts typed in forms go through parse_amount."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.modules.core import imports
from crm.modules.core.models import Product


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_product_form_takes_a_rate_and_a_typed_amount(alpha: Any) -> None:
    client = alpha.client("manager")
    page = client.get("/products/").content.decode()
    assert "税率" in page and "6%（现代服务）" in page  # the rate choices, in Chinese
    data = {"code": "S1", "name": "安装服务", "price": "¥1,234.5", "vat_rate": "0.06"}
    assert client.post("/products/", data).status_code == 302
    with schema_context(alpha.schema):
        p = Product.objects.get(code="S1")
        assert (p.price, p.vat_rate) == (Decimal("1234.50"), Decimal("0.06"))
    # More than two decimals is refused on the form, nothing saved.
    response = client.post("/products/", {**data, "code": "S2", "price": "1.234"})
    assert response.status_code == 200 and "最多两位小数" in response.content.decode()
    with schema_context(alpha.schema):
        assert not Product.objects.filter(code="S2").exists()
        # Without a rate the product gets the default 13 %.
    assert client.post("/products/", {"code": "G1", "name": "钢材", "price": "10"}).status_code == 302
    with schema_context(alpha.schema):
        assert Product.objects.get(code="G1").vat_rate == Decimal("0.13")


def test_product_api_reads_and_validates_the_rate(alpha: Any) -> None:
    client = alpha.client("manager")
    made = client.post(
        "/api/v1/core/products/",
        {"name": "运输", "price": "300", "vat_rate": "0.09"},
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    assert made.json()["vat_rate"] == "0.09"
    bad = client.post(
        "/api/v1/core/products/",
        {"name": "咨询", "price": "300", "vat_rate": "0.17"},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "vat_rate" in bad.json()["error"]["fields"]
    with schema_context(alpha.schema):
        assert not Product.objects.filter(name="咨询").exists()


def test_product_import_reads_the_rate_column(alpha: Any) -> None:
    data = '商品编码,商品名称,含税单价,税率\nA1,螺纹钢,"4,150.00",13%\nA2,咨询费,500,6\n'.encode()
    with schema_context(alpha.schema):
        actor = alpha.users["manager"]
        job = imports.import_upload(actor=actor, kind="products", filename="p.csv", data=data)
        assert "vat_rate" in job.mapping.values()  # 税率 is recognised
        imports.import_start(actor=actor, job=job, mapping=job.mapping, key="code")
        job = imports.import_run(job.pk)
        assert job.created_count == 2
        assert Product.objects.get(code="A1").vat_rate == Decimal("0.13")
        assert Product.objects.get(code="A2").vat_rate == Decimal("0.06")
        bad = "商品编码,商品名称,含税单价,税率\nB1,钢管,10,17%\n".encode()
        job = imports.import_upload(actor=actor, kind="products", filename="b.csv", data=bad)
        imports.import_start(actor=actor, job=job, mapping=job.mapping, key="code")
        job = imports.import_run(job.pk)
        assert job.created_count == 0 and not Product.objects.filter(code="B1").exists()
