"""Membership renewal: validity extended by the tier's or the default period and recorded; managers only;
optional downgrade at renewal on the last period's spend or points, with the reason recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.retail import services
from crm.modules.retail.models import Member, Renewal, Sale, Tier, TierChange
from crm.platform.errors import PermissionDenied

from .factories import make_shop, to_public

API = "/api/v1/retail"


def refresh(member: Member) -> Member:
    return Member.objects.select_related("tier").get(pk=member.pk)


def set_rule(**fields):
    rule = services.points_rule_get()
    for key, value in fields.items():
        setattr(rule, key, value)
    rule.save()


def sell(shop, alpha, amount, *, days_ago: int = 0):
    result = services.sale_record(
        actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount=amount
    )
    if days_ago:
        Sale.objects.filter(pk=result.sale.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return result


def test_renewal_extends_from_the_current_expiry_by_the_default_period_and_is_recorded(alpha, shop):
    # Given a member valid for 10 more days and the tenant default of 12 months
    today = timezone.localdate()
    Member.objects.filter(pk=shop.member.pk).update(valid_until=today + timedelta(days=10))
    manager = alpha.users["manager"]
    # When a manager renews
    result = services.member_renew(actor=manager, member=refresh(shop.member))
    # Then validity runs 12 months past the old expiry, and the renewal says who, when, from and to
    start = today + timedelta(days=10)
    assert refresh(shop.member).valid_until == result.renewal.valid_until
    assert (result.renewal.valid_until.year, result.renewal.valid_until.month) == (
        start.year + 1,
        start.month,
    )
    renewal = Renewal.objects.get(member=shop.member)
    assert renewal.renewed_by == manager and renewal.previous_valid_until == start and renewal.months == 12
    assert renewal.created_at is not None and renewal.tier_change is None


def test_lapsed_membership_renews_from_today_by_the_tiers_period(alpha, shop):
    Tier.objects.filter(pk=shop.tiers["base"].pk).update(validity_months=6)
    Member.objects.filter(pk=shop.member.pk).update(valid_until=timezone.localdate() - timedelta(days=30))
    result = services.member_renew(actor=alpha.users["owner"], member=refresh(shop.member))
    today = timezone.localdate()
    expected_month = (today.month + 5) % 12 + 1
    assert result.renewal.months == 6 and result.renewal.valid_until.month == expected_month
    assert result.renewal.valid_until > today
    # An expired member could not buy; after renewal the sale goes through.
    assert sell(shop, alpha, "10").points == 10


@pytest.mark.parametrize("role", ["clerk", "sales", "finance"])
def test_only_managers_renew(alpha, shop, role):
    with pytest.raises(PermissionDenied):
        services.member_renew(actor=alpha.users[role], member=shop.member)
    assert refresh(shop.member).valid_until is None and not Renewal.objects.exists()


def test_downgrade_off_keeps_the_tier(alpha, shop):
    # Given a gold member (lifetime spend 6000, all of it two years ago) and downgrade switched off
    sell(shop, alpha, "6000", days_ago=730)
    assert refresh(shop.member).tier == shop.tiers["gold"]
    result = services.member_renew(actor=alpha.users["manager"], member=refresh(shop.member))
    assert result.tier_change is None and refresh(shop.member).tier == shop.tiers["gold"]


def test_downgrade_on_moves_to_the_tier_the_last_period_meets_and_records_why(alpha, shop):
    # Given a gold member whose 6000 were spent two years ago and 1200 in the last 12 months
    set_rule(downgrade_at_renewal=True)
    sell(shop, alpha, "6000", days_ago=730)
    sell(shop, alpha, "1200", days_ago=30)
    assert refresh(shop.member).tier == shop.tiers["gold"]
    # When a manager renews
    result = services.member_renew(actor=alpha.users["manager"], member=refresh(shop.member))
    # Then the member is silver (1200 meets silver's 1000, not gold's 5000), and the reason says so
    member = refresh(shop.member)
    assert member.tier == shop.tiers["silver"]
    change = TierChange.objects.get(member=member, to_tier=shop.tiers["silver"])
    assert change.from_tier == shop.tiers["gold"] and result.renewal.tier_change == change
    assert "1200" in change.reason and "12" in change.reason and "5000" in change.reason
    # And the next small sale does not lift them straight back to gold on the old lifetime spend
    again = sell(shop, alpha, "10")
    assert again.tier_change is None and refresh(shop.member).tier == shop.tiers["silver"]


def test_downgrade_counts_no_voided_sales_and_never_upgrades(alpha, shop):
    set_rule(downgrade_at_renewal=True)
    old = sell(shop, alpha, "6000", days_ago=730)
    recent = sell(shop, alpha, "1500", days_ago=10)
    services.sale_void(actor=alpha.users["manager"], sale=recent.sale, reason="退货")
    assert old.member.tier == shop.tiers["gold"]
    services.member_renew(actor=alpha.users["manager"], member=refresh(shop.member))
    assert refresh(shop.member).tier == shop.tiers["base"]  # nothing left in the period: lowest tier
    # A base member with little spend stays base (renewal never moves anyone up).
    other = services.member_renew(actor=alpha.users["manager"], member=shop.other)
    assert other.tier_change is None and refresh(shop.other).tier == shop.tiers["base"]


@pytest.fixture
def public_shop(alpha):
    with schema_context(alpha.schema):
        made = make_shop(alpha.users)
    to_public()
    return made


def test_api_renew_for_managers_403_for_clerks(alpha, public_shop):
    clerk = alpha.client("clerk")
    found = clerk.post(
        f"{API}/lookup/", {"name": "张三", "member_no": "VIP0001"}, content_type="application/json"
    )
    assert found.status_code == 200
    assert clerk.post(f"{API}/members/{public_shop.member.pk}/renew/").status_code == 403
    response = alpha.client("manager").post(f"{API}/members/{public_shop.member.pk}/renew/")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["months"] == 12 and body["renewed_by"] == alpha.users["manager"].pk
    with schema_context(alpha.schema):
        assert str(refresh(public_shop.member).valid_until) == body["valid_until"]
        assert Renewal.objects.filter(member=public_shop.member).count() == 1


def test_card_renew_button_for_managers_only(alpha, public_shop):
    clerk = alpha.client("clerk")
    clerk.post("/retail/", {"name": "张三", "member_no": "VIP0001"})
    card = clerk.get(f"/retail/members/{public_shop.member.pk}/").content.decode()
    assert 'data-testid="renew"' not in card
    assert clerk.post(f"/retail/members/{public_shop.member.pk}/renew/").status_code == 403
    manager = alpha.client("manager")
    response = manager.post(f"/retail/members/{public_shop.member.pk}/renew/")
    assert response.status_code == 302
    page = manager.get(response.url).content.decode()
    assert 'data-testid="renew"' in page and 'data-testid="renewals-table"' in page
    assert alpha.users["manager"].name in page
