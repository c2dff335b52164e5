"""The trade owner's overview: figures on a hand-built data set, slow movers, empty states, who may open
it, what managers see of margins, constant queries."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.models import Customer, Product
from crm.modules.inventory.models import StockBalance, StockMove, StockPosting, Warehouse
from crm.modules.purchasing import services as purchasing
from crm.modules.sales.models import Contract, ContractLine, Installment
from crm.modules.sales.tests.factories import line, make_contract, make_plan
from crm.modules.trade import selectors
from tests.test_module_contract import set_module

D = Decimal


@pytest.fixture
def shop(alpha) -> Any:
    set_module(alpha.tenant, "trade", True)
    return alpha


def _stock(products: list[tuple[str, str, str]], delivered_days_ago: dict[str, int]) -> None:
    """Balances (code, on hand, value) in one warehouse, and a delivery move some days ago per code."""
    wh = Warehouse.objects.create(code="WH1", name="一号仓")
    posting = StockPosting.objects.create(idempotency_key="t:1")
    made = {}
    for code, qty, value in products:
        p = Product.objects.create(code=code, name=f"商品{code}")
        made[code] = p
        StockBalance.objects.create(product=p, warehouse=wh, on_hand=D(qty), value=D(value))
    for i, (code, days) in enumerate(delivered_days_ago.items()):
        StockMove.objects.create(
            posting=posting,
            product=made[code],
            warehouse=wh,
            kind=StockMove.Kind.DELIVERY,
            quantity=D("-1"),
            unit_cost=D("1"),
            value=D("-1"),
            idempotency_key=f"t:1#{i}",
            posted_at=timezone.now() - timedelta(days=days),
        )


DAY = timedelta(days=1)


def _book(t: Any) -> dict[str, Any]:
    rep = t.users["sales"]
    customer = Customer.objects.create(name="贸易客户", owner=rep)
    c = make_contract(rep, customer, lines=[line("电机", "10", "113", cost="70")])  # 1000 excl., cost 700
    Contract.objects.filter(pk=c.pk).update(confirmed_at=timezone.now())
    ContractLine.objects.filter(document=c).update(delivered_quantity=D("10"), actual_cost_excl=D("650"))
    today = timezone.localdate()
    make_plan(c, [(today - timedelta(days=10), "500"), (today + timedelta(days=20), "630")])
    _stock(
        [("A", "5", "500"), ("B", "2", "900"), ("C", "1", "100"), ("Z", "0", "0")],
        {"A": 10, "B": 120},  # A moved recently; B only long ago; C never
    )
    owner = t.users["owner"]
    supplier = purchasing.supplier_create(actor=owner, code="GYS1", name="宁波供应商", payment_days=30)
    purchasing.bill_create(  # due 10 days ago: overdue
        actor=owner,
        supplier=supplier,
        number="B-1",
        amount_incl=D("800"),
        bill_date=today - timedelta(days=40),
    )
    purchasing.bill_create(  # due in 25 days
        actor=owner,
        supplier=supplier,
        number="B-2",
        amount_incl=D("200"),
        bill_date=today - timedelta(days=5),
    )
    return {"c": c.pk}


def test_dashboard_figures(shop):
    with schema_context(shop.schema):
        _book(shop)
        ctx = selectors.dashboard_context(shop.users["owner"])
    assert ctx["sales"]["month"] == D("1000.00") and ctx["sales"]["year"] == D("1000.00")
    assert ctx["margin"]["totals"]["est_margin"] == D("300.00")
    assert ctx["margin"]["totals"]["act_margin"] == D("350.00")
    assert len(ctx["margin"]["chart"]["months"]) == 12
    assert ctx["stock_value"] == D("1500.00")
    assert [(r["product__code"], r["value"]) for r in ctx["slow"]] == [("B", D("900.00")), ("C", D("100.00"))]
    assert ctx["slow"][0]["last_out"] is not None and ctx["slow"][1]["last_out"] is None
    assert ctx["receivables"] == {"open": D("1130.00"), "overdue": D("500.00")}
    assert ctx["payables"] == {"open": D("1000.00"), "overdue": D("800.00")}


def test_dashboard_renders_with_data(shop):
    with schema_context(shop.schema):
        _book(shop)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    page = shop.client("owner", language="en").get("/trade/")
    assert page.status_code == 200
    html = page.content.decode()
    for testid in (
        "trade-sales-month",
        "trade-margin-chart",
        "trade-stock-value",
        "trade-receivables",
        "trade-payables",
    ):
        assert f'data-testid="{testid}"' in html
    assert html.count('data-testid="trade-slow-row"') == 2
    assert 'data-testid="trade-empty"' not in html


def test_dashboard_empty_says_what_to_do(shop):
    html = shop.client("owner", language="en").get("/trade/").content.decode()
    assert 'data-testid="trade-empty"' in html and "Confirm a first contract" in html
    assert 'data-testid="trade-slow-empty"' in html
    assert "purchase orders" in html  # the payables card says when it fills


def test_only_owner_admin_manager_open_it(shop):
    for role, status in (("owner", 200), ("admin", 200), ("manager", 200), ("sales", 403), ("finance", 403)):
        assert shop.client(role).get("/trade/").status_code == status, role


def test_manager_sees_no_margin_amounts_by_default(shop):
    with schema_context(shop.schema):
        _book(shop)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    html = shop.client("manager", language="en").get("/trade/").content.decode()
    assert 'data-testid="trade-margin-hidden"' in html and 'data-testid="trade-margin-chart"' not in html


def test_dashboard_runs_the_same_queries_with_more_rows(shop):
    client = shop.client("owner")
    with schema_context(shop.schema):
        _book(shop)
    connection.set_schema_to_public()  # type: ignore[attr-defined]

    def count() -> int:
        client.get("/trade/")
        with CaptureQueriesContext(connection) as q:
            assert client.get("/trade/").status_code == 200
        return len(q)

    before = count()
    with schema_context(shop.schema):
        rep = shop.users["sales"]
        wh = Warehouse.objects.get(code="WH1")
        for i in range(20):
            c = make_contract(rep, Customer.objects.create(name=f"客{i}", owner=rep), lines=[line(cost="1")])
            Contract.objects.filter(pk=c.pk).update(
                confirmed_at=timezone.now() - timedelta(days=30 * (i % 12))
            )
            p = Product.objects.create(code=f"M{i}", name=f"慢{i}")
            StockBalance.objects.create(product=p, warehouse=wh, on_hand=D("1"), value=D(str(10 + i)))
        Installment.objects.update(contract_open=True)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert count() == before
