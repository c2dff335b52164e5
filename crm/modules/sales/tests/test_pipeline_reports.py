"""Pipeline reports against hand-computed data (forecast by month and rep, win rate, cycle time, stage
conversion, in the manager's team scope), the global search hook and the opportunities import."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core import imports
from crm.modules.sales import search as sales_search
from crm.modules.sales import selectors_pipeline as sel
from crm.modules.sales import services_pipeline as svc
from crm.modules.sales.models import Opportunity, OpportunityStageLog

from .factories import make_contract, make_customer, make_opportunity, stage_named


@pytest.fixture
def schema(alpha: Any) -> Any:
    with schema_context(alpha.schema):
        yield alpha


def _close(rep: Any, name: str, kind: str, days: int) -> Opportunity:
    opp = make_opportunity(rep, name=name, amount="10000")
    stage = stage_named("赢单" if kind == "won" else "输单")
    opp = svc.opportunity_move(actor=rep, opportunity=opp, stage=stage, lost_reason="价格")
    assert opp.closed_at is not None
    Opportunity.objects.filter(pk=opp.pk).update(created_at=opp.closed_at - timedelta(days=days))
    return opp


def _world(schema: Any) -> None:
    rep, other = schema.users["sales"], schema.users["sales2"]
    customer = make_customer(rep)
    make_opportunity(
        rep, customer, name="A", amount="100000", stage="需求确认", expected_close=date(2027, 1, 15)
    )
    make_opportunity(
        rep, customer, name="B", amount="20000", stage="方案报价", expected_close=date(2027, 1, 20)
    )
    make_opportunity(
        rep, customer, name="C", amount="50000", stage="谈判审核", expected_close=date(2027, 2, 10)
    )
    _close(rep, "D", "won", 10)
    _close(rep, "E", "lost", 3)
    _close(rep, "F", "won", 20)
    make_opportunity(other, name="G", amount="1000000", stage="谈判审核", expected_close=date(2027, 1, 5))


def test_reports_for_the_manager_match_hand_computed_numbers(schema):
    _world(schema)
    today = timezone.localdate()
    r = sel.pipeline_reports(schema.users["manager"], sel.Period(start=date(2020, 1, 1), end=today))
    months = [(m["month"].strftime("%Y-%m"), m["count"], m["weighted"]) for m in r["by_month"]]
    assert months == [("2027-01", 2, Decimal("40000.00")), ("2027-02", 1, Decimal("40000.00"))]
    assert [(x["name"], x["weighted"]) for x in r["by_rep"]] == [("alpha sales", Decimal("80000.00"))]
    assert r["weighted_total"] == Decimal("80000.00")
    assert (r["won"], r["lost"], r["win_rate"]) == (2, 1, 66.7)
    assert r["cycle_days"] == 15.0
    conversion = [(c["stage"].name, c["count"], c["percent"]) for c in r["conversion"]]
    assert conversion == [
        ("初步接洽", 6, 100.0),
        ("需求确认", 5, 83.3),
        ("方案报价", 4, 66.7),
        ("谈判审核", 3, 50.0),
        ("赢单", 2, 33.3),
    ]
    everyone = sel.pipeline_reports(schema.users["owner"], sel.Period(start=date(2020, 1, 1), end=today))
    assert everyone["weighted_total"] == Decimal("880000.00")  # + G: 1,000,000 x 80 %
    assert OpportunityStageLog.objects.count() == 10


def test_reports_run_a_fixed_number_of_queries(schema):
    _world(schema)
    period = sel.default_period()
    with CaptureQueriesContext(connection) as small:
        sel.pipeline_reports(schema.users["owner"], period)
    for i in range(20):
        make_opportunity(
            schema.users["sales"], name=f"更多{i}", stage="方案报价", expected_close=date(2027, 3, 1)
        )
    with CaptureQueriesContext(connection) as big:
        sel.pipeline_reports(schema.users["owner"], period)
    assert len(big) == len(small)


def test_search_hook_finds_opportunities_and_contracts_in_scope(schema):
    rep, other = schema.users["sales"], schema.users["sales2"]
    make_opportunity(rep, name="智慧园区项目")
    make_opportunity(other, make_customer(other, name="其他"), name="智慧工厂项目")
    contract = make_contract(rep)
    found = sales_search.search(rep, "智慧")
    assert [r["label"] for r in found] == ["智慧园区项目"] and found[0]["url"].startswith(
        "/sales/opportunities/"
    )
    assert {r["label"] for r in sales_search.search(schema.users["owner"], "智慧")} == {
        "智慧园区项目",
        "智慧工厂项目",
    }
    assert [r["label"] for r in sales_search.search(rep, contract.number)] == [contract.number]
    assert sales_search.search(other, contract.number) == []
    assert sales_search.search(schema.users["clerk"], "智慧") == []
    with CaptureQueriesContext(connection) as one:
        sales_search.search(schema.users["owner"], "项目")
    for i in range(5):
        make_opportunity(rep, name=f"项目{i}")
    with CaptureQueriesContext(connection) as six:
        sales_search.search(schema.users["owner"], "项目")
    assert len(one) == len(six)


def test_core_search_page_lists_module_results(alpha):
    with schema_context(alpha.schema):
        make_opportunity(alpha.users["sales"], name="全局搜索商机")
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    html = alpha.client("sales").get("/search/", {"q": "全局搜索"}).content.decode()
    assert 'data-testid="search-module-result"' in html and "全局搜索商机" in html
    api = alpha.client("sales").get("/api/v1/search/", {"q": "全局搜索"})
    if api.status_code == 200:
        assert [r["label"] for r in api.json()["modules"]] == ["全局搜索商机"]
    assert "全局搜索商机" not in alpha.client("sales2").get("/search/", {"q": "全局搜索"}).content.decode()


@pytest.fixture
def media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)


def test_import_opportunities_from_csv(schema, media):
    rep = schema.users["sales"]
    make_customer(rep, name="导入客户甲")
    make_opportunity(rep, make_customer(rep, name="导入客户乙"), name="已有商机", amount="1")
    data = (
        "客户,商机名称,金额,阶段,预计成交,负责人邮箱\n"
        '导入客户甲,新项目,"12,000.50",方案报价,2027-04-30,\n'
        "导入客户乙,已有商机,8800,,2027/5/1,\n"
        "不存在的客户,坏行,1,,,\n"
        "导入客户甲,坏阶段,1,没有的阶段,,\n"
    ).encode("gb18030")
    job = imports.import_upload(actor=rep, kind="opportunities", filename="商机.csv", data=data)
    imports.import_start(actor=rep, job=job, mapping=job.mapping, key="", all_or_nothing=False)
    job = imports.import_run(job.pk)
    assert (job.status, job.created_count, job.updated_count) == ("done", 1, 1), job.errors
    assert {e["row"] for e in job.errors} >= {4, 5} or len(job.errors) >= 2
    new = Opportunity.objects.get(name="新项目")
    assert (new.amount, new.stage.name, new.probability, new.owner) == (
        Decimal("12000.50"),
        "方案报价",
        50,
        rep,
    )
    assert OpportunityStageLog.objects.filter(opportunity=new).count() == 1
    assert Opportunity.objects.get(name="已有商机").amount == Decimal("8800.00")


def test_reached_stage_follows_moves_and_survives_renumbering(schema):
    """`reached_position` (what stage conversion reads) is the furthest non-lost stage in the log: kept on
    every move, not lowered by a move back or by losing, and recomputed when stages are renumbered."""
    from crm.modules.sales.models import Stage

    rep, owner = schema.users["sales"], schema.users["owner"]
    opp = make_opportunity(rep, name="回退", stage="初步接洽")
    for name in ("方案报价", "需求确认", "输单"):
        opp = svc.opportunity_move(actor=rep, opportunity=opp, stage=stage_named(name), lost_reason="预算")

    def from_log() -> int:
        return max(
            Stage.objects.filter(pk__in=opp.stage_log.values("to_stage"))
            .exclude(kind=Stage.Kind.LOST)
            .values_list("position", flat=True)
        )

    def reached() -> int | None:
        return Opportunity.objects.values_list("reached_position", flat=True).get(pk=opp.pk)

    assert reached() == stage_named("方案报价").position == from_log()
    svc.stage_move(actor=owner, stage=stage_named("方案报价"), up=True)  # now before 需求确认
    assert stage_named("方案报价").position < stage_named("需求确认").position
    assert reached() == stage_named("需求确认").position == from_log()
    svc.stage_create(actor=owner, name="试用", probability=70)  # won and lost move one down
    assert reached() == from_log()
    assert svc.reached_recompute() == Opportunity.objects.count()
    assert reached() == from_log()
