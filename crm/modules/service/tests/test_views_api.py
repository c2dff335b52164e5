"""Pages and API: the technician's phone flow, permissions per role (technician own orders only, reps their
customers' orders, clerk nothing), query counts of the lists, the customer panel and dashboard widget,
cross-tenant refusal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.service import services
from crm.modules.service.models import Agreement, ServiceOrder, WorkLog
from crm.modules.service.suite import orders as suite_orders
from tests.test_module_contract import set_module

from .factories import login, make_order, to_public


def _orders(alpha, desk):
    with schema_context(alpha.schema):
        mine = make_order(desk, alpha.users, assignee=desk.tech)
        theirs = make_order(desk, alpha.users, assignee=desk.tech2, customer=desk.other)
    to_public()
    return mine, theirs


def _api(client, method, path, body=None):
    if method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, data=json.dumps(body or {}), content_type="application/json")
    to_public()
    return response


def test_technician_phone_flow_log_work_and_signoff(alpha, desk):
    mine, theirs = _orders(alpha, desk)
    client = login(alpha, desk.tech)
    listing = client.get("/service/?mine=1").content.decode()
    assert mine.number in listing and theirs.number not in listing
    page = client.get(f"/service/orders/{mine.pk}/").content.decode()
    # "Log work" comes before the order's details on the page.
    assert page.index('data-testid="log-work"') < page.index('data-testid="sla"')
    response = client.post(
        f"/service/orders/{mine.pk}/work/", {"hours": "3", "note": "更换硬盘", "client_token": "t1"}
    )
    assert response.status_code == 302
    client.post(f"/service/orders/{mine.pk}/work/", {"hours": "3", "note": "更换硬盘", "client_token": "t1"})
    refused = client.post(f"/service/orders/{mine.pk}/work/", {"hours": "8"})
    assert refused.status_code == 400 and "errorlist" in refused.content.decode()
    client.post(f"/service/orders/{mine.pk}/transition/", {"action": "resolve"})
    page = client.get(f"/service/orders/{mine.pk}/").content.decode()
    assert 'data-testid="signoff"' in page
    client.post(f"/service/orders/{mine.pk}/signoff/", {"name": "王经理", "note": "满意"})
    to_public()
    with schema_context(alpha.schema):
        order = ServiceOrder.objects.get(pk=mine.pk)
        assert (order.status, order.signed_by, order.hours_logged) == ("closed", "王经理", Decimal("3.00"))
        assert WorkLog.objects.filter(order=order).count() == 1
    to_public()


def test_technician_sees_only_own_orders(alpha, desk):
    mine, theirs = _orders(alpha, desk)
    client = login(alpha, desk.tech)
    assert client.get(f"/service/orders/{theirs.pk}/").status_code == 404
    assert client.post(f"/service/orders/{theirs.pk}/work/", {"hours": "1"}).status_code == 404
    assert _api(client, "get", f"/api/v1/service/orders/{theirs.pk}/").status_code == 404
    ids = [o["id"] for o in _api(client, "get", "/api/v1/service/orders/").json()["results"]]
    assert ids == [mine.pk]
    # Technicians do not create orders, agreements or visits, nor read reports.
    assert client.get("/service/orders/new/").status_code == 403
    assert client.get("/service/agreements/").status_code == 403
    assert client.get("/service/reports/").status_code == 403
    body = {"customer": desk.customer.pk, "subject": "x"}
    assert _api(client, "post", "/api/v1/service/orders/", body).status_code == 403


def test_reps_see_their_customers_orders_managers_their_team(alpha, desk):
    mine, theirs = _orders(alpha, desk)
    sales = [o["id"] for o in _api(alpha.client("sales"), "get", "/api/v1/service/orders/").json()["results"]]
    sales2 = [
        o["id"] for o in _api(alpha.client("sales2"), "get", "/api/v1/service/orders/").json()["results"]
    ]
    manager = [
        o["id"] for o in _api(alpha.client("manager"), "get", "/api/v1/service/orders/").json()["results"]
    ]
    owner = [o["id"] for o in _api(alpha.client("owner"), "get", "/api/v1/service/orders/").json()["results"]]
    assert sales == [mine.pk] and sales2 == [theirs.pk]
    assert manager == [mine.pk]  # sales2 is not in the manager's team
    assert sorted(owner) == sorted([mine.pk, theirs.pk])


@pytest.mark.parametrize(
    "path",
    [
        "/service/",
        "/service/agreements/",
        "/service/visits/",
        "/service/reports/",
        "/service/settings/",
        "/api/v1/service/orders/",
        "/api/v1/service/reports/",
    ],
)
def test_clerk_gets_nothing(alpha, desk, path):
    assert alpha.client("clerk").get(path).status_code == 403


def test_only_managers_assign(alpha, desk):
    mine, _theirs = _orders(alpha, desk)
    body = {"action": "assign", "assignee": desk.tech2.pk}
    assert (
        _api(alpha.client("sales"), "post", f"/api/v1/service/orders/{mine.pk}/transition/", body).status_code
        == 403
    )
    response = _api(alpha.client("manager"), "post", f"/api/v1/service/orders/{mine.pk}/transition/", body)
    assert response.status_code == 200 and response.json()["assignee"] == desk.tech2.pk


def test_api_orders_agreements_work_visits(alpha, desk):
    client = alpha.client("sales")
    made = _api(
        client,
        "post",
        "/api/v1/service/agreements/",
        {
            "customer": desk.customer.pk,
            "title": "驻场支持",
            "start_date": "2026-01-01",
            "end_date": "2026-06-30",
            "value": "8000",
            "entitlements": [{"description": "工时", "sold": "2"}],
        },
    )
    assert made.status_code == 201, made.content
    agreement_id = made.json()["id"]
    assert made.json()["entitlements"][0]["left"] == "2.00"
    order = _api(
        client,
        "post",
        "/api/v1/service/orders/",
        {
            "customer": desk.customer.pk,
            "agreement": agreement_id,
            "subject": "打印机故障",
            "priority": "high",
        },
    )
    assert order.status_code == 201, order.content
    pk = order.json()["id"]
    assert order.json()["status"] == "new" and order.json()["resolution_due"]
    too_much = _api(client, "post", f"/api/v1/service/orders/{pk}/work/", {"hours": "3"})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "entitlement_exceeded"
    ok = _api(client, "post", f"/api/v1/service/orders/{pk}/work/", {"hours": "3", "billable_overage": True})
    assert ok.status_code == 201 and ok.json()["overage"] == "1.00"
    assert (
        _api(client, "post", f"/api/v1/service/orders/{pk}/transition/", {"action": "resolve"}).status_code
        == 200
    )
    signed = _api(client, "post", f"/api/v1/service/orders/{pk}/signoff/", {"name": "李总"})
    assert signed.status_code == 200 and signed.json()["status"] == "closed"
    visits = _api(client, "get", "/api/v1/service/visits/?due=1").json()["results"]
    assert len(visits) == 1 and visits[0]["order"] == pk
    done = _api(
        client, "post", f"/api/v1/service/visits/{visits[0]['id']}/done/", {"score": 5, "comment": "好"}
    )
    assert done.status_code == 200 and done.json()["score"] == 5
    # Another rep's customer is not found.
    other = _api(client, "post", "/api/v1/service/orders/", {"customer": desk.other.pk, "subject": "x"})
    assert other.status_code == 404


def test_pages_render_for_managers(alpha, desk):
    _orders(alpha, desk)
    client = alpha.client("owner")
    for path in (
        "/service/",
        "/service/orders/new/",
        "/service/agreements/",
        f"/service/agreements/{desk.agreement.pk}/",
        "/service/visits/",
        "/service/reports/",
        "/service/settings/",
    ):
        assert client.get(path).status_code == 200, path
    response = client.post(
        "/service/agreements/",
        {
            "customer": desk.other.pk,
            "title": "二期",
            "start_date": "2026-01-01",
            "end_date": "2026-12-31",
            "renewal_notice_days": "30",
            "hours_sold": "20",
            "visits_sold": "3",
        },
    )
    assert response.status_code == 302
    to_public()
    with schema_context(alpha.schema):
        agreement = Agreement.objects.get(title="二期")
        assert sorted(e.unit for e in agreement.entitlements.all()) == ["hours", "visits"]
    to_public()
    response = client.post(
        "/service/orders/new/", {"customer": desk.other.pk, "subject": "现场支持", "priority": "low"}
    )
    assert response.status_code == 302
    response = client.post(
        "/service/settings/",
        {
            "form": "hours",
            "workdays": "123456",
            "day_start": "08:30",
            "day_end": "17:30",
            "holidays": "2026-10-01",
        },
    )
    assert response.status_code == 302


def test_customer_panel_and_widget(alpha, desk):
    _orders(alpha, desk)
    client = alpha.client("sales")
    panel = client.get(f"/customers/{desk.customer.pk}/panels/service/0/")
    assert panel.status_code == 200
    html = panel.content.decode()
    assert desk.agreement.number in html and "10.00" in html and "服务器宕机" in html
    widget = login(alpha, desk.tech).get("/w/service/0/")
    assert widget.status_code == 200 and "服务器宕机" in widget.content.decode()


@pytest.mark.parametrize("path", ["/service/", "/api/v1/service/orders/", "/api/v1/service/agreements/"])
def test_list_query_count_is_constant(alpha, desk, path):
    client = alpha.client("manager")
    with schema_context(alpha.schema):
        suite_orders(n=3, owner=alpha.users["sales"])
    client.get(path)
    to_public()
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200
    to_public()
    with schema_context(alpha.schema):
        suite_orders(n=40, owner=alpha.users["sales"])
    with CaptureQueriesContext(connection) as many:
        assert client.get(path).status_code == 200
    to_public()
    assert len(few) == len(many)


def test_cross_tenant_routes_refused(alpha, beta, desk):
    """beta runs service too: alpha's owner is refused on beta's host; beta's users never see alpha's."""
    set_module(beta.tenant, "service", True)
    mine, _theirs = _orders(alpha, desk)
    alpha_owner_on_beta = alpha.client("owner")
    alpha_owner_on_beta.defaults["HTTP_HOST"] = beta.host
    for path in (
        "/service/",
        f"/service/orders/{mine.pk}/",
        "/api/v1/service/orders/",
        "/api/v1/service/reports/",
    ):
        response = alpha_owner_on_beta.get(path)
        to_public()
        assert response.status_code in (302, 401, 403, 404), path
    beta_owner = beta.client("owner")
    assert beta_owner.get(f"/service/orders/{mine.pk}/").status_code == 404
    to_public()
    body = beta_owner.get("/api/v1/service/orders/").json()
    to_public()
    assert body["count"] == 0


def test_module_off_is_404(alpha, desk):
    set_module(alpha.tenant, "service", False)
    assert alpha.client("owner").get("/service/").status_code == 404
    set_module(alpha.tenant, "service", True)
    assert alpha.client("owner").get("/service/").status_code == 200


def test_signoff_refused_on_an_open_order_via_api(alpha, desk):
    mine, _theirs = _orders(alpha, desk)
    client = login(alpha, desk.tech)
    response = _api(client, "post", f"/api/v1/service/orders/{mine.pk}/signoff/", {"name": "王"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "conflict"
    with schema_context(alpha.schema):
        assert services.order_actions(desk.tech, ServiceOrder.objects.get(pk=mine.pk)) == [
            "start",
            "wait",
            "resolve",
        ]
    to_public()


def _body(response: Any) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return bytes(response.content)


def test_orders_export_follows_the_scope(alpha, desk):
    mine, theirs = _orders(alpha, desk)
    response = alpha.client("sales").get("/service/orders/export/?status=open")
    body = _body(response)
    to_public()
    text = body.decode("utf-8-sig")
    assert response.status_code == 200 and mine.number in text and theirs.number not in text
    api = login(alpha, desk.tech2).get("/api/v1/service/orders/export/?type=csv")
    body = _body(api)
    to_public()
    assert theirs.number in body.decode("utf-8-sig") and mine.number not in body.decode("utf-8-sig")
    assert alpha.client("clerk").get("/api/v1/service/orders/export/").status_code == 403


def test_agreement_cancel(alpha, desk):
    assert alpha.client("sales2").post(f"/service/agreements/{desk.agreement.pk}/cancel/").status_code == 404
    response = _api(alpha.client("sales"), "post", f"/api/v1/service/agreements/{desk.agreement.pk}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = _api(alpha.client("sales"), "post", f"/api/v1/service/agreements/{desk.agreement.pk}/cancel/")
    assert again.status_code == 400
