"""Pipeline pages: kanban and list in the data scope with constant queries, move by htmx and by the phone
select, detail, create from the customer page, stage settings, customer panel and dashboard widget,
cross-tenant and module-off answers."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.sales.models import Opportunity, OpportunityActivity, Stage
from crm.platform.registry import registry

from .factories import make_customer, make_opportunity


def to_public() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


@pytest.fixture
def opps(alpha: Any) -> dict[str, Any]:
    with schema_context(alpha.schema):
        rep, other = alpha.users["sales"], alpha.users["sales2"]
        mine = make_opportunity(rep, name="我的商机", amount="120000", stage="需求确认")
        theirs = make_opportunity(other, make_customer(other, name="别人的客户"), name="别人的商机")
        out = {"mine": mine, "theirs": theirs, "stages": {s.name: s.pk for s in Stage.objects.all()}}
    to_public()
    return out


def test_kanban_shows_columns_and_only_the_reps_own_cards(alpha, opps):
    html = alpha.client("sales").get("/sales/opportunities/").content.decode()
    assert html.count('data-testid="kanban-column"') == 6
    assert "我的商机" in html and "别人的商机" not in html
    assert 'data-testid="move-form"' in html  # the phone's "move to" select
    assert "js/pipeline.js" in html and "<script>" not in html  # no inline script
    owner_html = alpha.client("owner").get("/sales/opportunities/").content.decode()
    assert "我的商机" in owner_html and "别人的商机" in owner_html


def test_list_filters_and_scope(alpha, opps):
    client = alpha.client("owner")
    html = client.get("/sales/opportunities/list/", {"q": "别人"}).content.decode()
    assert "别人的商机" in html and "我的商机" not in html
    html = client.get("/sales/opportunities/list/", {"stage": opps["stages"]["需求确认"]}).content.decode()
    assert "我的商机" in html and "别人的商机" not in html
    html = client.get("/sales/opportunities/list/", {"status": "lost"}).content.decode()
    assert "我的商机" not in html
    html = client.get("/sales/opportunities/list/", {"close_month": "bad", "owner": "x", "stage": "-1"})
    assert html.status_code == 200
    rep_html = alpha.client("sales").get("/sales/opportunities/list/").content.decode()
    assert "我的商机" in rep_html and "别人的商机" not in rep_html


def test_clerk_and_finance_get_403(alpha, opps):
    for role in ("clerk", "finance"):
        assert alpha.client(role).get("/sales/opportunities/").status_code == 403
        assert alpha.client(role).get("/sales/opportunities/list/").status_code == 403
    assert alpha.client("sales").get("/sales/opportunities/reports/").status_code == 403
    assert alpha.client("manager").get("/sales/stages/").status_code == 403


def _count(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    to_public()
    return len(ctx)


def _more(alpha: Any, n: int) -> None:
    from crm.modules.sales.suite_pipeline import opportunities

    with schema_context(alpha.schema):
        opportunities(n=n, owner=alpha.users["sales"])
    to_public()


@pytest.mark.parametrize("path", ["/sales/opportunities/", "/sales/opportunities/list/"])
def test_board_and_list_keep_a_constant_query_count(alpha, opps, path):
    client = alpha.client("manager")
    _count(client, path)
    before = _count(client, path)
    _more(alpha, 80)
    assert _count(client, path) == before


def test_move_by_htmx_returns_the_card_and_refuses_lost_without_reason(alpha, opps):
    client = alpha.client("sales")
    pk = opps["mine"].pk
    url = f"/sales/opportunities/{pk}/move/"
    response = client.post(url, {"stage": opps["stages"]["方案报价"]}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="opp-{pk}"' in body and f'data-stage="{opps["stages"]["方案报价"]}"' in body
    refused = client.post(url, {"stage": opps["stages"]["输单"]}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400 and 'data-testid="move-error"' in refused.content.decode()
    with schema_context(alpha.schema):
        assert Opportunity.objects.get(pk=pk).status == "open"
    to_public()
    # The phone's select posts the same form without htmx: back to the board.
    phone = client.post(url, {"stage": opps["stages"]["输单"], "lost_reason": "预算取消", "next": "kanban"})
    assert phone.status_code == 302 and phone.url == "/sales/opportunities/"
    with schema_context(alpha.schema):
        opp = Opportunity.objects.get(pk=pk)
        assert (opp.status, opp.lost_reason) == ("lost", "预算取消")


def test_a_rep_cannot_move_or_open_another_reps_opportunity(alpha, opps):
    client = alpha.client("sales")
    pk = opps["theirs"].pk
    assert client.get(f"/sales/opportunities/{pk}/").status_code == 404
    assert (
        client.post(f"/sales/opportunities/{pk}/move/", {"stage": opps["stages"]["方案报价"]}).status_code
        == 404
    )
    with schema_context(alpha.schema):
        assert Opportunity.objects.get(pk=pk).stage.name == "初步接洽"


def test_a_beta_user_cannot_see_or_move_alphas_opportunity(alpha, beta, opps):
    pk = opps["mine"].pk
    client = beta.client("owner")
    assert client.get(f"/sales/opportunities/{pk}/").status_code == 404
    assert (
        client.post(f"/sales/opportunities/{pk}/move/", {"stage": opps["stages"]["赢单"]}).status_code == 404
    )
    assert "我的商机" not in client.get("/sales/opportunities/list/").content.decode()
    assert client.get(f"/api/v1/sales/opportunities/{pk}/").status_code == 404
    with schema_context(alpha.schema):
        assert Opportunity.objects.get(pk=pk).status == "open"


def test_detail_shows_history_and_logs_an_activity(alpha, opps):
    client = alpha.client("sales")
    pk = opps["mine"].pk
    html = client.get(f"/sales/opportunities/{pk}/").content.decode()
    assert 'data-testid="opp-log"' in html and "需求确认" in html and 'data-testid="opp-documents"' in html
    response = client.post(
        f"/sales/opportunities/{pk}/activity/", {"kind": "visit", "result": "拜访了技术总监"}
    )
    assert response.status_code == 302
    html = client.get(f"/sales/opportunities/{pk}/").content.decode()
    assert "拜访了技术总监" in html
    with schema_context(alpha.schema):
        assert OpportunityActivity.objects.filter(opportunity_id=pk).count() == 1


def test_create_from_the_customer_page(alpha, opps):
    client = alpha.client("sales")
    customer_id = opps["mine"].customer_id
    panel_index = 0
    panel = client.get(f"/customers/{customer_id}/panels/sales/{panel_index}/")
    assert panel.status_code == 200 and "我的商机" in panel.content.decode()
    assert f"/sales/opportunities/new/?customer={customer_id}" in panel.content.decode()
    form = client.get(f"/sales/opportunities/new/?customer={customer_id}")
    assert form.status_code == 200
    bad = client.post(
        f"/sales/opportunities/new/?customer={customer_id}",
        {"customer": customer_id, "name": "新商机", "amount": "-3"},
    )
    assert bad.status_code == 400
    ok = client.post(
        f"/sales/opportunities/new/?customer={customer_id}",
        {"customer": customer_id, "name": "新商机", "amount": "8800", "expected_close": "2027-05-01"},
    )
    assert ok.status_code == 302
    with schema_context(alpha.schema):
        opp = Opportunity.objects.get(name="新商机")
        assert opp.owner == alpha.users["sales"] and opp.stage.name == "初步接洽"


def test_edit_page_for_the_owner_only(alpha, opps):
    pk = opps["mine"].pk
    assert (
        alpha.client("sales")
        .post(f"/sales/opportunities/{pk}/edit/", {"name": "改了", "amount": "1"})
        .status_code
        == 302
    )
    with schema_context(alpha.schema):
        assert Opportunity.objects.get(pk=pk).name == "改了"
    to_public()
    assert alpha.client("sales2").get(f"/sales/opportunities/{pk}/edit/").status_code == 404


def test_stage_settings_page(alpha, opps):
    client = alpha.client("admin")
    assert client.get("/sales/stages/").status_code == 200
    assert client.post("/sales/stages/", {"name": "技术交流", "probability": "40"}).status_code == 302
    used = opps["stages"]["需求确认"]
    client.post(f"/sales/stages/{used}/", {"action": "delete"})
    with schema_context(alpha.schema):
        assert Stage.objects.get(name="技术交流").kind == "open"
        assert Stage.objects.get(pk=used).is_active is False


def test_dashboard_widget_shows_my_pipeline(alpha, opps):
    index = next(i for i, w in enumerate(registry.get("sales").widgets) if "pipeline" in w.template)
    html = alpha.client("sales").get(f"/w/sales/{index}/").content.decode()
    assert 'data-testid="my-pipeline"' in html and "36,000.00" in html  # 120,000 x 30 %
    assert alpha.client("clerk").get(f"/w/sales/{index}/").status_code == 404


def test_reports_page_renders_charts_and_tables(alpha, opps):
    html = (
        alpha.client("manager").get("/sales/opportunities/reports/", {"start": "2020-01-01"}).content.decode()
    )
    assert 'data-chart="bar"' in html and 'data-testid="forecast-rep"' in html
    assert alpha.client("manager").get("/sales/opportunities/reports/", {"start": "bad"}).status_code == 200
