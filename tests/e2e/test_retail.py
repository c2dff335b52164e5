"""Retail in a browser: a clerk at the counter finds a member by exact name and number, records a sale and
sees the points balance move; a partial lookup shows only the no-match message; an owner renews a
membership from the member card."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, LiveServer, login, screenshot

pytestmark = pytest.mark.e2e

# Set up through the services, as an owner would through the pages: two stores (the clerk works at the
# first), tiers, a points rule of 1 point per RMB rounded down, one member.
SETUP = """
import json
from decimal import Decimal
from django_tenants.utils import schema_context
from crm.modules.retail import services
from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant
t = Tenant.objects.get(slug={slug!r})
with schema_context(t.schema_name):
    owner = User.objects.get(email={owner!r})
    clerk = User.objects.create_user({clerk!r}, {pw!r}, name="王店员", role="clerk")
    store = services.store_create(actor=owner, name="春熙路店", code="S01")
    services.store_create(actor=owner, name="太古里店", code="S02")
    services.store_assign_clerk(actor=owner, store=store, user=clerk)
    services.tier_create(actor=owner, name="普通", rank=0, threshold=Decimal("0"))
    services.tier_create(actor=owner, name="银卡", rank=1, threshold=Decimal("1000"),
                         points_multiplier=Decimal("1.5"), discount_percent=Decimal("5"))
    services.points_rule_update(actor=owner, points_per_rmb=Decimal("1"), rounding="down", expiry_months=12,
                                redemption_value=Decimal("0.01"))
    member = services.member_create(actor=owner, name="张三", member_no="VIP0001", phone="13800000001")
    print(json.dumps({{"member": member.pk}}))
"""
BALANCE = """
from django_tenants.utils import schema_context
from crm.modules.retail import services
from crm.modules.retail.models import Member
from crm.tenants.models import Tenant
with schema_context(Tenant.objects.get(slug={slug!r}).schema_name):
    m = Member.objects.get(pk={pk})
    print(m.points_balance, services.ledger_sum(m))
"""


def _shop(server: LiveServer, slug: str) -> tuple[str, str, int]:
    owner = server.create_tenant(slug, ["retail"])
    clerk = f"clerk@{slug}.e2e.example.com"
    out = server.manage("shell", "-c", SETUP.format(slug=slug, owner=owner, clerk=clerk, pw=PASSWORD))
    return owner, clerk, int(json.loads(out.strip().splitlines()[-1])["member"])


def _lookup(page: Any, name: str, member_no: str) -> None:
    form = page.locator("[data-testid=lookup-form]")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=member_no]").fill(member_no)
    form.locator("button").click()
    page.wait_for_load_state()


def test_clerk_finds_a_member_records_a_sale_and_sees_the_points_change(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"retailclerk{viewport[0]}"
    _owner, clerk, member_id = _shop(e2e_server, slug)
    login(page, e2e_server, slug, clerk)

    # A partial number finds nothing and says only that nothing matched.
    page.goto(e2e_server.tenant_url(slug, "/retail/"))
    _lookup(page, "张三", "VIP000")
    miss = page.locator("[data-testid=lookup-miss]")
    assert miss.is_visible() and "No member matches" in miss.inner_text()
    assert page.locator("[data-testid=member-card]").count() == 0
    screenshot(page, "retail-lookup-miss", viewport)

    # The exact name and number (typed in lower case with a space, as from a card) open the member card.
    _lookup(page, "张三", "vip 0001")
    page.wait_for_url(e2e_server.tenant_url(slug, f"/retail/members/{member_id}/"))
    assert page.locator("[data-testid=points-balance]").inner_text() == "0"
    assert page.locator("[data-testid=member-tier]").inner_text() == "普通"
    screenshot(page, "retail-card", viewport)

    # The clerk records a sale of 128.80 at their store: 128 points (1 per RMB, rounded down).
    form = page.locator("[data-testid=sale-form]")
    assert form.locator("select[name=store] option:checked").inner_text() == "春熙路店"  # their only store
    form.locator("input[name=amount]").fill("128.80")
    form.locator("button").click()
    page.wait_for_url(e2e_server.tenant_url(slug, f"/retail/members/{member_id}/"))
    assert page.locator("[data-testid=points-balance]").inner_text() == "128"
    assert "+128 points" in page.locator("body").inner_text()
    assert "128.80" in page.locator("[data-testid=sales-table]").inner_text()
    screenshot(page, "retail-sale-recorded", viewport)

    # The server's ledger agrees with what the page shows.
    out = e2e_server.manage("shell", "-c", BALANCE.format(slug=slug, pk=member_id))
    assert out.strip().splitlines()[-1] == "128 128"


def test_owner_renews_a_membership_from_the_card(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"retailrenew{viewport[0]}"
    owner, _clerk, member_id = _shop(e2e_server, slug)
    login(page, e2e_server, slug, owner)
    page.goto(e2e_server.tenant_url(slug, f"/retail/members/{member_id}/"))
    assert page.locator("[data-testid=valid-until]").inner_text() == "No expiry"
    page.locator("[data-testid=renew]").click()
    page.wait_for_url(e2e_server.tenant_url(slug, f"/retail/members/{member_id}/"))
    # The default validity is 12 months from today (no expiry before); the renewal is listed with who.
    until = page.locator("[data-testid=valid-until]").inner_text()
    assert until != "No expiry" and f"Membership renewed until {until}." in page.locator("body").inner_text()
    assert f"{slug} owner" in page.locator("[data-testid=renewals-table]").inner_text()
    screenshot(page, "retail-renewed", viewport)


def test_owner_imports_members_through_the_shared_import(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]], tmp_path: Any
) -> None:
    slug = f"retailimport{viewport[0]}"
    owner, _clerk, _member_id = _shop(e2e_server, slug)
    login(page, e2e_server, slug, owner)
    csv_file = tmp_path / "会员.csv"
    csv_file.write_bytes(
        "姓名,会员号,手机,积分,会员等级\n王芳,VIP9001,13900000001,1200,银卡\n".encode("gb18030")
    )

    # The members page links into the shared import with "members" chosen.
    page.goto(e2e_server.tenant_url(slug, "/retail/members/"))
    page.locator("[data-testid=member-import]").click()
    page.wait_for_url(e2e_server.tenant_url(slug, "/import/?kind=members"))
    assert page.locator("select[name=kind] option:checked").get_attribute("value") == "members"
    page.locator("input[name=file]").set_input_files(str(csv_file))
    page.locator("form:has(input[name=file]) button").click()
    # The preview guessed every column from the Chinese headers; the run (eager here) imports the row.
    mapping = page.locator("[data-testid=import-mapping]")
    mapping.wait_for()
    assert mapping.locator("select[name=col_4] option:checked").get_attribute("value") == "tier"
    screenshot(page, "retail-import-mapping", viewport)
    page.locator("[data-testid=import-run]").click()
    page.locator("[data-testid=import-done]").wait_for()
    assert "1 created, 0 updated" in page.locator("[data-testid=import-done]").inner_text()

    page.goto(e2e_server.tenant_url(slug, "/retail/members/"))
    table = page.locator("[data-testid=member-table]").inner_text()
    assert "VIP9001" in table and "银卡" in table and "1200" in table
