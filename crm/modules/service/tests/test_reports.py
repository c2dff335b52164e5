"""Reports against hand-computed data: renewals due in 30/60/90 days, SLA met % per month and assignee,
hours sold vs delivered per customer, revenue and receivables from the sales contracts; constant queries."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.sales.models import Contract
from crm.modules.sales.tests.factories import line, make_contract
from crm.modules.service import selectors, services
from crm.modules.service.models import Agreement

from .factories import at, make_order, to_public

TODAY = date(2026, 12, 1)


def _agreement(users, customer, end, value="1000", hours="0"):
    lines = [services.EntitlementInput("工时", Decimal(hours))] if Decimal(hours) else []
    return services.agreement_create(
        actor=users["owner"],
        customer=customer,
        title="服务",
        start_date=date(2026, 1, 1),
        end_date=end,
        value=Decimal(value),
        entitlements=lines,
    )


@pytest.fixture
def data(alpha, desk):
    users = alpha.users
    with schema_context(alpha.schema):
        # desk.agreement ends 2026-12-31 (30 days after TODAY), value 60,000, 10 hours.
        _agreement(users, desk.other, TODAY + timedelta(days=45), "2000", "20")  # 60 and 90
        _agreement(users, desk.other, TODAY + timedelta(days=80), "3000")  # 90 only
        _agreement(users, desk.other, TODAY + timedelta(days=200), "9999")  # none
        ended = _agreement(users, desk.other, TODAY + timedelta(days=10), "5000")
        Agreement.objects.filter(pk=ended.pk).update(status="cancelled")
        # SLA: November two resolved by tech (one late), December one by tech2 on time.
        for opened, resolved, tech in (
            (at(2026, 11, 2, 10), at(2026, 11, 2, 11), desk.tech),
            (at(2026, 11, 3, 10), at(2026, 11, 20, 10), desk.tech),
            (at(2026, 12, 1, 10), at(2026, 12, 1, 11), desk.tech2),
        ):
            order = make_order(desk, users, assignee=tech, opened_at=opened, priority="urgent")
            services.order_transition(actor=tech, order=order, action="resolve", at=resolved)
        open_order = make_order(desk, users)
        services.worklog_add(actor=desk.tech, order=open_order, hours=Decimal("4"))
        services.worklog_add(actor=desk.tech, order=open_order, hours=Decimal("7.5"), billable_overage=True)
        # Sales contracts: 11,300 paid 5,000 and 2 x 2,260 = 4,520 unpaid, for the desk customer.
        c1 = make_contract(users["sales"], desk.customer)
        Contract.objects.filter(pk=c1.pk).update(paid_amount=Decimal("5000"))
        make_contract(users["sales"], desk.customer, lines=[line(quantity="2", price="2260")])
        make_contract(users["sales"], desk.customer, state="draft")  # not revenue
    to_public()
    return desk


def test_reports_match_hand_computed_figures(alpha, data):
    desk = data
    with schema_context(alpha.schema):
        r = selectors.reports(alpha.users["owner"], today=TODAY)
    to_public()
    assert [(w["days"], w["count"], w["value"]) for w in r["renewals"]] == [
        (30, 1, Decimal("60000.00")),
        (60, 2, Decimal("62000.00")),
        (90, 3, Decimal("65000.00")),
    ]
    months = [
        (row["month"].date().isoformat()[:7], row["total"], row["met"], row["percent"])
        for row in r["sla_by_month"]
    ]
    assert months == [("2026-11", 2, 1, Decimal("50.0")), ("2026-12", 1, 1, Decimal("100.0"))]
    by_assignee = {
        row["assignee__name"]: (row["total"], row["met"], row["percent"]) for row in r["sla_by_assignee"]
    }
    assert by_assignee == {"技术员甲": (2, 1, Decimal("50.0")), "技术员乙": (1, 1, Decimal("100.0"))}
    hours = {
        row["customer__name"]: (row["sold"], row["used"], row["left"], row["delivered"]) for row in r["hours"]
    }
    assert hours[desk.customer.name] == (
        Decimal("10.00"),
        Decimal("10.00"),
        Decimal("0.00"),
        Decimal("11.50"),
    )
    assert hours[desk.other.name] == (Decimal("20.00"), Decimal("0.00"), Decimal("20.00"), Decimal("0"))
    money = {row["customer__name"]: (row["revenue"], row["paid"], row["receivable"]) for row in r["money"]}
    assert money == {desk.customer.name: (Decimal("15820.00"), Decimal("5000.00"), Decimal("10820.00"))}


def test_reports_follow_the_scope(alpha, data):
    with schema_context(alpha.schema):
        r = selectors.reports(alpha.users["manager"], today=TODAY)
    to_public()
    # The manager's team is manager + sales: desk.other (sales2) agreements are out of scope.
    assert [w["count"] for w in r["renewals"]] == [1, 1, 1]
    assert [row["customer__name"] for row in r["hours"]] == [data.customer.name]


def test_reports_page_and_api_constant_queries(alpha, data):
    client = alpha.client("owner")
    client.get("/service/reports/")
    to_public()
    with CaptureQueriesContext(connection) as first:
        page = client.get("/service/reports/")
    to_public()
    assert page.status_code == 200 and "15,820.00" in page.content.decode()
    with schema_context(alpha.schema):
        for i in range(5):
            _agreement(alpha.users, data.other, TODAY + timedelta(days=20 + i), "100", "5")
    with CaptureQueriesContext(connection) as second:
        client.get("/service/reports/")
    to_public()
    assert len(first) == len(second)
    api = client.get("/api/v1/service/reports/")
    to_public()
    assert api.status_code == 200 and api.json()["renewals"][0]["days"] == 30
