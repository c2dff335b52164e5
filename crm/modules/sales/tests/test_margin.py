"""Gross margin report: hand-computed numbers (estimated vs actual, cost unknown), the tenant time zone's
month boundary, data scope, cost visibility, the API's parameters, constant queries, the contract block."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.sales import selectors_margin as sel
from crm.modules.sales.models import Contract, ContractLine, SalesSettings
from crm.tenants.models import Tenant

from .factories import line, make_contract, make_customer

D = Decimal
ZONE = "America/New_York"  # west of the server's Asia/Shanghai: a late evening is already tomorrow there


@pytest.fixture
def t(alpha):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(time_zone=ZONE)
    alpha.tenant.refresh_from_db()
    with schema_context(alpha.schema):
        yield alpha


def at(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(ZONE))


def contract(
    owner: Any, customer: Any, when: datetime, lines: list[Any], state: str = "confirmed"
) -> Contract:
    c = make_contract(owner, customer, lines=lines, state=state)
    Contract.objects.filter(pk=c.pk).update(confirmed_at=when)
    c.refresh_from_db()
    return c


def deliver(c: Contract, position: int, delivered: str, actual: str | None) -> None:
    ln = list(c.lines.order_by("position", "id"))[position]
    ContractLine.objects.filter(pk=ln.pk).update(
        delivered_quantity=D(delivered), actual_cost_excl=None if actual is None else D(actual)
    )


def dataset(t: Any) -> dict[str, Any]:
    """Given: rep `sales` sells to 甲 (an order with a costed line partly delivered and a line without cost),
    rep `sales2` sells to 乙 at 23:30 on 31 March local time and at 00:30 on 1 April local time; a draft and
    a cancelled contract do not count."""
    rep, rep2 = t.users["sales"], t.users["sales2"]
    jia, yi = make_customer(rep, "甲公司"), make_customer(rep2, "乙公司")
    a = contract(
        rep,
        jia,
        at(2026, 3, 10),
        # 10 × 113 incl. = 1,000 excl., cost 60 each; 1 × 565 incl. = 500 excl., no cost
        [line("螺丝", "10", "113", cost="60"), line("安装", "1", "565")],
    )
    deliver(a, 0, "4", "250")  # 400 of revenue delivered at a cost of 250
    b = contract(rep2, yi, at(2026, 3, 31, 23, 30), [line("电机", "2", "226", cost="150")])
    deliver(b, 0, "2", "320")  # 400 delivered at 320
    c = contract(rep2, yi, at(2026, 4, 1, 0, 30), [line("电机", "1", "1130", cost="900")])
    contract(rep, jia, at(2026, 3, 12), [line("草稿", "1", "1130", cost="1")], state="draft")
    contract(rep, jia, at(2026, 3, 12), [line("取消", "1", "1130", cost="1")], state="cancelled")
    return {"a": a, "b": b, "c": c, "jia": jia, "yi": yi}


def test_totals_estimated_vs_actual_with_cost_unknown(t):
    dataset(t)
    r = sel.margin_report(actor=t.users["owner"], group="order")
    tot = r.totals
    # Then: estimated counts only costed lines (1000 + 400 + 1000 = 2400 revenue, 600 + 300 + 900 cost)
    assert (tot["est_revenue"], tot["est_cost"], tot["est_margin"]) == (D("2400"), D("1800"), D("600"))
    assert tot["est_percent"] == D("25.00")
    # the line without cost is counted apart, never as 100 % margin
    assert (tot["unknown_lines"], tot["unknown_sales"], tot["sales"]) == (1, D("500"), D("2900"))
    # actual: delivered 400 at 250 and 400 at 320
    assert (tot["act_revenue"], tot["act_cost"], tot["act_margin"]) == (D("800"), D("570"), D("230"))
    assert tot["act_percent"] == D("28.75")
    assert tot["lines"] == 4


def test_grouped_by_order_sorted_by_estimated_margin(t):
    d = dataset(t)
    r = sel.margin_report(actor=t.users["owner"], group="order")
    got = [(row["key"], row["est_margin"], row["act_margin"], row["unknown_lines"]) for row in r.rows]
    assert got == [
        (d["a"].pk, D("400"), D("150"), 1),
        (d["b"].pk, D("100"), D("80"), 0),
        (d["c"].pk, D("100"), D("0"), 0),
    ]
    assert r.rows[0]["label"] == d["a"].number and r.rows[0]["customer_name"] == "甲公司"
    assert r.rows[2]["act_percent"] is None  # nothing delivered: no actual percent, not 0 %


def test_grouped_by_customer_rep_and_product(t):
    dataset(t)
    owner = t.users["owner"]
    by_customer = {r["label"]: r["est_margin"] for r in sel.margin_report(actor=owner, group="customer").rows}
    assert by_customer == {"甲公司": D("400"), "乙公司": D("200")}
    by_rep = {r["key"]: r["act_margin"] for r in sel.margin_report(actor=owner, group="rep").rows}
    assert by_rep == {t.users["sales"].pk: D("150"), t.users["sales2"].pk: D("80")}
    products = sel.margin_report(actor=owner, group="product").rows
    assert len(products) == 1 and products[0]["key"] is None  # the lines here carry no product
    assert products[0]["est_margin"] == D("600")


def test_month_follows_the_tenant_time_zone(t):
    dataset(t)
    r = sel.margin_report(actor=t.users["owner"], group="month")
    # 23:30 on 31 March in New York is April in Shanghai and UTC; it stays March for this tenant.
    assert [(row["label"], row["est_margin"]) for row in r.rows] == [
        ("2026-03", D("500")),
        ("2026-04", D("100")),
    ]
    assert r.chart["months"] == ["2026-03", "2026-04"]
    assert r.chart["est_margin"] == [500.0, 100.0]


def test_date_filter_uses_tenant_days(t):
    dataset(t)
    owner = t.users["owner"]
    march = sel.MarginFilters(start=date(2026, 3, 1), end=date(2026, 3, 31))
    assert sel.margin_report(actor=owner, filters=march).totals["est_margin"] == D("500")
    april = sel.MarginFilters(start=date(2026, 4, 1), end=date(2026, 4, 30))
    assert sel.margin_report(actor=owner, filters=april).totals["est_margin"] == D("100")


def test_owner_and_customer_filters(t):
    d = dataset(t)
    owner = t.users["owner"]
    f = sel.MarginFilters(owner_id=t.users["sales2"].pk)
    assert sel.margin_report(actor=owner, filters=f).totals["est_margin"] == D("200")
    f = sel.MarginFilters(customer_id=d["jia"].pk)
    assert sel.margin_report(actor=owner, filters=f).totals["est_revenue"] == D("1000")


def test_month_series_has_every_month(t):
    dataset(t)
    got = sel.margin_by_month(actor=t.users["owner"], months=3, today=date(2026, 5, 15))
    assert [r["label"] for r in got["rows"]] == ["2026-03", "2026-04", "2026-05"]
    assert got["chart"]["est_margin"] == [500.0, 100.0, 0.0]
    assert got["totals"]["est_margin"] == D("600")


def test_reps_see_their_own_and_managers_their_team(t):
    dataset(t)
    SalesSettings.objects.update_or_create(pk=1, defaults={"reps_see_margin_percent": True})
    rep_total = sel.margin_report(actor=t.users["sales"]).totals
    assert rep_total["est_margin"] == D("400") and rep_total["unknown_lines"] == 1
    assert sel.margin_report(actor=t.users["sales2"]).totals["est_margin"] == D("200")
    # the manager's team holds `sales` only
    assert sel.margin_report(actor=t.users["manager"]).totals["est_margin"] == D("400")
    # finance holds sales.view_costs: every contract
    assert sel.margin_report(actor=t.users["finance"]).totals["est_margin"] == D("600")


def test_reps_without_the_setting_are_refused(t):
    from crm.platform.errors import PermissionDenied

    SalesSettings.objects.update_or_create(pk=1, defaults={"reps_see_margin_percent": False})
    with pytest.raises(PermissionDenied):
        sel.margin_report(actor=t.users["sales"])


def test_report_runs_the_same_queries_for_few_and_many_lines(t):
    owner = t.users["owner"]
    dataset(t)

    def count(group: str) -> int:
        with CaptureQueriesContext(connection) as q:
            sel.margin_report(actor=owner, group=group)
        # django-tenants' SET search_path aside: the grouped rows and the totals (+ the zone by schema)
        return sum(1 for x in q.captured_queries if not x["sql"].startswith("SET search_path"))

    few = {g: count(g) for g in sel.GROUPS}
    rep = t.users["sales"]
    for i in range(30):
        contract(rep, make_customer(rep, f"客户{i}"), at(2026, 1 + i % 12, 5), [line(cost="5000"), line()])
    many = {g: count(g) for g in sel.GROUPS}
    assert few == many
    assert max(many.values()) <= 3 and many["order"] == 2


def test_limit_cuts_rows_but_not_totals(t):
    dataset(t)
    r = sel.margin_report(actor=t.users["owner"], group="order", limit=2)
    assert len(r.rows) == 2 and r.truncated
    assert r.totals["est_margin"] == D("600")


def test_contract_margin_block_numbers(t):
    d = dataset(t)
    m = sel.contract_margin(d["a"])
    assert (m["est_margin"], m["act_margin"], m["unknown_lines"]) == (D("400"), D("150"), 1)


def test_visible_part_hides_amounts():
    row = sel.finish(
        {
            "key": 1,
            "label": "HT1",
            "owner_name": "x",
            "lines": 1,
            "sales": D("10"),
            "est_revenue": D("10"),
            "est_cost": D("4"),
            "unknown_lines": 0,
            "unknown_sales": D("0"),
            "act_revenue": D("0"),
            "act_cost": D("0"),
        }
    )
    part = sel.visible_part(row, see_costs=False)
    assert part["est_percent"] == D("60.00") and part["est_margin"] is None and part["est_cost"] is None
    assert part["sales"] is None and part["owner_name"] == "x"
