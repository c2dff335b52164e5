"""Selling from stock over HTTP: the API (a sales rep cannot ship, a retried request ships once, bad input
is a translated 400 that changes nothing), the pages (to ship, ship form, delivery note, samples) and the
panels on the order and customer pages."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.kernel.documents import LineData, document_create
from crm.modules.core.public import Customer
from crm.modules.inventory import services_fulfilment as ful
from crm.modules.inventory.models import Delivery, Sample, StockMove
from crm.modules.sales.models import Contract

from .factories import make_product, make_warehouse, mv, post, to_public

API = "/api/v1/inventory"
K = StockMove.Kind
D = Decimal


@pytest.fixture
def shop(beta: Any) -> dict[str, Any]:
    with schema_context(beta.schema):
        wh = make_warehouse("A01", name="主仓")
        cup = make_product("水杯", min_stock="0")
        post(beta.users["owner"], mv(cup, wh, "10", K.RECEIPT, "2.50"))
        customer = Customer.objects.create(name="杭州远航贸易有限公司", owner=beta.users["sales"])
        contract = document_create(
            actor=beta.users["sales"],
            model=Contract,
            lines=[
                LineData(description="水杯", quantity=D("6"), unit_price_incl=D("11.30"), product_id=cup.pk)
            ],
            customer=customer,
            owner=beta.users["sales"],
            kind=Contract.Kind.ORDER,
        )
        Contract.objects.filter(pk=contract.pk).update(state="confirmed")
        line_id = contract.lines.get().pk
    to_public()
    return {"wh": wh, "cup": cup, "customer": customer, "contract": contract, "line": line_id}


def jpost(client: Any, url: str, data: Any, **headers: Any) -> Any:
    return client.post(url, data, content_type="application/json", headers=headers)


def test_api_ship_permissions_and_idempotency(beta: Any, shop: dict[str, Any]) -> None:
    body = {"contract": shop["contract"].pk, "lines": [{"contract_line": shop["line"], "quantity": "2"}]}
    # a sales rep cannot ship nor list deliveries
    assert jpost(beta.client("sales"), f"{API}/deliveries/", body).status_code == 403
    assert beta.client("sales").get(f"{API}/to-ship/").status_code == 403
    # the warehouse ships; the same key twice ships once
    client = beta.client("warehouse")
    first = jpost(client, f"{API}/deliveries/", body, **{"Idempotency-Key": "ship-1"})
    again = jpost(client, f"{API}/deliveries/", body, **{"Idempotency-Key": "ship-1"})
    assert first.status_code == 201, first.content
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["lines"][0]["value"] == "5.00"
    with schema_context(beta.schema):
        assert StockMove.objects.filter(kind=K.DELIVERY).count() == 1
        assert Contract.objects.get(pk=shop["contract"].pk).delivery_status == "partial"
    listed = beta.client("manager").get(f"{API}/deliveries/").json()
    assert [d["number"] for d in listed["results"]] == [first.json()["number"]]
    assert beta.client("manager").get(f"{API}/deliveries/{first.json()['id']}/").status_code == 200
    assert beta.client("warehouse").get(f"{API}/to-ship/").json()["results"][0]["id"] == shop["contract"].pk


def test_api_bad_input_is_a_translated_400_and_changes_nothing(beta: Any, shop: dict[str, Any]) -> None:
    client = beta.client("warehouse")
    cases = [
        {"contract": shop["contract"].pk, "lines": [{"contract_line": shop["line"], "quantity": "7"}]},
        {"contract": shop["contract"].pk, "lines": [{"contract_line": shop["line"], "quantity": "0"}]},
        {"contract": shop["contract"].pk, "lines": [{"contract_line": shop["line"], "quantity": "-3"}]},
        {"contract": shop["contract"].pk, "lines": []},
        {"contract": "abc", "lines": [{"contract_line": shop["line"], "quantity": "1"}]},
    ]
    for body in cases:
        assert jpost(client, f"{API}/deliveries/", body).status_code == 400, body
    assert (
        jpost(
            client,
            f"{API}/deliveries/",
            {"contract": 999999, "lines": [{"contract_line": 1, "quantity": "1"}]},
        ).status_code
        == 404
    )
    zh = jpost(client, f"{API}/deliveries/", cases[0], HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 400
    with schema_context(beta.schema):
        assert not Delivery.objects.exists()
        assert not StockMove.objects.filter(kind=K.DELIVERY).exists()


def test_api_returns_and_samples(beta: Any, shop: dict[str, Any]) -> None:
    client = beta.client("warehouse")
    d = jpost(
        client,
        f"{API}/deliveries/",
        {"contract": shop["contract"].pk, "lines": [{"contract_line": shop["line"], "quantity": "4"}]},
    ).json()
    ret = jpost(
        client,
        f"{API}/returns/",
        {"delivery": d["id"], "lines": [{"delivery_line": d["lines"][0]["id"], "quantity": "1"}]},
    )
    assert ret.status_code == 201, ret.content
    assert ret.json()["lines"][0]["value"] == "2.50"
    assert (
        jpost(beta.client("sales"), f"{API}/returns/", {"delivery": d["id"], "lines": []}).status_code == 403
    )
    # samples: the rep issues and sees their own; another rep does not
    rep = beta.client("sales")
    s = jpost(
        rep,
        f"{API}/samples/",
        {"customer": shop["customer"].pk, "lines": [{"product": shop["cup"].pk, "quantity": "1"}]},
    )
    assert s.status_code == 201, s.content
    assert s.json()["number"].startswith("YP")
    assert beta.client("sales2").get(f"{API}/samples/{s.json()['id']}/").status_code == 404
    assert beta.client("sales2").get(f"{API}/samples/").json()["results"] == []
    done = jpost(
        rep,
        f"{API}/samples/{s.json()['id']}/action/",
        {"action": "return", "line": s.json()["lines"][0]["id"]},
    )
    assert done.status_code == 200 and done.json()["state"] == "closed"
    bad = jpost(rep, f"{API}/samples/{s.json()['id']}/action/", {"action": "explode"})
    assert bad.status_code == 400


def test_pages_to_ship_ship_note_and_panels(beta: Any, shop: dict[str, Any]) -> None:
    client = beta.client("warehouse", language="en")
    page = client.get("/inventory/to-ship/")
    assert page.status_code == 200 and shop["contract"].number in page.content.decode()
    form = client.get(f"/inventory/ship/{shop['contract'].pk}/")
    assert form.status_code == 200
    too_much = client.post(
        f"/inventory/ship/{shop['contract'].pk}/",
        {"warehouse": shop["wh"].pk, f"qty_{shop['line']}": "9", "key": "k1"},
    )
    assert too_much.status_code == 400 and "still open" in too_much.content.decode()
    done = client.post(
        f"/inventory/ship/{shop['contract'].pk}/",
        {
            "warehouse": shop["wh"].pk,
            f"qty_{shop['line']}": "6",
            "waybill": "SF100",
            "carrier": "顺丰",
            "key": "k2",
        },
    )
    assert done.status_code == 302
    with schema_context(beta.schema):
        delivery = Delivery.objects.get()
    note = client.get(f"/inventory/deliveries/{delivery.pk}/print/")
    assert note.status_code == 200 and "送货单" in note.content.decode() and "SF100" in note.content.decode()
    assert client.get(f"/inventory/deliveries/{delivery.pk}/").status_code == 200
    pdf = client.get(f"/inventory/deliveries/{delivery.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # the order page shows the deliveries panel
    order_page = beta.client("owner").get(f"/sales/contracts/{shop['contract'].pk}/")
    assert order_page.status_code == 200
    assert (
        'data-testid="order-deliveries"' in order_page.content.decode()
        and delivery.number in order_page.content.decode()
    )
    assert beta.client("sales").get("/inventory/to-ship/").status_code == 403


def test_sample_pages_and_customer_panel(beta: Any, shop: dict[str, Any]) -> None:
    rep = beta.client("sales")
    new = rep.post(
        "/inventory/samples/new/",
        {
            "customer": shop["customer"].pk,
            "warehouse": shop["wh"].pk,
            "key": "s1",
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "0",
            "form-0-product": shop["cup"].pk,
            "form-0-quantity": "2",
        },
    )
    assert new.status_code == 302, new.content.decode()[:2000]
    with schema_context(beta.schema):
        sample = Sample.objects.get()
    assert rep.get("/inventory/samples/").status_code == 200
    assert sample.number in rep.get("/inventory/samples/?state=open").content.decode()
    assert rep.get(f"/inventory/samples/{sample.pk}/").status_code == 200
    assert beta.client("sales2").get(f"/inventory/samples/{sample.pk}/").status_code == 404
    panel = rep.get(f"/customers/{shop['customer'].pk}/panels/inventory/0/")
    assert panel.status_code == 200 and sample.number in panel.content.decode()
    convert = rep.post(f"/inventory/samples/{sample.pk}/action/", {"action": "convert"})
    assert convert.status_code == 302
    with schema_context(beta.schema):
        assert Sample.objects.get().order_id is not None
        assert ful.samples_visible(beta.users["sales"]).count() == 1


def test_list_queries_are_constant(
    beta: Any, shop: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    from crm.modules.inventory import suite

    client = beta.client("warehouse")

    def count(url: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    for route, make in (
        ("/inventory/to-ship/", suite.to_ship),
        ("/inventory/deliveries/", suite.deliveries),
        (f"{API}/deliveries/", suite.deliveries),
        (f"{API}/samples/", suite.samples),
    ):
        with schema_context(beta.schema):
            make(n=2, owner=beta.users["owner"])
        count(route)  # warm caches (session, module set)
        few = count(route)
        with schema_context(beta.schema):
            make(n=15, owner=beta.users["owner"])
        assert count(route) == few, route
