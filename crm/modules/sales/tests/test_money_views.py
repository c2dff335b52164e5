"""Money area pages and API: permissions, data scope, cross-tenant, constant query counts, exports,
settings page and API, panels and widgets."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.sales import fapiao_panel
from crm.modules.sales import services_money as svc
from crm.modules.sales.models import Contract, Fapiao, InvoiceRequest, SalesSettings, Target

from .factories import make_contract, make_customer

API = "/api/v1/sales"
D = Decimal


def public():
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def post_json(client, url, data, method="post"):
    return getattr(client, method)(url, json.dumps(data), content_type="application/json")


@pytest.fixture
def books(alpha):
    with schema_context(alpha.schema):
        rep, other = alpha.users["sales"], alpha.users["sales2"]
        mine = make_contract(rep, make_customer(rep, "上海甲公司"))
        theirs = make_contract(other, make_customer(other, "上海乙公司"))
        blue = svc.fapiao_record(
            actor=alpha.users["finance"],
            contract=mine,
            number="F0001",
            amount_incl=D("1130"),
            issued_on=date(2026, 11, 30),
        )
        svc.fapiao_record(
            actor=alpha.users["finance"],
            contract=theirs,
            number="F0002",
            amount_incl=D("2260"),
            issued_on=date(2026, 12, 1),
            kind="ordinary",
        )
    public()
    return {"mine": mine, "theirs": theirs, "blue": blue}


def test_rep_sees_only_fapiao_of_own_contracts_finance_all(alpha, books):
    body = alpha.client("sales").get(f"{API}/fapiao/").json()
    assert [r["number"] for r in body["results"]] == ["F0001"]
    body = alpha.client("finance").get(f"{API}/fapiao/").json()
    assert {r["number"] for r in body["results"]} == {"F0001", "F0002"}
    page = alpha.client("sales").get("/sales/fapiao/")
    assert (
        page.status_code == 200 and "F0001" in page.content.decode() and "F0002" not in page.content.decode()
    )
    assert alpha.client("clerk").get("/sales/fapiao/").status_code == 403
    assert alpha.client("sales").get(f"/sales/fapiao/contracts/{books['theirs'].pk}/").status_code == 404


def test_fapiao_list_filters(alpha, books):
    client = alpha.client("finance")
    assert [r["number"] for r in client.get(f"{API}/fapiao/?kind=ordinary").json()["results"]] == ["F0002"]
    assert [r["number"] for r in client.get(f"{API}/fapiao/?month=2026-11").json()["results"]] == ["F0001"]
    cust = books["theirs"].customer_id
    assert [r["number"] for r in client.get(f"{API}/fapiao/?customer={cust}").json()["results"]] == ["F0002"]
    assert client.get(f"{API}/fapiao/?red=true").json()["count"] == 0
    red = post_json(
        client, f"{API}/fapiao/{books['blue'].pk}/red/", {"reason": "抬头错误", "number": "F0001R"}
    )
    assert red.status_code == 400  # no date
    red = post_json(
        client,
        f"{API}/fapiao/{books['blue'].pk}/red/",
        {"reason": "抬头错误", "number": "F0001R", "issued_on": "2026-12-02"},
    )
    assert red.status_code == 201, red.content
    assert red.json()["amount_incl"] == "-1130.00" and red.json()["is_red_letter"] is True
    assert [r["number"] for r in client.get(f"{API}/fapiao/?red=true").json()["results"]] == ["F0001R"]
    again = post_json(
        client,
        f"{API}/fapiao/{books['blue'].pk}/red/",
        {"reason": "x", "number": "F0001S", "issued_on": "2026-12-02"},
    )
    assert again.status_code == 400 and again.json()["error"]["code"] == "already_reversed"
    page = client.get("/sales/fapiao/?red=1&month=2026-12&kind=special")
    assert page.status_code == 200 and "F0001R" in page.content.decode()
    with schema_context(alpha.schema):
        assert Contract.objects.get(pk=books["mine"].pk).invoice_status == "none"
    public()


def test_request_then_finance_records_through_the_pages(alpha, books):
    rep, finance = alpha.client("sales"), alpha.client("finance")
    contract = books["mine"]
    page = rep.get(f"/sales/fapiao/contracts/{contract.pk}/")
    assert page.status_code == 200 and "10,170.00" in page.content.decode()  # uninvoiced
    too_much = rep.post(
        f"/sales/fapiao/contracts/{contract.pk}/request/",
        {"amount": "10170.01", "kind": "special", "buyer_title": "上海甲公司"},
    )
    assert too_much.status_code == 400
    ok = rep.post(
        f"/sales/fapiao/contracts/{contract.pk}/request/",
        {"amount": "5000", "kind": "digital", "buyer_title": "上海甲公司", "buyer_tax_id": "91310000X"},
    )
    assert ok.status_code == 302
    with schema_context(alpha.schema):
        req = InvoiceRequest.objects.get(contract=contract)
    public()
    assert rep.post(f"/sales/fapiao/contracts/{contract.pk}/record/", {}).status_code == 403
    queue = finance.get("/sales/invoice-requests/")
    assert queue.status_code == 200 and contract.number in queue.content.decode()
    form = finance.get(f"/sales/fapiao/contracts/{contract.pk}/?request={req.pk}")
    assert form.status_code == 200 and "91310000X" in form.content.decode()
    done = finance.post(
        f"/sales/fapiao/contracts/{contract.pk}/record/",
        {
            "request": req.pk,
            "number": "F0003",
            "issued_on": "2026-12-02",
            "kind": "digital",
            "vat_rate": "0.13",
            "amount_incl": "5000",
            "buyer_title": "上海甲公司",
            "buyer_tax_id": "91310000X",
        },
    )
    assert done.status_code == 302, done.content.decode()[:2000]
    with schema_context(alpha.schema):
        req.refresh_from_db()
        contract.refresh_from_db()
        assert req.state == "issued"
        assert (contract.invoiced_amount, contract.invoice_status) == (D("6130.00"), "partial")
    public()
    assert "F0003" in rep.get(f"/sales/fapiao/contracts/{contract.pk}/").content.decode()


def test_api_request_and_record(alpha, books):
    contract = books["mine"]
    made = post_json(alpha.client("sales"), f"{API}/invoice-requests/", {"contract": contract.pk})
    assert made.status_code == 201, made.content
    assert made.json()["amount"] == "10170.00" and made.json()["buyer_title"] == "上海甲公司"
    over = post_json(
        alpha.client("sales"), f"{API}/invoice-requests/", {"contract": contract.pk, "amount": "1"}
    )
    assert over.status_code == 400 and over.json()["error"]["code"] == "over_requested"
    other = post_json(alpha.client("sales"), f"{API}/invoice-requests/", {"contract": books["theirs"].pk})
    assert other.status_code == 404
    listed = alpha.client("sales").get(f"{API}/invoice-requests/?state=open").json()
    assert listed["count"] == 1
    assert alpha.client("sales2").get(f"{API}/invoice-requests/").json()["count"] == 0
    refused = post_json(
        alpha.client("sales"),
        f"{API}/fapiao/",
        {"contract": contract.pk, "number": "X1", "issued_on": "2026-12-02", "amount_incl": "1"},
    )
    assert refused.status_code == 403
    recorded = post_json(
        alpha.client("finance"),
        f"{API}/fapiao/",
        {
            "contract": contract.pk,
            "request": made.json()["id"],
            "number": "X1",
            "issued_on": "2026-12-02",
            "amount_incl": "10170.00",
            "amount_excl": "9000.00",
            "amount_tax": "1170.00",
        },
    )
    assert recorded.status_code == 201, recorded.content
    over = post_json(
        alpha.client("finance"),
        f"{API}/fapiao/",
        {"contract": contract.pk, "number": "X2", "issued_on": "2026-12-02", "amount_incl": "0.01"},
    )
    assert over.status_code == 400 and over.json()["error"]["code"] == "over_invoiced"


def test_cross_tenant_ids_are_not_found(alpha, beta, books):
    client = beta.client("owner")
    assert client.get(f"/sales/fapiao/contracts/{books['mine'].pk}/").status_code == 404
    assert client.get(f"/sales/fapiao/{books['blue'].pk}/red/").status_code == 404
    assert client.get(f"{API}/fapiao/").json()["count"] == 0
    red = post_json(
        client,
        f"{API}/fapiao/{books['blue'].pk}/red/",
        {"reason": "x", "number": "Z", "issued_on": "2026-12-02"},
    )
    assert red.status_code == 404
    made = post_json(client, f"{API}/invoice-requests/", {"contract": books["mine"].pk})
    assert made.status_code == 404
    with schema_context(alpha.schema):
        assert not Fapiao.objects.filter(red_of=books["blue"]).exists()
    public()


def _count(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    public()
    return len(queries)


def test_list_query_counts_do_not_grow_with_rows(alpha, books):
    from crm.modules.sales import suite_money

    client = alpha.client("finance")
    urls = ["/sales/fapiao/", f"{API}/fapiao/", "/sales/invoice-requests/", f"{API}/invoice-requests/"]
    with schema_context(alpha.schema):
        suite_money.fapiao(n=3, owner=alpha.users["owner"])
        suite_money.invoice_requests(n=3, owner=alpha.users["owner"])
    public()
    for url in urls:
        _count(client, url)
    before = [_count(client, url) for url in urls]
    with schema_context(alpha.schema):
        suite_money.fapiao(n=30, owner=alpha.users["owner"])
        suite_money.invoice_requests(n=30, owner=alpha.users["owner"])
    public()
    assert [_count(client, url) for url in urls] == before


def test_export_xlsx_and_csv(alpha, books):
    csv = alpha.client("finance").get("/sales/fapiao/export/?type=csv")
    assert csv.status_code == 200
    text = b"".join(csv.streaming_content).decode("utf-8-sig")
    assert "F0001" in text and "F0002" in text and "1130.00" in text
    xlsx = alpha.client("sales").get("/sales/fapiao/export/")
    assert xlsx.status_code == 200 and xlsx["Content-Type"].startswith("application/vnd.openxml")
    from io import BytesIO

    from openpyxl import load_workbook

    rows = list(load_workbook(BytesIO(xlsx.content)).active.iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == ["F0001"]  # the rep's own only


def test_settings_page_and_api(alpha):
    assert alpha.client("manager").get("/sales/settings/").status_code == 403
    page = alpha.client("admin").get("/sales/settings/")
    assert page.status_code == 200 and "target_basis" in page.content.decode()
    saved = alpha.client("admin").post(
        "/sales/settings/",
        {
            "target_basis": "receipts",
            "remind_days_before": "5",
            "remind_days_after": "2",
            "quote_valid_days": "20",
            "default_payment_days": "45",
            "quote_terms": "报价有效期内有效",
            "contract_terms": "",
        },
    )
    assert saved.status_code == 302
    with schema_context(alpha.schema):
        row = SalesSettings.objects.get()
        assert (row.target_basis, row.default_payment_days, row.reps_see_margin_percent) == (
            "receipts",
            45,
            False,
        )
    public()
    client = alpha.client("owner")
    assert client.get(f"{API}/settings/").json()["default_payment_days"] == 45
    patched = post_json(client, f"{API}/settings/", {"reps_see_margin_percent": True}, method="patch")
    assert patched.status_code == 200 and patched.json()["reps_see_margin_percent"] is True
    bad = post_json(client, f"{API}/settings/", {"quote_valid_days": 9999}, method="patch")
    assert bad.status_code == 400
    assert post_json(alpha.client("sales"), f"{API}/settings/", {}, method="patch").status_code == 403
    index = alpha.client("owner").get("/settings/")
    assert "/sales/settings/" in index.content.decode()


def test_targets_grid_api_and_widgets(alpha):
    manager = alpha.client("manager")
    month = date.today().replace(day=1)
    rep = alpha.users["sales"]
    grid = manager.get(f"/sales/targets/?month={month:%Y-%m}")
    assert grid.status_code == 200 and f'name="user-{rep.pk}"' in grid.content.decode()
    assert f'name="user-{alpha.users["sales2"].pk}"' not in grid.content.decode()  # not the manager's team
    saved = manager.post("/sales/targets/", {"month": f"{month:%Y-%m}", f"user-{rep.pk}": "120,000"})
    assert saved.status_code == 302
    assert alpha.client("sales").get("/sales/targets/").status_code == 403
    listed = manager.get(f"{API}/targets/?month={month:%Y-%m}").json()
    assert [(r["user"], r["amount"]) for r in listed["results"]] == [(rep.pk, "120000.00")]
    refused = post_json(
        manager,
        f"{API}/targets/",
        {"month": f"{month:%Y-%m}", "user": alpha.users["sales2"].pk, "amount": "1"},
    )
    assert refused.status_code == 403
    ach = alpha.client("sales").get(f"{API}/achievement/?month={month:%Y-%m}")
    assert ach.status_code == 200 and ach.json()["rows"][-1]["target"] == "120000.00"
    assert len(ach.json()["rows"]) == 12
    assert alpha.client("sales").get(f"{API}/achievement/?user={alpha.users['sales2'].pk}").status_code == 404
    assert alpha.client("sales").get("/sales/targets/achievement/").status_code == 200
    with schema_context(alpha.schema):
        mine = fapiao_panel.my_target_context(rep)
        assert (mine["target"], mine["achieved"], mine["percent"]) == (D("120000.00"), D("0.00"), 0)
        team = fapiao_panel.team_targets_context(alpha.users["manager"])
        assert [r["user"].pk for r in team["rows"]] == [rep.pk]
        assert Target.objects.count() == 1
    public()
    home = alpha.client("sales").get("/")
    assert home.status_code == 200


def test_customer_panel_and_contract_panel(alpha, books):
    with schema_context(alpha.schema):
        customer = books["mine"].customer
        ctx = fapiao_panel.customer_panel_context(customer, alpha.users["sales"])
        assert (ctx["invoiced"], ctx["uninvoiced"], ctx["last_fapiao"].number) == (
            D("1130.00"),
            D("10170.00"),
            "F0001",
        )
        contract = Contract.objects.get(pk=books["mine"].pk)
        panel = fapiao_panel.contract_panel_context(contract=contract, user=alpha.users["sales"])[
            "fapiao_panel"
        ]
        assert panel["can_request"] and not panel["can_record"] and panel["percent"] == 10
        finance = fapiao_panel.contract_panel_context(contract=contract, user=alpha.users["finance"])[
            "fapiao_panel"
        ]
        assert finance["can_record"] and finance["can_red"]
    public()


def test_every_money_page_renders_in_chinese(alpha, books):
    with schema_context(alpha.schema):
        svc.invoice_request_create(actor=alpha.users["sales"], contract=books["mine"], amount=D("100"))
    public()
    contract, blue = books["mine"], books["blue"]
    pages = {
        "finance": [
            "/sales/fapiao/",
            f"/sales/fapiao/contracts/{contract.pk}/",
            f"/sales/fapiao/{blue.pk}/red/",
            "/sales/invoice-requests/",
        ],
        "owner": ["/sales/settings/", "/sales/targets/", "/sales/targets/achievement/", "/settings/"],
        "sales": ["/sales/targets/achievement/", f"/sales/fapiao/contracts/{contract.pk}/", "/"],
    }
    for role, urls in pages.items():
        client = alpha.client(role, language="zh-hans")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            text = response.content.decode()
            assert any(word in text for word in ("发票", "目标", "销售", "开票")), (role, url)
    text = (
        alpha.client("finance", language="zh-hans")
        .get(f"/sales/fapiao/contracts/{contract.pk}/")
        .content.decode()
    )
    assert "登记发票" in text and "未开票" in text


def test_dashboard_widgets_and_customer_panel_render(alpha, books):
    from django.urls import reverse

    from crm.modules.sales.manifest import MANIFEST

    templates = [w.template for w in MANIFEST.widgets]
    mine = templates.index("sales/money/widget_my_target.html")
    team = templates.index("sales/money/widget_team_targets.html")
    panel = [p.template for p in MANIFEST.customer_panels].index("sales/money/panel_customer.html")
    with schema_context(alpha.schema):
        Target.objects.create(month=date.today().replace(day=1), user=alpha.users["sales"], amount=D("1000"))
        urls = {
            "mine": reverse("core:widget", args=["sales", mine]),
            "team": reverse("core:widget", args=["sales", team]),
            "panel": reverse("core:customer_panel", args=[books["mine"].customer_id, "sales", panel]),
        }
    public()
    widget = alpha.client("sales").get(urls["mine"])
    assert widget.status_code == 200 and "¥1,000.00" in widget.content.decode()
    assert alpha.client("sales").get(urls["team"]).status_code in (403, 404)  # managers only
    assert alpha.client("manager").get(urls["team"]).status_code == 200
    shown = alpha.client("sales").get(urls["panel"])
    assert shown.status_code == 200 and "F0001" in shown.content.decode()
    assert alpha.client("clerk").get(urls["panel"]).status_code in (403, 404)


def test_red_letter_and_copy_targets_through_the_pages(alpha, books):
    finance = alpha.client("finance")
    blue = books["blue"]
    assert alpha.client("sales").get(f"/sales/fapiao/{blue.pk}/red/").status_code == 403
    missing = finance.post(
        f"/sales/fapiao/{blue.pk}/red/", {"reason": "", "number": "R", "issued_on": "2026-12-02"}
    )
    assert missing.status_code == 400
    done = finance.post(
        f"/sales/fapiao/{blue.pk}/red/", {"reason": "退票", "number": "F0001H", "issued_on": "2026-12-02"}
    )
    assert done.status_code == 302
    again = finance.post(
        f"/sales/fapiao/{blue.pk}/red/", {"reason": "退票", "number": "F0001J", "issued_on": "2026-12-02"}
    )
    assert again.status_code == 400
    with schema_context(alpha.schema):
        assert Contract.objects.get(pk=books["mine"].pk).invoiced_amount == D("0.00")
        Target.objects.create(month=date(2026, 11, 1), user=alpha.users["sales"], amount=D("500"))
    public()
    manager = alpha.client("manager")
    assert manager.post("/sales/targets/copy/", {"month": "2026-12"}).status_code == 302
    with schema_context(alpha.schema):
        assert Target.objects.get(month=date(2026, 12, 1)).amount == D("500.00")
    public()
