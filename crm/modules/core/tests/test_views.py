"""HTML pages: permissions, constant queries on lists, quick visit logging, handover and pool flows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core.models import Activity, Customer, Product, Task

from .factories import customer, many_customers


def count_queries(client, url):
    client.get(url)  # warm per-tenant caches (enabled modules) so both measurements are alike
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx), response


@pytest.mark.parametrize("role", ["sales", "manager", "owner"])
def test_customer_list_constant_queries_10_and_500(alpha, role):
    client = alpha.client(role)
    with schema_context(alpha.schema):
        many_customers(alpha.users["sales"], 10)
    small, response = count_queries(client, "/customers/")
    assert response.content.decode().count('href="/customers/') >= 10
    with schema_context(alpha.schema):
        many_customers(alpha.users["sales"], 490, prefix="大客户")
    large, response = count_queries(client, "/customers/?tag=vip")
    assert response.content.decode().count("<tr>") == 1 + 25  # header + one full page (250 tagged vip)
    assert small == large, (small, large)
    print(role, "customer list queries:", small)
    assert small <= 12
    # Filtered htmx partial: same rule.
    hx, _ = count_queries(client, "/customers/?q=大客户&stage=lead")
    assert hx <= small + 1


def test_clerk_gets_403_on_customer_pages(alpha):
    client = alpha.client("clerk")
    for url in ("/customers/", "/customers/new/", "/tasks/", "/pool/", "/handover/"):
        assert client.get(url).status_code == 403, url
    # Home sends a clerk where they work: the retail member lookup (issue 10: each role lands where it works)
    home = client.get("/")
    assert home.status_code == 302 and home["Location"] == "/retail/"
    assert client.get("/products/").status_code == 200


def test_rep_cannot_open_a_colleagues_customer(alpha):
    with schema_context(alpha.schema):
        other = customer(alpha.users["sales2"], "乙公司")
        mine = customer(alpha.users["sales"], "甲公司")
    client = alpha.client("sales")
    assert client.get(f"/customers/{other.pk}/").status_code == 404
    assert client.get(f"/customers/{mine.pk}/").status_code == 200
    assert alpha.client("manager").get(f"/customers/{mine.pk}/").status_code == 200
    assert alpha.client("manager").get(f"/customers/{other.pk}/").status_code == 404
    assert alpha.client("owner").get(f"/customers/{other.pk}/").status_code == 200


def test_create_customer_warns_on_duplicate_then_allows(alpha):
    with schema_context(alpha.schema):
        customer(alpha.users["sales2"], "上海明达科技有限公司")
    client = alpha.client("sales")
    data = {
        "name": "上海明达科技",
        "kind": "company",
        "stage": "lead",
        "source": "web",
        "contact_name": "王总",
    }
    response = client.post("/customers/new/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="duplicates"' in body and "上海明达科技有限公司" in body
    # Not visible to this rep: named (so they can ask the owner) but not linked.
    with schema_context(alpha.schema):
        assert Customer.objects.count() == 1
    response = client.post("/customers/new/", {**data, "allow_duplicate": "1"})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        created = Customer.objects.get(name="上海明达科技")
        assert created.owner_id == alpha.users["sales"].pk and created.contacts.get().name == "王总"


def test_log_visit_creates_follow_up_task_and_shows_on_dashboard(alpha):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
    client = alpha.client("sales")
    page = client.get(f"/customers/{c.pk}/").content.decode()
    default_date = (timezone.localdate() + timedelta(days=7)).isoformat()
    assert f'value="{default_date}"' in page  # the next step is pre-filled a week ahead
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(
        f"/customers/{c.pk}/activities/",
        {
            "kind": "visit",
            "purpose": "拜访采购部",
            "result": "需要报价",
            "next_step": "发报价单",
            "next_step_date": tomorrow,
        },
    )
    assert response.status_code == 302
    with schema_context(alpha.schema):
        assert Activity.objects.get().purpose == "拜访采购部"
        assert Task.objects.get().title == "发报价单"
    home = client.get("/").content.decode()
    assert "发报价单" in home and 'data-week-total="1"' in home
    assert "/static/vendor/echarts.min.js" in home


def test_manager_dashboard_and_comment(alpha):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
        Task.objects.create(
            title="逾期回访",
            due_at=timezone.now() - timedelta(days=2),
            owner=alpha.users["sales"],
            customer=c,
        )
        a = Activity.objects.create(
            customer=c, author=alpha.users["sales"], result="x", occurred_at=timezone.now()
        )
    client = alpha.client("manager")
    home = client.get("/").content.decode()
    assert 'data-testid="overdue"' in home and "逾期回访" in home
    assert client.post(f"/activities/{a.pk}/comments/", {"body": "注意跟进"}).status_code == 302
    with schema_context(alpha.schema):
        assert a.comments.get().author_id == alpha.users["manager"].pk


def test_handover_page_preview_then_confirm(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        for i in range(3):
            customer(u["sales"], f"客户{i}")
    client = alpha.client("admin")
    form = {"from_user": u["sales"].pk, "to_users": [u["sales2"].pk]}
    preview = client.post("/handover/", form)
    assert 'data-testid="handover-preview"' in preview.content.decode()
    with schema_context(alpha.schema):
        assert Customer.objects.filter(owner=u["sales"]).count() == 3
    assert client.post("/handover/", {**form, "confirm": "1"}).status_code == 302
    with schema_context(alpha.schema):
        assert Customer.objects.filter(owner=u["sales2"]).count() == 3
    assert alpha.client("manager").get("/handover/").status_code == 403


def test_pool_page_claim(alpha):
    with schema_context(alpha.schema):
        c = customer(None, "公海客户", in_pool=True)
    client = alpha.client("sales")
    assert "公海客户" in client.get("/pool/").content.decode()
    assert client.post("/pool/", {"customer": c.pk}).status_code == 302
    with schema_context(alpha.schema):
        c.refresh_from_db()
        assert c.owner_id == alpha.users["sales"].pk


def test_products_page_refuses_duplicate_with_clear_error(alpha):
    client = alpha.client("manager")
    data = {"code": "A1", "name": "螺纹钢", "specification": "Φ12", "unit": "吨", "price": "4200"}
    assert client.post("/products/", data).status_code == 302
    response = client.post("/products/", data)
    assert response.status_code == 200 and 'class="errorlist' in response.content.decode()
    with schema_context(alpha.schema):
        assert Product.objects.count() == 1
    assert alpha.client("sales").post("/products/", {**data, "code": "B"}).status_code == 403


def test_task_done_via_htmx(alpha):
    with schema_context(alpha.schema):
        t = Task.objects.create(title="打电话", due_at=timezone.now(), owner=alpha.users["sales"])
    client = alpha.client("sales")
    response = client.post(f"/tasks/{t.pk}/done/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "<s>打电话</s>" in response.content.decode()
    assert alpha.client("sales2").post(f"/tasks/{t.pk}/done/").status_code == 403


def test_tenant_isolation_of_core_pages(alpha, beta):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "阿尔法客户")
    # Beta's owner sees all of beta, nothing of alpha.
    client = beta.client("owner")
    assert client.get(f"/customers/{c.pk}/").status_code == 404
    assert "阿尔法客户" not in client.get("/customers/").content.decode()


def test_custom_fields_defined_by_admin_appear_on_the_form(alpha):
    admin = alpha.client("admin")
    response = admin.post(
        "/pool/settings/",
        {
            "form": "field",
            "key": "industry",
            "label": "行业",
            "field_type": "choice",
            "choices": "钢铁，化工",
        },
    )
    assert response.status_code == 302
    rep = alpha.client("sales")
    form = rep.get("/customers/new/").content.decode()
    assert 'name="cf_industry"' in form and "化工" in form
    response = rep.post(
        "/customers/new/",
        {"name": "丁公司", "kind": "company", "stage": "lead", "source": "web", "cf_industry": "化工"},
    )
    assert response.status_code == 302
    with schema_context(alpha.schema):
        c = Customer.objects.get(name="丁公司")
        assert c.custom_fields == {"industry": "化工"}
    # Admins see the change history of a customer; reps do not.
    rep.post(
        f"/customers/{c.pk}/edit/",
        {"name": "丁公司", "kind": "company", "stage": "prospect", "source": "web", "cf_industry": "钢铁"},
    )
    with schema_context(alpha.schema):
        c.refresh_from_db()
        assert (c.stage, c.custom_fields) == ("prospect", {"industry": "钢铁"})
    page = admin.get(f"/customers/{c.pk}/").content.decode()
    assert 'data-testid="history"' in page and "<title>丁公司</title>" in page
    assert 'data-testid="history"' not in rep.get(f"/customers/{c.pk}/").content.decode()
    assert alpha.client("sales").get("/pool/settings/").status_code == 403


def test_admin_assigns_from_the_pool_page(alpha):
    with schema_context(alpha.schema):
        c = customer(None, "公海客户", in_pool=True)
    admin = alpha.client("admin")
    assert 'name="owner"' in admin.get("/pool/").content.decode()
    response = admin.post(f"/customers/{c.pk}/assign/", {"owner": alpha.users["sales"].pk, "next": "pool"})
    assert response.status_code == 302 and response["Location"].endswith("/pool/")
    with schema_context(alpha.schema):
        c.refresh_from_db()
        assert c.owner_id == alpha.users["sales"].pk
    assert alpha.client("sales").post(f"/customers/{c.pk}/assign/", {"owner": 1}).status_code == 403


def test_detail_offers_to_merge_a_duplicate(alpha):
    with schema_context(alpha.schema):
        keep = customer(alpha.users["sales"], "明达科技有限公司", phone="13800000000")
        dup = customer(alpha.users["sales"], "明达科技", phone="")
        Activity.objects.create(
            customer=dup, author=alpha.users["sales"], result="x", occurred_at=timezone.now()
        )
        other = customer(alpha.users["sales2"], "明达科技（别人的）", phone="13800000000")
    client = alpha.client("sales")
    page = client.get(f"/customers/{keep.pk}/").content.decode()
    assert 'data-testid="merge-candidates"' in page and f'value="{dup.pk}"' in page
    assert f'value="{other.pk}"' not in page  # not the rep's to merge
    assert client.post(f"/customers/{keep.pk}/merge/", {"source": dup.pk}).status_code == 302
    with schema_context(alpha.schema):
        assert not Customer.objects.filter(pk=dup.pk).exists() and keep.activities.count() == 1


def test_add_task_from_customer_page_returns_there_and_refuses_foreign_redirects(alpha):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
    client = alpha.client("sales")
    today = timezone.localdate().isoformat()
    data = {"title": "寄样品", "due_date": today, "customer": c.pk, "next": f"/customers/{c.pk}/"}
    response = client.post("/tasks/", data)
    assert response["Location"] == f"/customers/{c.pk}/"
    response = client.post("/tasks/", {**data, "title": "再寄", "next": "https://evil.example.com/"})
    assert response["Location"] == "/tasks/"
    with schema_context(alpha.schema):
        assert list(Task.objects.filter(customer=c).values_list("title", flat=True).order_by("id")) == [
            "寄样品",
            "再寄",
        ]
