"""REST API: same scopes and rules as the pages; constant queries on list endpoints."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.models import Activity, Contact, Customer, Task

from .factories import customer, many_customers

API = "/api/v1/core"


def list_queries(client, url):
    client.get(url)  # warm per-tenant caches
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx), response.json()


def test_customer_api_list_constant_queries_and_scope(alpha):
    u = alpha.users
    client = alpha.client("sales")
    with schema_context(alpha.schema):
        many_customers(u["sales"], 10)
        customer(u["sales2"], "别人的客户")
    small, data = list_queries(client, f"{API}/customers/?page_size=500")
    assert data["count"] == 10 and all(r["owner"] == u["sales"].pk for r in data["results"])
    with schema_context(alpha.schema):
        many_customers(u["sales"], 490, prefix="大")
    large, data = list_queries(client, f"{API}/customers/?page_size=500")
    assert data["count"] == 500 and len(data["results"]) == 500
    assert small == large, (small, large)
    print("customer API list queries:", small)


def test_activity_and_contact_lists_constant_queries(alpha):
    u = alpha.users
    client = alpha.client("manager")

    def add(n):
        with schema_context(alpha.schema):
            for i in range(n):
                c = customer(u["sales"], f"客户{i}-{n}")
                Contact.objects.create(customer=c, name=f"联系人{i}")
                a = Activity.objects.create(
                    customer=c, author=u["sales"], result="x", occurred_at=timezone.now()
                )
                a.comments.create(author=u["manager"], body="好")

    add(3)
    small_a, data = list_queries(client, f"{API}/activities/?page_size=500")
    small_c, _ = list_queries(client, f"{API}/contacts/?page_size=500")
    assert data["count"] == 3 and data["results"][0]["comments"][0]["body"] == "好"
    add(30)
    large_a, data = list_queries(client, f"{API}/activities/?page_size=500")
    large_c, _ = list_queries(client, f"{API}/contacts/?page_size=500")
    assert data["count"] == 33
    assert (small_a, small_c) == (large_a, large_c)


def test_customer_api_create_duplicate_warning_and_update(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        existing = customer(u["sales2"], "杭州远大贸易有限公司", phone="13700000000")
    client = alpha.client("sales")
    response = client.post(
        f"{API}/customers/", {"name": "远大", "phone": "137 0000 0000"}, content_type="application/json"
    )
    assert response.status_code == 409
    err = response.json()["error"]
    assert err["code"] == "duplicate" and err["duplicates"][0]["id"] == existing.pk
    assert err["duplicates"][0]["owner_name"] == u["sales2"].name
    response = client.post(
        f"{API}/customers/",
        {"name": "远大", "phone": "137 0000 0000", "allow_duplicate": True, "tags": ["华东"]},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    assert response.json()["owner"] == u["sales"].pk and response.json()["tags"] == ["华东"]
    response = client.patch(f"{API}/customers/{pk}/", {"stage": "nonsense"}, content_type="application/json")
    assert response.status_code == 400
    response = client.patch(f"{API}/customers/{pk}/", {"stage": "prospect"}, content_type="application/json")
    assert response.status_code == 200 and response.json()["stage"] == "prospect"
    # Another rep's customer is invisible, so it cannot be read or changed.
    assert client.get(f"{API}/customers/{existing.pk}/").status_code == 404
    assert (
        client.patch(
            f"{API}/customers/{existing.pk}/", {"name": "x"}, content_type="application/json"
        ).status_code
        == 404
    )


def test_clerk_and_anonymous_refused(alpha):
    assert alpha.client("clerk").get(f"{API}/customers/").status_code == 403
    assert alpha.client(None).get(f"{API}/customers/").status_code in (401, 403)
    assert alpha.client("clerk").get(f"{API}/products/").status_code == 200


def test_activity_api_creates_task_from_next_step(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        c = customer(u["sales"])
        other = customer(u["sales2"], "乙")
    client = alpha.client("sales")
    due = (timezone.now() + timedelta(days=2)).isoformat()
    response = client.post(
        f"{API}/activities/",
        {
            "customer": c.pk,
            "kind": "call",
            "result": "约了下周见",
            "next_step": "上门拜访",
            "next_step_at": due,
        },
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    tasks = client.get(f"{API}/tasks/").json()
    assert [t["title"] for t in tasks["results"]] == ["上门拜访"]
    response = client.post(
        f"{API}/tasks/{tasks['results'][0]['id']}/complete/", {}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["done_at"]
    response = client.post(
        f"{API}/activities/", {"customer": other.pk, "result": "x"}, content_type="application/json"
    )
    assert response.status_code == 404
    with schema_context(alpha.schema):
        assert Activity.objects.count() == 1 and Task.objects.filter(done_at__isnull=True).count() == 0


def test_product_api_duplicate_refused(alpha):
    client = alpha.client("admin")
    data = {"code": "P-1", "name": "液压泵", "specification": "50L", "price": "1999.00"}
    assert client.post(f"{API}/products/", data, content_type="application/json").status_code == 201
    response = client.post(f"{API}/products/", data, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "duplicate"
    assert (
        alpha.client("sales")
        .post(f"{API}/products/", {**data, "code": "P-2"}, content_type="application/json")
        .status_code
        == 403
    )


def test_handover_api_preview_then_confirm(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        ids = [customer(u["sales"], f"客户{i}").pk for i in range(4)]
    client = alpha.client("admin")
    body = {"from_user": u["sales"].pk, "to_users": [u["sales2"].pk, u["manager"].pk]}
    preview = client.post(f"{API}/handover/", body, content_type="application/json").json()
    assert preview["confirmed"] is False and len(preview["customers"]) == 4
    with schema_context(alpha.schema):
        assert Customer.objects.filter(owner=u["sales"]).count() == 4
    done = client.post(
        f"{API}/handover/",
        {**body, "confirm": True, "mapping": {str(ids[0]): u["manager"].pk}},
        content_type="application/json",
    ).json()
    assert done["confirmed"] is True and done["customers"][str(ids[0])] == u["manager"].pk
    with schema_context(alpha.schema):
        assert not Customer.objects.filter(owner=u["sales"]).exists()
    assert (
        alpha.client("sales").post(f"{API}/handover/", body, content_type="application/json").status_code
        == 403
    )


def test_pool_api_claim(alpha):
    with schema_context(alpha.schema):
        c = customer(None, "公海", in_pool=True)
    client = alpha.client("sales")
    assert [r["id"] for r in client.get(f"{API}/pool/").json()["results"]] == [c.pk]
    response = client.post(f"{API}/pool/{c.pk}/claim/")
    assert response.status_code == 200 and response.json()["owner"] == alpha.users["sales"].pk
    response = alpha.client("sales2").post(f"{API}/pool/{c.pk}/claim/")
    assert response.status_code == 404  # no longer in the pool


def test_api_is_tenant_isolated(alpha, beta):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "阿尔法")
    client = beta.client("owner")
    assert client.get(f"{API}/customers/{c.pk}/").status_code == 404
    assert client.get(f"{API}/customers/").json()["count"] == 0


def test_share_merge_search_history_weekly_and_custom_fields_api(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        a = customer(u["sales2"], "明达科技")
        b = customer(u["sales2"], "明达科技（旧）", phone="13500000000")
    owner2 = alpha.client("sales2")
    rep = alpha.client("sales")
    assert rep.get(f"{API}/customers/{a.pk}/").status_code == 404
    response = owner2.post(
        f"{API}/customers/{a.pk}/share/", {"user": u["sales"].pk}, content_type="application/json"
    )
    assert response.status_code == 201
    assert rep.get(f"{API}/customers/{a.pk}/").status_code == 200
    assert [c["id"] for c in rep.get(f"{API}/search/?q=mdkj").json()["customers"]] == [a.pk]
    # Read-only share: the rep cannot merge into it.
    assert (
        rep.post(
            f"{API}/customers/{a.pk}/merge/", {"source": b.pk}, content_type="application/json"
        ).status_code
        == 404
    )  # b is not visible to the rep
    response = owner2.post(
        f"{API}/customers/{a.pk}/merge/", {"source": b.pk}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["phone"] == "13500000000"
    history = alpha.client("admin").get(f"{API}/customers/{a.pk}/history/").json()
    assert {"customer.share", "customer.merge"} <= {h["action"] for h in history}
    assert rep.get(f"{API}/customers/{a.pk}/history/").status_code == 403

    report = rep.post(f"{API}/weekly-reports/", {}, content_type="application/json").json()
    response = rep.patch(
        f"{API}/weekly-reports/{report['id']}/",
        {"summary": "拜访3家", "submit": True},
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json()["status"] == "submitted"
    response = alpha.client("manager").patch(
        f"{API}/weekly-reports/{report['id']}/", {"manager_comment": "好"}, content_type="application/json"
    )
    assert response.json()["manager_comment"] == "好"

    field = {"key": "level", "label": "等级", "field_type": "choice", "choices": ["A", "B"]}
    assert rep.post(f"{API}/custom-fields/", field, content_type="application/json").status_code == 403
    assert (
        alpha.client("admin")
        .post(f"{API}/custom-fields/", field, content_type="application/json")
        .status_code
        == 201
    )
    response = rep.post(
        f"{API}/customers/",
        {"name": "新客户", "custom_fields": {"level": "C"}},
        content_type="application/json",
    )
    assert response.status_code == 400 and "custom_fields.level" in response.json()["error"]["fields"]


def test_other_list_endpoints_constant_queries(alpha):
    from decimal import Decimal

    from crm.modules.core.models import Document, Product, WeeklyReport

    u = alpha.users
    client = alpha.client("manager")
    endpoints = ["products", "tasks", "pool", "documents", "weekly-reports", "contacts"]

    def add(n, tag):
        with schema_context(alpha.schema):
            for i in range(n):
                c = customer(u["manager"], f"客户{tag}{i}")
                Product.objects.create(code=f"{tag}{i}", name="产品", price=Decimal("1"))
                Task.objects.create(title="t", due_at=timezone.now(), owner=u["manager"], customer=c)
                customer(None, f"池{tag}{i}", in_pool=True)
                Document.objects.create(
                    customer=c, file=f"x/{tag}{i}.pdf", name="合同.pdf", uploaded_by=u["sales"]
                )
                Contact.objects.create(customer=c, name="联系人")
            week = timezone.localdate() - timedelta(days=7 * (n + (10 if tag == "b" else 0)))
            WeeklyReport.objects.create(author=u["sales"], week_start=week, status="submitted")

    add(2, "a")
    small = {e: list_queries(client, f"{API}/{e}/?page_size=500")[0] for e in endpoints}
    add(20, "b")
    large = {}
    for e in endpoints:
        n, data = list_queries(client, f"{API}/{e}/?page_size=500")
        large[e] = n
        assert data["count"] >= 2, e
    assert small == large


def test_contact_patch_api(alpha):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
        contact = Contact.objects.create(customer=c, name="王经理")
    client = alpha.client("sales")
    response = client.patch(
        f"{API}/contacts/{contact.pk}/", {"title": "总经理", "email": "bad"}, content_type="application/json"
    )
    assert response.status_code == 400
    response = client.patch(
        f"{API}/contacts/{contact.pk}/", {"title": "总经理"}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["title"] == "总经理"
    assert alpha.client("sales2").get(f"{API}/contacts/{contact.pk}/").status_code == 404
