"""Pages and API of the documents area: editor, margin visibility, PDF, email, approvals queue and rules,
permissions, cross-tenant and query counts."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.kernel.models import ApprovalRule, ApprovalStep
from crm.modules.core.models import Activity, Contact
from crm.modules.sales import services_documents as svc
from crm.modules.sales.models import Contract, Quote, SalesSettings

from .factories import line, make_contract, make_customer

D = Decimal


def in_schema(tenant: Any, fn: Any) -> Any:
    with schema_context(tenant.schema):
        result = fn()
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return result


def _contract_with_cost(alpha: Any) -> Contract:
    rep = alpha.users["sales"]
    return in_schema(alpha, lambda: make_contract(rep, lines=[line(price="11300", cost="6000")]))


def test_the_editor_computes_totals_on_the_server(alpha: Any) -> None:
    client = alpha.client("sales")
    body = {
        "line-1-description": "实施服务",
        "line-1-quantity": "2",
        "line-1-unit_price_incl": "1060",
        "line-1-vat_rate": "0.06",
        "line-1-discount_percent": "0",
        "line-2-description": "年度运维",
        "line-2-quantity": "1",
        "line-2-unit_price_incl": "1130",
        "line-2-vat_rate": "0.13",
        "line-2-discount_percent": "0",
        "whole_discount": "",
    }
    response = client.post("/sales/documents/lines/", body)
    assert response.status_code == 200
    html = response.content.decode()
    assert "3,250.00" in html  # 2120.00 + 1130.00
    assert html.count('data-testid="doc-line"') == 2
    added = client.post("/sales/documents/lines/", {**body, "add": "1"}).content.decode()
    assert added.count('data-testid="doc-line"') == 3
    removed = client.post("/sales/documents/lines/", {**body, "remove": "1"}).content.decode()
    assert removed.count('data-testid="doc-line"') == 1 and "1,130.00" in removed
    bad = client.post("/sales/documents/lines/", {**body, "line-1-vat_rate": "0.17"}).content.decode()
    assert 'data-testid="line-error"' in bad


def test_a_rep_creates_a_quote_from_the_customer(alpha: Any) -> None:
    rep = alpha.users["sales"]
    customer = in_schema(alpha, lambda: make_customer(rep))
    client = alpha.client("sales")
    assert client.get(f"/sales/quotes/new/?customer={customer.pk}").status_code == 200
    response = client.post(
        f"/sales/quotes/new/?customer={customer.pk}",
        {
            "title": "ERP 实施",
            "line-1-description": "实施服务",
            "line-1-quantity": "1",
            "line-1-unit_price_incl": "10600",
            "line-1-vat_rate": "0.06",
            "line-1-discount_percent": "0",
            "line-1-unit_cost_excl": "1",  # a rep may not set costs: ignored
            "whole_discount": "10",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    quote = in_schema(alpha, lambda: Quote.objects.get(customer=customer))
    assert quote.total_incl == D("9540.00") and quote.cost_excl is None and quote.owner_id == rep.pk


@pytest.mark.parametrize(
    ("role", "setting", "margin", "percent", "unit_cost"),
    [
        ("owner", False, True, True, True),
        ("finance", False, False, False, False),  # finance holds view_costs but not contract_edit: 403 below
        ("manager", False, False, False, False),
        ("sales", False, False, False, False),
        ("sales", True, False, True, False),
    ],
)
def test_margin_visibility_per_role_and_setting(
    alpha: Any, role: str, setting: bool, margin: bool, percent: bool, unit_cost: bool
) -> None:
    contract = _contract_with_cost(alpha)
    in_schema(
        alpha,
        lambda: SalesSettings.objects.update_or_create(pk=1, defaults={"reps_see_margin_percent": setting}),
    )
    response = alpha.client(role).get(f"/sales/contracts/{contract.pk}/")
    if role == "finance":
        assert response.status_code == 403
        return
    html = response.content.decode()
    assert response.status_code == 200
    assert ('data-testid="margin"' in html) is margin
    assert ('data-testid="margin-percent"' in html) is percent
    assert ("6,000.00" in html) is unit_cost
    api = alpha.client(role).get(f"/api/v1/sales/contracts/{contract.pk}/").json()
    assert (api["margin_percent"] is not None) is percent
    assert ("unit_cost_excl" in api["lines"][0]) is unit_cost


def test_quote_pdf_and_email_with_attachment(alpha: Any, django_capture_on_commit_callbacks: Any) -> None:
    rep = alpha.users["sales"]

    def make() -> Quote:
        customer = make_customer(rep)
        Contact.objects.create(customer=customer, name="王经理", email="wang@example.com")
        return svc.quote_create(actor=rep, customer=customer, lines=[line()])

    quote = in_schema(alpha, make)
    client = alpha.client("sales")
    pdf = client.get(f"/sales/quotes/{quote.pk}/pdf/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert quote.number in pdf["Content-Disposition"]
    assert in_schema(alpha, lambda: svc.quote_email_send) is not None
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/sales/quotes/{quote.pk}/email/",
            {"to": "wang@example.com", "subject": "报价单", "message": "请查收"},
        )
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["wang@example.com"]
    (name, content, mimetype) = sent.attachments[0]
    assert name == f"{quote.number}.pdf" and content.startswith(b"%PDF") and mimetype == "application/pdf"
    assert (
        in_schema(
            alpha,
            lambda: Activity.objects.filter(
                customer=quote.customer_id, purpose__contains=quote.number
            ).count(),
        )
        == 1
    )


def test_pdf_contains_the_number(alpha: Any) -> None:
    rep = alpha.users["sales"]
    quote = in_schema(alpha, lambda: svc.quote_create(actor=rep, customer=make_customer(rep), lines=[line()]))
    from crm.kernel.pdf import document_pdf

    data = in_schema(alpha, lambda: document_pdf(quote, title="Q", company="C", compress=False))
    assert data.startswith(b"%PDF") and quote.number.encode() in data


@pytest.mark.parametrize("role", ["clerk", "warehouse", "finance"])
def test_non_sellers_get_403(alpha: Any, role: str) -> None:
    client = alpha.client(role)
    assert client.get("/sales/quotes/").status_code == 403
    assert client.get("/sales/contracts/").status_code == 403
    assert client.get("/api/v1/sales/quotes/").status_code == 403


def test_reps_see_only_their_own_documents(alpha: Any) -> None:
    mine = in_schema(alpha, lambda: make_contract(alpha.users["sales"]))
    other = in_schema(
        alpha, lambda: make_contract(alpha.users["sales2"], make_customer(alpha.users["sales2"], "别家"))
    )
    client = alpha.client("sales")
    html = client.get("/sales/contracts/").content.decode()
    assert mine.number in html and other.number not in html
    assert client.get(f"/sales/contracts/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/sales/contracts/{other.pk}/").status_code == 404
    manager_html = alpha.client("manager").get("/sales/contracts/").content.decode()
    assert mine.number in manager_html and other.number not in manager_html  # sales2 is not in the team


def test_cross_tenant_documents_are_404(alpha: Any, beta: Any) -> None:
    contract = in_schema(alpha, lambda: make_contract(alpha.users["owner"]))
    quote = in_schema(
        alpha,
        lambda: svc.quote_create(
            actor=alpha.users["owner"], customer=make_customer(alpha.users["owner"]), lines=[line()]
        ),
    )
    client = beta.client("owner")
    for path in (
        f"/sales/contracts/{contract.pk}/",
        f"/sales/contracts/{contract.pk}/pdf/",
        f"/sales/quotes/{quote.pk}/",
        f"/sales/quotes/{quote.pk}/pdf/",
        f"/api/v1/sales/contracts/{contract.pk}/",
        f"/api/v1/sales/quotes/{quote.pk}/pdf/",
    ):
        assert client.get(path).status_code == 404, path
    assert contract.number not in client.get("/sales/contracts/").content.decode()


def _count(client: Any, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return len(queries)


@pytest.mark.parametrize(
    "path", ["/sales/contracts/", "/sales/quotes/", "/api/v1/sales/contracts/", "/api/v1/sales/quotes/"]
)
def test_lists_keep_a_constant_query_count(alpha: Any, path: str) -> None:
    owner = alpha.users["owner"]
    from crm.modules.sales import suite_documents

    def rows(n: int) -> None:
        suite_documents.contracts(n=n, owner=owner)
        suite_documents.quotes(n=n, owner=owner)

    in_schema(alpha, lambda: rows(2))
    client = alpha.client("owner")
    _count(client, path)
    few = _count(client, path)
    in_schema(alpha, lambda: rows(20))
    assert _count(client, path) == few


def test_the_contract_list_flags_overdue(alpha: Any) -> None:
    from datetime import date

    from .factories import make_plan

    contract = in_schema(alpha, lambda: make_contract(alpha.users["owner"]))
    in_schema(alpha, lambda: make_plan(contract, [(date(2020, 1, 31), "11300")]))
    html = alpha.client("owner").get("/sales/contracts/").content.decode()
    assert 'data-testid="overdue"' in html
    data = alpha.client("owner").get("/api/v1/sales/contracts/").json()
    assert data["results"][0]["is_overdue"] is True


def test_the_queue_shows_the_document_and_margin_to_cost_holders(alpha: Any) -> None:
    rep = alpha.users["sales"]

    def setup() -> Contract:
        rule = ApprovalRule.objects.create(
            doc_type="sales.contract", name="低毛利", metric="margin", comparison="lt", threshold=D("50")
        )
        ApprovalStep.objects.create(rule=rule, position=1, kind="role", role="owner")
        contract = make_contract(rep, lines=[line(price="11300", cost="6000")], state="draft")
        svc.contract_transition(actor=rep, contract=contract, name="submit")
        return contract

    contract = in_schema(alpha, setup)
    html = alpha.client("owner").get("/approvals/").content.decode()
    assert contract.number in html and "上海启明科技有限公司" in html
    assert f'href="/sales/contracts/{contract.pk}/"' in html
    assert 'data-testid="approval-margin"' in html and "40.00%" in html


def test_approval_rules_settings_and_preset(alpha: Any) -> None:
    assert alpha.client("sales").get("/approvals/rules/").status_code == 403
    client = alpha.client("admin")
    assert client.get("/approvals/rules/").status_code == 200
    client.post("/approvals/rules/preset/", {"doc_type": "sales.contract"})
    client.post("/approvals/rules/preset/", {"doc_type": "sales.contract"})  # idempotent
    rules = in_schema(
        alpha, lambda: list(ApprovalRule.objects.filter(doc_type="sales.contract").order_by("id"))
    )
    assert [(r.metric, r.comparison, r.threshold) for r in rules] == [
        ("discount", "gt", D("15.00")),
        ("amount", "gt", D("100000.00")),
        ("margin", "lt", D("10.00")),
    ]
    steps = in_schema(alpha, lambda: [(s.kind, s.role) for r in rules for s in r.steps.all()])
    assert steps == [("manager", ""), ("manager", ""), ("role", "owner")]
    response = client.post(
        f"/approvals/rules/{rules[0].pk}/",
        {
            "doc_type": "sales.quote",
            "name": "报价折扣",
            "metric": "discount",
            "comparison": "gte",
            "threshold": "20",
            "is_active": "on",
            "step1_kind": "user",
            "step1_user": str(alpha.users["manager"].pk),
            "step2_kind": "manager",
        },
    )
    assert response.status_code == 302
    rule = in_schema(alpha, lambda: ApprovalRule.objects.get(pk=rules[0].pk))
    assert (rule.doc_type, rule.threshold) == ("sales.quote", D("20.00"))
    assert in_schema(alpha, lambda: [s.kind for s in rule.steps.order_by("position")]) == ["user", "manager"]
    client.post(f"/approvals/rules/{rule.pk}/toggle/")
    assert in_schema(alpha, lambda: ApprovalRule.objects.get(pk=rule.pk).is_active) is False


def test_api_quote_create_update_and_convert(alpha: Any) -> None:
    rep = alpha.users["sales"]
    customer = in_schema(alpha, lambda: make_customer(rep))
    client = alpha.client("sales")
    body = {
        "customer": customer.pk,
        "title": "培训",
        "lines": [{"description": "培训", "quantity": "2", "unit_price_incl": "530", "vat_rate": "0.06"}],
    }
    created = client.post("/api/v1/sales/quotes/", json.dumps(body), content_type="application/json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["total_incl"] == "1060.00" and data["lines"][0]["amount_excl"] == "1000.00"
    pk = data["id"]
    bad = client.patch(
        f"/api/v1/sales/quotes/{pk}/",
        json.dumps({"lines": [{"description": "x", "quantity": "-1", "unit_price_incl": "1"}]}),
        content_type="application/json",
    )
    assert bad.status_code == 400
    for name in ("send", "accept"):
        r = client.post(
            f"/api/v1/sales/quotes/{pk}/transitions/", {"name": name}, content_type="application/json"
        )
        assert r.status_code == 200, r.content
    converted = client.post(
        f"/api/v1/sales/quotes/{pk}/convert/", {"kind": "order"}, content_type="application/json"
    )
    assert converted.status_code == 201 and converted.json()["kind"] == "order"
    again = client.post(f"/api/v1/sales/quotes/{pk}/revise/", {}, content_type="application/json")
    assert again.status_code == 400


def test_api_a_confirmed_contract_is_changed_by_revision_only(alpha: Any) -> None:
    contract = in_schema(alpha, lambda: make_contract(alpha.users["sales"]))
    client = alpha.client("sales")
    refused = client.patch(
        f"/api/v1/sales/contracts/{contract.pk}/", {"title": "改"}, content_type="application/json"
    )
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "revision_required"
    made = client.post(
        f"/api/v1/sales/contracts/{contract.pk}/revisions/",
        {
            "reason": "加量",
            "lines": [
                {"description": "实施服务", "quantity": "3", "unit_price_incl": "11300", "vat_rate": "0.13"}
            ],
        },
        content_type="application/json",
    )
    assert made.status_code == 201, made.content
    rid = made.json()["id"]
    detail = client.get(f"/api/v1/sales/revisions/{rid}/").json()
    assert detail["diff"] == [{"kind": "changed", "description": "实施服务", "changes": ["quantity"]}]
    applied = client.post(
        f"/api/v1/sales/revisions/{rid}/action/", {"action": "submit"}, content_type="application/json"
    )
    assert applied.json()["state"] == "applied"
    assert client.get(f"/api/v1/sales/contracts/{contract.pk}/").json()["total_incl"] == "33900.00"


def test_contract_export_csv(alpha: Any) -> None:
    contract = in_schema(alpha, lambda: make_contract(alpha.users["owner"]))
    response = alpha.client("owner").get("/sales/contracts/export/?type=csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert contract.number in body and "11300.00" in body
    xlsx = alpha.client("owner").get("/api/v1/sales/contracts/export/?type=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
