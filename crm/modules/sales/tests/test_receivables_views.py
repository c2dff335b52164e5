"""Receivables pages and API: rendering, double-submitted form, hand allocation, plan editor, reversal,
statement PDF/xlsx, permissions by role, data scope, cross-tenant, query counts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.sales import services_receivables as svc
from crm.modules.sales.models import Contract, Installment, Receipt

from .factories import make_contract, make_customer, make_plan

D = Decimal
API = "/api/v1/sales"


@pytest.fixture
def book(alpha) -> dict[str, Any]:
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        cust = make_customer(rep, "视图客户")
        c = make_contract(rep, cust)
        a, b = make_plan(c, [(date(2026, 1, 31), "5000"), (date(2026, 3, 31), "6300")])
        other = make_customer(alpha.users["sales2"], "别人的客户")
        c2 = make_contract(alpha.users["sales2"], other)
        make_plan(c2, [(date(2026, 1, 31), "11300")])
        out = {"cust": cust.pk, "c": c.pk, "a": a.pk, "b": b.pk, "other": other.pk, "c2": c2.pk}
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return out


def _form(customer: int, **extra: Any) -> dict[str, Any]:
    return {
        "customer": customer,
        "amount": "6000",
        "received_on": "2026-02-01",
        "method": "bank",
        "bank_reference": "BOC-1",
        "note": "",
        "token": "form-token-1",
        **extra,
    }


def test_record_receipt_page_double_submit_records_one(alpha, book):
    client = alpha.client("finance")
    page = client.get(f"/sales/receivables/receipts/new/?customer={book['cust']}")
    assert page.status_code == 200 and 'name="token"' in page.content.decode()
    first = client.post("/sales/receivables/receipts/new/", _form(book["cust"]))
    second = client.post("/sales/receivables/receipts/new/", _form(book["cust"]))
    assert first.status_code == 302 and second.status_code == 302 and first.url == second.url
    with schema_context(alpha.schema):
        assert Receipt.objects.filter(customer_id=book["cust"]).count() == 1
        assert Installment.objects.get(pk=book["a"]).paid_amount == D("5000")
        assert Installment.objects.get(pk=book["b"]).paid_amount == D("1000")
    detail = client.get(first.url).content.decode()
    assert "BOC-1" in detail and 'data-testid="receipt-allocations"' in detail


def test_hand_allocation_and_overpayment_on_the_form(alpha, book):
    client = alpha.client("finance")
    refused = client.post(
        "/sales/receivables/receipts/new/", _form(book["cust"], amount="20000", token="t-over")
    )
    assert refused.status_code == 400 and "11,300.00" in refused.content.decode()
    ok = client.post(
        "/sales/receivables/receipts/new/",
        _form(book["cust"], amount="700", token="t-hand", by_hand="on", **{f"alloc_i{book['b']}": "700"}),
    )
    assert ok.status_code == 302
    with schema_context(alpha.schema):
        assert Installment.objects.get(pk=book["b"]).paid_amount == D("700")
        assert Installment.objects.get(pk=book["a"]).paid_amount == 0


def test_plan_editor_refuses_a_wrong_sum_and_saves_a_right_one(alpha, book):
    client = alpha.client("sales")
    assert client.get(f"/sales/receivables/contracts/{book['c']}/plan/").status_code == 200
    data = {
        "plan-TOTAL_FORMS": "2",
        "plan-INITIAL_FORMS": "2",
        "plan-MIN_NUM_FORMS": "0",
        "plan-MAX_NUM_FORMS": "60",
        "plan-0-id": book["a"],
        "plan-0-due_date": "2026-01-31",
        "plan-0-amount": "5000",
        "plan-0-note": "",
        "plan-1-id": book["b"],
        "plan-1-due_date": "2026-04-30",
        "plan-1-amount": "6000",
        "plan-1-note": "",
    }
    bad = client.post(f"/sales/receivables/contracts/{book['c']}/plan/", data)
    assert bad.status_code == 400 and 'data-testid="plan-error"' in bad.content.decode()
    data["plan-1-amount"] = "6300"
    assert client.post(f"/sales/receivables/contracts/{book['c']}/plan/", data).status_code == 302
    with schema_context(alpha.schema):
        assert Installment.objects.get(pk=book["b"]).due_date == date(2026, 4, 30)
    # Another rep's contract: not found.
    assert client.get(f"/sales/receivables/contracts/{book['c2']}/plan/").status_code == 404


def test_reversal_page_needs_the_permission(alpha, book):
    with schema_context(alpha.schema):
        r = svc.receipt_record(
            actor=alpha.users["finance"],
            customer=Contract.objects.get(pk=book["c"]).customer,
            amount=D("100"),
            received_on=date(2026, 2, 1),
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert (
        alpha.client("sales")
        .post(f"/sales/receivables/receipts/{r.pk}/reverse/", {"reason": "x"})
        .status_code
        == 403
    )
    assert (
        alpha.client("finance")
        .post(f"/sales/receivables/receipts/{r.pk}/reverse/", {"reason": "错账"})
        .status_code
        == 302
    )
    with schema_context(alpha.schema):
        assert Receipt.objects.get(pk=r.pk).state == "reversed"
        assert Contract.objects.get(pk=book["c"]).paid_amount == 0


def test_pages_by_role(alpha, book):
    paths = [
        "/sales/receivables/",
        "/sales/receivables/receipts/",
        f"/sales/receivables/customers/{book['cust']}/statement/",
    ]
    for path in paths:
        assert alpha.client("clerk").get(path).status_code == 403
        assert alpha.client("finance").get(path).status_code == 200
    assert alpha.client("sales").get("/sales/receivables/aging/").status_code == 403
    for role in ("manager", "finance", "owner"):
        assert alpha.client(role).get("/sales/receivables/aging/?as_of=2026-06-30").status_code == 200
        assert alpha.client(role).get("/sales/receivables/forecast/").status_code == 200
    # A rep sees only their own installments and customers.
    rep = alpha.client("sales")
    html = rep.get("/sales/receivables/").content.decode()
    assert "视图客户" in html and "别人的客户" not in html
    assert rep.get(f"/sales/receivables/customers/{book['other']}/statement/").status_code == 404
    assert "别人的客户" in alpha.client("finance").get("/sales/receivables/").content.decode()


def test_statement_pdf_and_xlsx(alpha, book):
    client = alpha.client("finance")
    base = f"/sales/receivables/customers/{book['cust']}/statement/?start=2025-01-01&end=2026-12-31"
    html = client.get(base)
    assert html.status_code == 200 and 'data-testid="statement-table"' in html.content.decode()
    pdf = client.get(base + "&format=pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf" and pdf.content[:4] == b"%PDF"
    xlsx = client.get(base + "&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_installment_list_query_count_is_constant(alpha, book):
    from crm.modules.sales.suite_receivables import installments

    client = alpha.client("finance")
    client.get("/sales/receivables/")

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as q:
            assert client.get(path).status_code == 200
        return len(q)

    small = (count("/sales/receivables/"), count(f"{API}/installments/"))
    with schema_context(alpha.schema):
        installments(n=40, owner=alpha.users["sales"])
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert (count("/sales/receivables/"), count(f"{API}/installments/")) == small


def test_api_receipt_create_idempotent_reverse_and_scope(alpha, book):
    fin = alpha.client("finance")
    body = {
        "customer": book["cust"],
        "amount": "5000.00",
        "received_on": "2026-02-01",
        "allocations": [
            {"installment": book["a"], "amount": "3000"},
            {"installment": book["b"], "amount": "2000"},
        ],
    }
    r1 = fin.post(f"{API}/receipts/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert r1.status_code == 201, r1.content
    r2 = fin.post(f"{API}/receipts/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert r2.status_code == 201 and r2.json()["id"] == r1.json()["id"]
    data = r1.json()
    assert [a["amount"] for a in data["allocations"]] == ["3000.00", "2000.00"]
    with schema_context(alpha.schema):
        assert Receipt.objects.filter(customer_id=book["cust"]).count() == 1
    listed = fin.get(f"{API}/installments/?customer={book['cust']}").json()
    assert [x["open_amount"] for x in listed["results"]] == ["2000.00", "4300.00"]
    # Over-allocation on one installment: 400 in the error shape, nothing saved.
    bad = fin.post(
        f"{API}/receipts/",
        {**body, "allocations": [{"installment": book["a"], "amount": "2500"}]},
        content_type="application/json",
    )
    assert bad.status_code == 400 and "error" in bad.json()
    rev = fin.post(
        f"{API}/receipts/{data['id']}/reverse/", {"reason": "退票"}, content_type="application/json"
    )
    assert rev.status_code == 200 and rev.json()["state"] == "reversed"
    # Reps: no reversal, not another rep's receipts or customers.
    rep2 = alpha.client("sales2")
    assert rep2.get(f"{API}/receipts/{data['id']}/").status_code == 404
    assert (
        rep2.post(
            f"{API}/receipts/{data['id']}/reverse/", {"reason": "x"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert rep2.post(f"{API}/receipts/", body, content_type="application/json").status_code == 404
    assert alpha.client("clerk").get(f"{API}/receipts/").status_code == 403


def test_api_plan_put_and_reports(alpha, book):
    rep = alpha.client("sales")
    url = f"{API}/contracts/{book['c']}/plan/"
    wrong = rep.put(
        url, {"installments": [{"due_date": "2026-05-01", "amount": "100"}]}, content_type="application/json"
    )
    assert wrong.status_code == 400
    ok = rep.put(
        url,
        {"installments": [{"due_date": "2026-05-01", "amount": "11300"}]},
        content_type="application/json",
    )
    assert ok.status_code == 200 and [x["amount"] for x in ok.json()] == ["11300.00"]
    mgr = alpha.client("manager")
    aging = mgr.get(f"{API}/aging/?as_of=2026-06-30").json()
    assert aging["totals"]["d31_60"] == "11300.00"  # the rep's contract, due 2026-05-01: 60 days
    assert mgr.get(f"{API}/collections-forecast/?months=3").status_code == 200
    assert rep.get(f"{API}/aging/").status_code == 403
    st = alpha.client("finance").get(
        f"{API}/customers/{book['cust']}/statement/?start=2025-01-01&end=2026-12-31"
    )
    assert st.status_code == 200 and st.json()["closing"] == "11300.00"


def test_cross_tenant_receipts_are_not_reachable(alpha, beta, book):
    client = beta.client("owner")
    with schema_context(alpha.schema):
        r = svc.receipt_record(
            actor=alpha.users["finance"],
            customer=Contract.objects.get(pk=book["c"]).customer,
            amount=D("100"),
            received_on=date(2026, 2, 1),
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert client.get(f"/sales/receivables/receipts/{r.pk}/").status_code == 404
    assert client.get(f"{API}/receipts/{r.pk}/").status_code == 404
    assert client.get(f"/sales/receivables/contracts/{book['c']}/plan/").status_code == 404
    assert client.get(f"{API}/customers/{book['cust']}/statement/").status_code == 404
    assert "视图客户" not in client.get("/sales/receivables/").content.decode()


def test_customer_panel_and_contract_panel(alpha, book):
    from crm.modules.sales.manifest import MANIFEST

    index = next(i for i, p in enumerate(MANIFEST.customer_panels) if "receivables" in p.template)
    html = alpha.client("sales").get(f"/customers/{book['cust']}/panels/sales/{index}/")
    assert html.status_code == 200, html.status_code
    body = html.content.decode()
    assert 'data-testid="rv-open"' in body and "11,300.00" in body
    assert alpha.client("clerk").get(f"/customers/{book['cust']}/panels/sales/{index}/").status_code in (
        403,
        404,
    )
    from django.template.loader import render_to_string

    from crm.modules.sales import receivables_panel

    with schema_context(alpha.schema):
        contract = Contract.objects.get(pk=book["c"])
        ctx = receivables_panel.contract_panel_context(contract=contract, user=alpha.users["sales"])
        out = render_to_string("sales/_contract_receivables.html", ctx)
    assert 'data-testid="plan-table"' in out and "6,300.00" in out and 'data-testid="plan-edit"' in out
