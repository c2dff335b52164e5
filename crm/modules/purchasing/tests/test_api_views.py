"""Purchasing API and pages: permissions (a sales rep gets 403 on manage routes, the warehouse receives but
does not order), a receipt through the API with its Idempotency-Key, pages render in zh-Hans, lists keep a
constant number of queries."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.inventory.public import StockMove

from .factories import confirmed_order, make_product, make_supplier, make_warehouse

API = "/api/v1/purchasing"


def jpost(client: Any, url: str, data: Any, **headers: Any) -> Any:
    return client.post(url, data, content_type="application/json", headers=headers)


def test_sales_rep_is_refused_and_buyer_roles_allowed(beta: Any) -> None:
    body = {"code": "GYS01", "name": "华东五金", "invoice_type": "special_13"}
    assert jpost(beta.client("sales"), f"{API}/suppliers/", body).status_code == 403
    assert beta.client("sales").get(f"{API}/suppliers/").status_code == 403
    assert jpost(beta.client("warehouse"), f"{API}/suppliers/", body).status_code == 403
    created = jpost(beta.client("admin"), f"{API}/suppliers/", body)
    assert created.status_code == 201, created.content
    assert beta.client("warehouse").get(f"{API}/suppliers/").json()["results"][0]["code"] == "GYS01"
    bad = jpost(beta.client("admin"), f"{API}/suppliers/", {**body, "name": "重复"})
    assert bad.status_code == 400


def test_receipt_through_the_api_posts_once(beta: Any) -> None:
    with schema_context(beta.schema):
        wh, p = make_warehouse(), make_product()
        order = confirmed_order(beta.users["owner"], make_supplier(), [(p, "6", "11.30")], wh)
        (line,) = order.lines.all()
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    client = beta.client("warehouse")
    body = {"lines": [{"line": line.pk, "quantity": "2"}]}
    assert jpost(beta.client("sales"), f"{API}/orders/{order.pk}/receipts/", body).status_code == 403
    first = jpost(client, f"{API}/orders/{order.pk}/receipts/", body, **{"Idempotency-Key": "rk-1"})
    assert first.status_code == 201, first.content
    again = jpost(client, f"{API}/orders/{order.pk}/receipts/", body, **{"Idempotency-Key": "rk-1"})
    assert again.json()["id"] == first.json()["id"]
    over = jpost(
        client, f"{API}/orders/{order.pk}/receipts/", {"lines": [{"line": line.pk, "quantity": "9"}]}
    )
    assert over.status_code == 400
    with schema_context(beta.schema):
        assert StockMove.objects.filter(product=p).count() == 1
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # Transitions need purchasing.manage: the warehouse may not cancel
    assert jpost(client, f"{API}/orders/{order.pk}/transition/", {"name": "complete"}).status_code == 403


def test_pages_render_in_chinese(beta: Any) -> None:
    with schema_context(beta.schema):
        wh, p = make_warehouse(), make_product("不锈钢螺栓")
        s = make_supplier(name="宁波紧固件厂")
        order = confirmed_order(beta.users["owner"], s, [(p, "6", "11.30")], wh)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    client = beta.client("owner", language="zh-hans")
    for url in (
        "/purchasing/",
        f"/purchasing/suppliers/{s.pk}/",
        "/purchasing/suppliers/new/",
        "/purchasing/rfqs/",
        "/purchasing/orders/",
        f"/purchasing/orders/{order.pk}/",
        "/purchasing/orders/new/",
        "/purchasing/payables/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(f"/purchasing/orders/{order.pk}/").content.decode()
    assert "宁波紧固件厂" in html and order.number in html
    pdf = client.get(f"/purchasing/orders/{order.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_order_list_queries_do_not_grow(beta: Any) -> None:
    client = beta.client("owner")

    def count() -> int:
        with CaptureQueriesContext(connection) as q:
            assert client.get(f"{API}/orders/").status_code == 200
        return len(q)

    with schema_context(beta.schema):
        s, wh, p = make_supplier(), make_warehouse(), make_product()
        confirmed_order(beta.users["owner"], s, [(p, "1", "1")], wh)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    count()
    few = count()
    with schema_context(beta.schema):
        for _i in range(5):
            confirmed_order(beta.users["owner"], s, [(p, "1", "1")], wh)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert count() == few
    assert Decimal("1")
