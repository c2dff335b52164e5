"""Pipeline API: list with filters (scope, constant queries), create, detail, update, move, reopen, stages,
forecast; permissions and cross-tenant."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.sales.models import Opportunity, Stage

from .factories import make_customer, make_opportunity


def to_public() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def post(client: Any, path: str, body: Any, method: str = "post") -> Any:
    return getattr(client, method)(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def data(alpha: Any) -> dict[str, Any]:
    with schema_context(alpha.schema):
        rep, other = alpha.users["sales"], alpha.users["sales2"]
        mine = make_opportunity(rep, name="API商机", amount="50000")
        theirs = make_opportunity(other, make_customer(other, name="他的客户"), name="他的商机")
        out = {
            "mine": mine.pk,
            "theirs": theirs.pk,
            "customer": mine.customer_id,
            "stages": {s.name: s.pk for s in Stage.objects.all()},
        }
    to_public()
    return out


def test_list_is_scoped_filtered_and_paginated(alpha, data):
    rep = alpha.client("sales")
    body = rep.get("/api/v1/sales/opportunities/").json()
    assert [r["name"] for r in body["results"]] == ["API商机"]
    owner = alpha.client("owner")
    names = {r["name"] for r in owner.get("/api/v1/sales/opportunities/").json()["results"]}
    assert names == {"API商机", "他的商机"}
    found = owner.get("/api/v1/sales/opportunities/", {"q": "他的"}).json()["results"]
    assert [r["name"] for r in found] == ["他的商机"]
    assert owner.get("/api/v1/sales/opportunities/", {"status": "nope"}).status_code == 400
    assert owner.get("/api/v1/sales/opportunities/", {"stage": "x"}).status_code == 400
    assert alpha.client("clerk").get("/api/v1/sales/opportunities/").status_code == 403


def test_list_keeps_a_constant_query_count(alpha, data):
    from crm.modules.sales.suite_pipeline import opportunities

    client = alpha.client("manager")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/api/v1/sales/opportunities/").status_code == 200
        to_public()
        return len(ctx)

    count()
    before = count()
    with schema_context(alpha.schema):
        opportunities(n=40, owner=alpha.users["sales"])
    to_public()
    assert count() == before


def test_create_update_move_reopen(alpha, data):
    client = alpha.client("sales")
    created = post(
        client,
        "/api/v1/sales/opportunities/",
        {
            "customer": data["customer"],
            "name": "接口新建",
            "amount": "30000.00",
            "expected_close": "2027-06-30",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["stage_name"] == "初步接洽" and body["probability"] == 10 and len(body["stage_log"]) == 1
    pk = body["id"]
    patched = post(
        client, f"/api/v1/sales/opportunities/{pk}/", {"amount": "35000", "competitor": "用友"}, "patch"
    )
    assert patched.status_code == 200 and patched.json()["amount"] == "35000.00"
    refused = post(client, f"/api/v1/sales/opportunities/{pk}/move/", {"stage": data["stages"]["输单"]})
    assert refused.status_code == 400 and "lost_reason" in json.dumps(refused.json())
    lost = post(
        client,
        f"/api/v1/sales/opportunities/{pk}/move/",
        {"stage": data["stages"]["输单"], "lost_reason": "价格"},
    )
    assert lost.status_code == 200 and lost.json()["status"] == "lost"
    reopened = post(client, f"/api/v1/sales/opportunities/{pk}/reopen/", {})
    assert reopened.status_code == 200 and reopened.json()["status"] == "open"
    bad = post(
        client, "/api/v1/sales/opportunities/", {"customer": data["customer"], "name": "x", "amount": "-1"}
    )
    assert bad.status_code == 400


def test_a_rep_cannot_read_or_move_another_reps_and_beta_cannot_see_alphas(alpha, beta, data):
    rep = alpha.client("sales")
    assert rep.get(f"/api/v1/sales/opportunities/{data['theirs']}/").status_code == 404
    moved = post(
        rep, f"/api/v1/sales/opportunities/{data['theirs']}/move/", {"stage": data["stages"]["赢单"]}
    )
    assert moved.status_code == 404
    other = beta.client("owner")
    assert other.get(f"/api/v1/sales/opportunities/{data['mine']}/").status_code == 404
    assert post(other, f"/api/v1/sales/opportunities/{data['mine']}/move/", {"stage": 1}).status_code == 404
    assert other.get("/api/v1/sales/opportunities/").json()["results"] == []
    with schema_context(alpha.schema):
        assert Opportunity.objects.get(pk=data["theirs"]).status == "open"


def test_stages_and_forecast(alpha, data):
    stages = alpha.client("sales").get("/api/v1/sales/stages/").json()["results"]
    assert [s["kind"] for s in stages][-2:] == ["won", "lost"]
    assert alpha.client("sales").get("/api/v1/sales/forecast/").status_code == 403
    forecast = alpha.client("manager").get("/api/v1/sales/forecast/", {"start": "2020-01-01"})
    assert forecast.status_code == 200
    body = forecast.json()
    # The manager's team is the manager and sales: 50,000 at 10 %; sales2's is outside.
    assert body["weighted_total"] == "5000.00"
    assert (
        alpha.client("manager")
        .get("/api/v1/sales/forecast/", {"start": "2027-01-01", "end": "2026-01-01"})
        .status_code
        == 400
    )
