"""Managers' reminders (memberships and points lapsing soon) and per-store/clerk/day/tier results."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.retail import selectors, services
from crm.modules.retail.models import Member, PointsEntry
from crm.platform.errors import PermissionDenied

from .factories import make_shop, to_public


def test_points_expiring_counts_what_is_left_after_redemptions(alpha, shop):
    clerk, manager = alpha.users["clerk"], alpha.users["manager"]
    now = timezone.now()
    services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="100")
    services.points_redeem(actor=clerk, member=shop.member, points=40, confirm=True)
    services.sale_record(actor=clerk, member=shop.other, store=shop.store, amount="70")
    # The member's 100 lapse in 10 days (40 already spent: 60 at risk); the other's in 90 days.
    PointsEntry.objects.filter(member=shop.member, kind="earn").update(expires_at=now + timedelta(days=10))
    PointsEntry.objects.filter(member=shop.other, kind="earn").update(expires_at=now + timedelta(days=90))
    rows = selectors.points_expiring(actor=manager, within_days=30, now=now)
    assert [(r["member"].pk, r["points"]) for r in rows] == [(shop.member.pk, 60)]
    assert len(selectors.points_expiring(actor=manager, within_days=120, now=now)) == 2
    with pytest.raises(PermissionDenied):
        selectors.points_expiring(actor=clerk)


def test_memberships_expiring_window(alpha, shop):
    today = timezone.localdate()
    Member.objects.filter(pk=shop.member.pk).update(valid_until=today + timedelta(days=5))
    Member.objects.filter(pk=shop.other.pk).update(valid_until=today + timedelta(days=50))
    assert list(selectors.memberships_expiring(actor=alpha.users["owner"], within_days=30)) == [
        Member.objects.get(pk=shop.member.pk)
    ]


def test_results_by_store_clerk_day_tier_and_repeat_rate(alpha, shop):
    clerk, manager = alpha.users["clerk"], alpha.users["manager"]
    services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="100")
    services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="50")
    services.sale_record(actor=manager, member=shop.other, store=shop.other_store, amount="30")
    voided = services.sale_record(actor=manager, member=shop.other, store=shop.other_store, amount="500")
    services.sale_void(actor=manager, sale=voided.sale, reason="录错")
    r = selectors.results(actor=manager, days=30)
    stores = {row["store__name"]: (row["count"], row["total"]) for row in r["by_store"]}
    assert stores == {"春熙路店": (2, Decimal("150.00")), "太古里店": (1, Decimal("30.00"))}
    clerks = {row["clerk__name"]: row["total"] for row in r["by_clerk"]}
    assert clerks == {clerk.name: Decimal("150.00"), manager.name: Decimal("30.00")}
    assert [row["total"] for row in r["by_day"]] == [Decimal("180.00")]
    assert {row["tier__name"] for row in r["by_tier"]} == {"普通"}
    assert (r["new_members"], r["active_members"], r["repeat_rate"]) == (2, 2, 50.0)


@pytest.mark.parametrize("path", ["/retail/reminders/", "/retail/results/"])
def test_report_pages_for_managers_only_and_constant_queries(alpha, path):
    with schema_context(alpha.schema):
        shop = make_shop(alpha.users)
        services.sale_record(actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="10")
    to_public()
    assert alpha.client("clerk").get(path).status_code == 403
    client = alpha.client("manager")
    client.get(path)
    with CaptureQueriesContext(connection) as small:
        assert client.get(path).status_code == 200
    with schema_context(alpha.schema):
        soon = timezone.localdate() + timedelta(days=3)
        members = Member.objects.bulk_create(
            Member(name=f"会员{i}", member_no=f"R{i:04d}", valid_until=soon, tier=shop.tiers["base"])
            for i in range(30)
        )
        for m in members[:10]:
            services.sale_record(actor=alpha.users["clerk"], member=m, store=shop.store, amount="20")
    to_public()
    with CaptureQueriesContext(connection) as large:
        html = client.get(path).content.decode()
    if "reminders" in path:
        assert "R0001" in html and "R0029" in html  # all 30 memberships lapse in 3 days
    else:
        assert "<td>春熙路店</td><td>11</td><td>¥210.00</td>" in html  # money the Chinese way (¥, separators)
    assert len(small) == len(large), (len(small), len(large))


def test_report_api_for_managers_only(alpha):
    with schema_context(alpha.schema):
        shop = make_shop(alpha.users)
        services.sale_record(actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="12.50")
        Member.objects.filter(pk=shop.other.pk).update(valid_until=timezone.localdate() + timedelta(days=2))
    to_public()
    for path in ("/api/v1/retail/results/", "/api/v1/retail/expiring/"):
        assert alpha.client("clerk").get(path).status_code == 403
    results = alpha.client("owner").get("/api/v1/retail/results/?days=7").json()
    assert results["by_store"] == [{"store__name": "春熙路店", "count": 1, "total": "12.50"}]
    expiring = alpha.client("manager").get("/api/v1/retail/expiring/").json()
    assert [m["member_no"] for m in expiring["memberships"]] == ["VIP0002"] and expiring["points"] == []


def test_results_by_tier_use_the_tier_at_the_time_of_sale(alpha, shop):
    # Given a sale by a base-tier member
    manager = alpha.users["manager"]
    first = services.sale_record(actor=manager, member=shop.member, store=shop.store, amount="200")
    assert first.sale.tier == shop.tiers["base"]
    # When a big purchase upgrades the member to gold (that sale was made at base tier too) and they buy again
    upgrade = services.sale_record(actor=manager, member=shop.member, store=shop.store, amount="6000")
    assert upgrade.member.tier == shop.tiers["gold"] and upgrade.sale.tier == shop.tiers["base"]
    services.sale_record(actor=manager, member=shop.member, store=shop.store, amount="100")
    # Then the earlier sales stay under the old tier, the later one is under gold
    by_tier = {
        row["tier__name"]: (row["count"], row["total"]) for row in selectors.results(actor=manager)["by_tier"]
    }
    assert by_tier == {"普通": (2, Decimal("6200.00")), "金卡": (1, Decimal("100.00"))}


def test_migration_backfills_sales_with_the_members_current_tier(alpha, shop):
    import importlib

    from django.apps import apps

    from crm.modules.retail.models import Sale

    sale = services.sale_record(
        actor=alpha.users["manager"], member=shop.member, store=shop.store, amount="5"
    )
    Member.objects.filter(pk=shop.member.pk).update(tier=shop.tiers["silver"])
    Sale.objects.filter(pk=sale.sale.pk).update(tier=None)  # as before the migration
    importlib.import_module("crm.modules.retail.migrations.0003_sale_tier").backfill(apps, None)
    assert Sale.objects.get(pk=sale.sale.pk).tier == shop.tiers["silver"]
