"""Inventory API and pages: permissions (view for managers, manage for warehouse/admin/owner), the
Idempotency-Key on postings, query counts of the lists, cross-tenant isolation, the opening-stock import."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.core import imports
from crm.modules.inventory.models import StockBalance, StockDocument, StockMove, Warehouse

from .factories import make_product, make_warehouse, mv, post, to_public

API = "/api/v1/inventory"
K = StockMove.Kind


@pytest.fixture(autouse=True)
def media(tmp_path: Any, settings: Any) -> None:
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def stock(beta: Any) -> dict[str, Any]:
    with schema_context(beta.schema):
        a, b = make_warehouse("A01", name="主仓"), make_warehouse("B01", name="分仓")
        p = make_product("不锈钢水杯", min_stock="20", reorder="50")
        post(beta.users["owner"], mv(p, a, "12", K.RECEIPT, "8.00"))
    to_public()
    return {"a": a, "b": b, "p": p}


def jpost(client: Any, url: str, data: Any, **headers: Any) -> Any:
    return client.post(url, data, content_type="application/json", headers=headers)


def test_balances_list_for_managers_and_not_for_reps(beta: Any, stock: dict[str, Any]) -> None:
    body = beta.client("manager").get(f"{API}/balances/?low=true").json()
    (row,) = body["results"]
    assert (row["on_hand"], row["available"], row["value"], row["average_cost"]) == (
        "12.0000",
        "12.0000",
        "96.00",
        "8.0000",
    )
    assert beta.client("sales").get(f"{API}/balances/").status_code == 403
    assert beta.client("manager").get(f"{API}/balances/?warehouse=abc").status_code == 400


def test_post_with_idempotency_key_posts_once(beta: Any, stock: dict[str, Any]) -> None:
    client = beta.client("warehouse")
    body = {
        "moves": [{"product": stock["p"].pk, "warehouse": stock["a"].pk, "kind": "delivery", "quantity": "5"}]
    }
    first = jpost(client, f"{API}/post/", body, **{"Idempotency-Key": "ship-42"})
    assert first.status_code == 201, first.content
    assert first.json()["moves"][0]["value"] == "-40.00"
    again = jpost(client, f"{API}/post/", body, **{"Idempotency-Key": "ship-42"})
    assert again.status_code in (200, 201)
    with schema_context(beta.schema):
        assert StockBalance.objects.get(product=stock["p"], warehouse=stock["a"]).on_hand == Decimal("7")
    to_public()
    # No key: refused; a manager may look but not post
    assert jpost(client, f"{API}/post/", body).status_code == 400
    assert jpost(beta.client("manager"), f"{API}/post/", body, **{"Idempotency-Key": "m1"}).status_code == 403


def test_post_refuses_overselling_with_a_translated_error(beta: Any, stock: dict[str, Any]) -> None:
    body = {
        "moves": [
            {"product": stock["p"].pk, "warehouse": stock["a"].pk, "kind": "delivery", "quantity": "50"}
        ]
    }
    response = jpost(
        beta.client("warehouse", language="zh-hans"), f"{API}/post/", body, **{"Idempotency-Key": "big"}
    )
    assert response.status_code == 400
    assert "库存不足" in response.json()["error"]["fields"]["quantity"][0]


def test_transfer_and_count_through_the_api(beta: Any, stock: dict[str, Any]) -> None:
    client = beta.client("warehouse")
    transfer = jpost(
        client,
        f"{API}/transfers/",
        {
            "from_warehouse": stock["a"].pk,
            "to_warehouse": stock["b"].pk,
            "lines": [{"product": stock["p"].pk, "quantity": "2"}],
        },
    )
    assert transfer.status_code == 201, transfer.content
    count = jpost(
        client,
        f"{API}/counts/",
        {
            "warehouse": stock["b"].pk,
            "reason": "月末盘点",
            "lines": [{"product": stock["p"].pk, "quantity": "1"}],
        },
    )
    assert count.status_code == 201, count.content
    assert count.json()["lines"][0]["quantity"] == "-1.0000"
    moves = client.get(f"{API}/moves/?product={stock['p'].pk}").json()["results"]
    assert [m["kind"] for m in moves] == ["adjustment", "transfer_in", "transfer_out", "receipt"]
    assert all(
        m["document_number"].startswith(("PD-", "DB-")) for m in moves[:3]
    )  # the document behind each line
    as_of = client.get(f"{API}/stock-as-of/?warehouse={stock['b'].pk}").json()["results"]
    assert as_of[0]["quantity"] == "1.0000"
    assert client.get(f"{API}/stock-as-of/?date=yesterday").status_code == 400
    assert client.get(f"{API}/value/").json()["value"] == "88.00"  # 96 less the unit the count found missing


def test_api_move_list_query_count_is_constant(beta: Any, stock: dict[str, Any]) -> None:
    client = beta.client("manager")
    client.get(f"{API}/moves/")
    with CaptureQueriesContext(connection) as few:
        client.get(f"{API}/moves/")
    with schema_context(beta.schema):
        for _ in range(5):
            post(
                beta.users["owner"],
                mv(stock["p"], stock["a"], "1", K.RECEIPT, "1"),
                mv(stock["p"], stock["b"], "1", K.RECEIPT, "2"),
            )
    to_public()
    with CaptureQueriesContext(connection) as many:
        assert len(client.get(f"{API}/moves/").json()["results"]) == 11
    assert len(many) == len(few)


def test_pages_render_for_viewers_and_forbid_reps(beta: Any, stock: dict[str, Any]) -> None:
    manager = beta.client("manager")
    for url in [
        "/inventory/",
        "/inventory/as-of/",
        f"/inventory/products/{stock['p'].pk}/",
        "/inventory/warehouses/",
        "/inventory/transfers/",
        "/inventory/counts/",
        "/inventory/opening/",
        "/inventory/reorder/",
    ]:
        response = manager.get(url)
        assert response.status_code == 200, url
    page = manager.get("/inventory/?low=on").content.decode()
    assert "不锈钢水杯" in page and "¥96.00" in page
    assert "不锈钢水杯" in manager.get("/inventory/reorder/").content.decode()
    assert beta.client("sales").get("/inventory/").status_code == 403
    assert beta.client("manager").get(f"/inventory/warehouses/{stock['a'].pk}/").status_code == 403


def test_stock_page_query_count_is_constant(beta: Any, stock: dict[str, Any]) -> None:
    client = beta.client("manager")
    client.get("/inventory/")
    with CaptureQueriesContext(connection) as few:
        client.get("/inventory/")
    with schema_context(beta.schema):
        for i in range(6):
            post(beta.users["owner"], mv(make_product(), stock["a"], "1", K.RECEIPT, str(i)))
    to_public()
    with CaptureQueriesContext(connection) as many:
        client.get("/inventory/")
    assert len(many) == len(few)


def test_transfer_form_posts_once_on_a_double_submit(beta: Any, stock: dict[str, Any]) -> None:
    client = beta.client("warehouse")
    data = {
        "from_warehouse": stock["a"].pk,
        "to_warehouse": stock["b"].pk,
        "reason": "门店补货",
        "key": "form-token-1",
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "0",
        "form-0-product": stock["p"].pk,
        "form-0-quantity": "3",
    }
    assert client.post("/inventory/transfers/", data).status_code == 302
    assert client.post("/inventory/transfers/", data).status_code == 302
    with schema_context(beta.schema):
        assert StockDocument.objects.filter(kind="transfer").count() == 1
        assert StockBalance.objects.get(product=stock["p"], warehouse=stock["b"]).on_hand == Decimal("3")
    to_public()


def test_alpha_without_inventory_gets_404_and_never_sees_betas_stock(
    alpha: Any, beta: Any, stock: dict[str, Any]
) -> None:
    assert alpha.client("owner").get("/inventory/").status_code == 404
    assert alpha.client("owner").get(f"{API}/balances/").status_code == 404
    # Beta's session on alpha's host is not a session there
    client = beta.client("owner")
    client.defaults["HTTP_HOST"] = alpha.host
    assert client.get(f"{API}/balances/").status_code in (401, 403, 404)


def test_opening_stock_import_is_idempotent(beta: Any, stock: dict[str, Any]) -> None:
    with schema_context(beta.schema):
        actor = beta.users["warehouse"]
        other = make_product("玻璃杯")
        data = f"仓库,商品,数量,单价,单位\nB01,{stock['p'].code},10,7.5,\nB01,玻璃杯,4,2.25,\n".encode(
            "gb18030"
        )
        for _round in range(2):
            job = imports.import_upload(actor=actor, kind="opening_stock", filename="期初.csv", data=data)
            imports.import_start(actor=actor, job=job, mapping=job.mapping, key="", all_or_nothing=False)
            job = imports.import_run(job.pk)
            assert job.status == "done", job.errors
        b = Warehouse.objects.get(code="B01")
        assert StockBalance.objects.get(product=stock["p"], warehouse=b).on_hand == Decimal("10")
        assert StockBalance.objects.get(product=other, warehouse=b).value == Decimal("9.00")
        assert StockDocument.objects.filter(kind="opening").count() == 1
        bad = imports.import_upload(
            actor=actor, kind="opening_stock", filename="x.csv", data="仓库,商品,数量\nZZ,玻璃杯,1\n".encode()
        )
        imports.import_start(actor=actor, job=bad, mapping=bad.mapping, key="", all_or_nothing=False)
        assert imports.import_run(bad.pk).created_count == 0
    to_public()


def test_dashboard_widget_shows_value_and_reorder_count(beta: Any, stock: dict[str, Any]) -> None:
    from django.urls import reverse

    url = reverse("core:widget", kwargs={"module": "inventory", "index": 0}, urlconf="config.urls_tenant")
    response = beta.client("manager").get(url)
    assert beta.client("sales").get(url).status_code == 404  # not theirs to see
    page = response.content.decode()
    assert response.status_code == 200
    assert "¥96.00" in page and "1 种商品需要补货" in page
