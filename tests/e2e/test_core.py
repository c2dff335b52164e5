"""CRM core in a browser: a rep logs a visit and sees it on the dashboard; an admin hands over a departing
rep's customers (preview, then confirm)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, LiveServer, login, screenshot

pytestmark = pytest.mark.e2e

SETUP = """
import json
from django_tenants.utils import schema_context
from crm.modules.core import services
from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant
t = Tenant.objects.get(slug={slug!r})
with schema_context(t.schema_name):
    rep = User.objects.create_user({rep!r}, {pw!r}, name="张伟", role="sales")
    User.objects.create_user({admin!r}, {pw!r}, name="管理员", role="admin")
    User.objects.create_user({heir!r}, {pw!r}, name="李娜", role="sales")
    ids = [services.customer_create(actor=rep, name=n, phone=p).pk
           for n, p in (("上海明达科技有限公司", "13800000001"), ("杭州远大贸易有限公司", "13800000002"))]
print(json.dumps(ids))
"""
COUNT = """
from django_tenants.utils import schema_context
from crm.modules.core.models import Customer
from crm.tenants.models import Tenant
with schema_context(Tenant.objects.get(slug={slug!r}).schema_name):
    print(Customer.objects.filter(owner__email={email!r}).count())
"""


def _workspace(server: LiveServer, slug: str) -> tuple[dict[str, str], list[int]]:
    server.create_tenant(slug, ["retail"])
    emails = {k: f"{k}@{slug}.e2e.example.com" for k in ("rep", "admin", "heir")}
    out = server.manage("shell", "-c", SETUP.format(slug=slug, pw=PASSWORD, **emails))
    return emails, json.loads(out.strip().splitlines()[-1])


def _count(server: LiveServer, slug: str, email: str) -> int:
    out = server.manage("shell", "-c", COUNT.format(slug=slug, email=email))
    return int(out.strip().splitlines()[-1])  # the shell may print a banner line first


def test_rep_logs_a_visit_and_sees_it_on_the_dashboard(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"corevisit{viewport[0]}"
    emails, ids = _workspace(e2e_server, slug)
    login(page, e2e_server, slug, emails["rep"])

    # When the rep opens a customer from the list and logs a visit with a next step for today
    page.goto(e2e_server.tenant_url(slug, "/customers/"))
    page.get_by_role("link", name="上海明达科技有限公司").click()
    page.wait_for_url(e2e_server.tenant_url(slug, f"/customers/{ids[0]}/"))
    form = page.locator("[data-testid=activity-form]")
    form.locator("input[name=purpose]").fill("介绍新产品")
    form.locator("textarea[name=result]").fill("客户有兴趣，需要报价")
    form.locator("input[name=next_step]").fill("发送报价单")
    form.locator("input[name=next_step_date]").fill(date.today().isoformat())
    page.locator("[data-testid=log-activity]").click()
    page.wait_for_url(e2e_server.tenant_url(slug, f"/customers/{ids[0]}/"))
    assert "介绍新产品" in page.locator("[data-testid=activity]").first.inner_text()
    screenshot(page, "core-customer", viewport)

    # Then the dashboard shows the follow-up in "my week" and the next step among follow-ups due
    page.goto(e2e_server.tenant_url(slug, "/"))
    assert page.locator("[data-testid=my-week]").get_attribute("data-week-total") == "1"
    assert "发送报价单" in page.locator("[data-testid=due-followups]").inner_text()
    assert page.locator("#chart-week canvas").count() == 1  # ECharts drew, from the local static file
    screenshot(page, "core-dashboard", viewport)


def test_admin_hands_over_a_departing_reps_customers(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"corehand{viewport[0]}"
    emails, _ids = _workspace(e2e_server, slug)
    login(page, e2e_server, slug, emails["admin"])

    page.goto(e2e_server.tenant_url(slug, "/handover/"))
    page.locator("select[name=from_user]").select_option(label="张伟")
    page.get_by_label("李娜").check()
    page.locator("[data-testid=handover-preview-btn]").click()
    preview = page.locator("[data-testid=handover-preview]")
    assert "2" in preview.inner_text()  # two customers would move
    assert _count(e2e_server, slug, emails["rep"]) == 2  # the preview moved nothing
    screenshot(page, "core-handover-preview", viewport)
    page.locator("[data-testid=handover-confirm]").click()
    page.wait_for_url(e2e_server.tenant_url(slug, "/handover/"))
    assert _count(e2e_server, slug, emails["rep"]) == 0
    assert _count(e2e_server, slug, emails["heir"]) == 2
