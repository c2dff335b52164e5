"""Retail services on real tenant schemas: exact lookup, points, tiers, redemption, void, expiry."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.modules.retail import services
from crm.modules.retail.models import Member, PointsEntry, Sale, TierChange
from crm.platform.errors import PermissionDenied, ServiceError


def sell(actor, member, store, amount):
    return services.sale_record(actor=actor, member=member, store=store, amount=amount)


def refresh(member: Member) -> Member:
    return Member.objects.get(pk=member.pk)


@pytest.mark.parametrize(
    ("name", "member_no"),
    [
        ("张三", ""),  # name only
        ("", "VIP0001"),  # number only
        ("张", "VIP0001"),  # partial name
        ("张三", "VIP000"),  # partial number
        ("张三丰", "VIP0001"),  # extra characters in the name
        ("张三", "VIP00011"),  # extra characters in the number
        ("李四", "VIP0001"),  # another member's name with this number
        ("张三", "VIP0002"),  # this name with another member's number
        ("%", "VIP%"),  # LIKE wildcards are plain characters
    ],
)
def test_lookup_refuses_every_partial_variant(alpha, shop, name, member_no):
    assert services.member_lookup(actor=alpha.users["clerk"], name=name, member_no=member_no) is None


@pytest.mark.parametrize(
    ("name", "member_no"),
    [
        ("张三", "VIP0001"),
        ("  张三 ", " VIP0001  "),  # whitespace around
        ("张三", "ＶＩＰ０００１"),  # full-width letters and digits
        ("张三", "vip0001"),  # numbers are case-insensitive by design
        ("张三", "VIP 0001"),  # spaces inside a number typed from the card
        ("张三\u3000", "VIP0001"),  # ideographic space after the name
    ],
)
def test_lookup_normalises_whitespace_width_and_number_case(alpha, shop, name, member_no):
    found = services.member_lookup(actor=alpha.users["clerk"], name=name, member_no=member_no)
    assert found is not None and found.pk == shop.member.pk


def test_lookup_names_stay_case_sensitive(alpha, shop):
    Member.objects.create(name="Li Wei", member_no="VIP0100")
    clerk = alpha.users["clerk"]
    assert services.member_lookup(actor=clerk, name="Li  Wei", member_no="vip0100") is not None
    assert services.member_lookup(actor=clerk, name="li wei", member_no="VIP0100") is None


def test_lookup_needs_the_lookup_permission(alpha, shop):
    with pytest.raises(PermissionDenied):
        services.member_lookup(actor=alpha.users["sales"], name="张三", member_no="VIP0001")


def test_member_create_normalises_and_refuses_duplicates(alpha, shop):
    m = services.member_create(actor=alpha.users["manager"], name=" 王五 ", member_no="ｖｉｐ　0003")
    assert (m.name, m.member_no, m.tier) == ("王五", "VIP0003", shop.tiers["base"])
    with pytest.raises(ServiceError) as exc:
        services.member_create(actor=alpha.users["manager"], name="王六", member_no="vip0003")
    assert "member_no" in exc.value.fields
    with pytest.raises(PermissionDenied):
        services.member_create(actor=alpha.users["clerk"], name="赵七", member_no="VIP0009")


def test_points_round_down_or_half_up_and_follow_the_tier_multiplier(alpha, shop):
    clerk = alpha.users["clerk"]
    shop.rule.points_per_rmb = Decimal("1.5")
    shop.rule.save()
    # 99.99 × 1.5 = 149.985: down → 149
    assert (
        services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="99.99").points == 149
    )
    shop.rule.rounding = "half_up"
    shop.rule.save()
    # 99.99 × 1.5 = 149.985: half up → 150; 99.66 × 1.5 = 149.49 → 149
    assert (
        services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="99.99").points == 150
    )
    assert (
        services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="99.66").points == 149
    )
    # The silver tier earns 1.5×: 100 × 1.5 × 1.5 = 225
    Member.objects.filter(pk=shop.other.pk).update(tier=shop.tiers["silver"])
    assert services.sale_record(actor=clerk, member=shop.other, store=shop.store, amount="100").points == 225


def test_sale_updates_spend_and_upgrades_the_tier_with_a_reason(alpha, shop):
    clerk = alpha.users["clerk"]
    first = services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="600")
    assert first.tier_change is None and first.points == 600
    second = services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="500")
    # Points of the crossing sale use the tier held when it was rung up (base ×1); the next ones earn ×1.5.
    assert second.points == 500
    assert second.tier_change is not None and second.member.tier == shop.tiers["silver"]
    change = TierChange.objects.get(member=shop.member)
    assert change.from_tier == shop.tiers["base"] and change.to_tier == shop.tiers["silver"]
    assert change.sale == second.sale and "1100.00" in change.reason and "银卡" in change.reason
    third = services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="100")
    assert third.points == 150
    # A jump over several thresholds lands on the highest tier reached, in one recorded change.
    jump = services.sale_record(actor=clerk, member=shop.other, store=shop.store, amount="6000")
    assert jump.tier_change is not None and jump.tier_change.from_tier == shop.tiers["base"]
    assert jump.member.tier == shop.tiers["gold"]
    m = refresh(shop.member)
    assert m.total_spend == Decimal("1200.00") and m.points_balance == 1250 == services.ledger_sum(m)


def test_sale_from_catalogue_lines_sums_the_lines(alpha, shop):
    from crm.modules.core.public import Product

    tea = Product.objects.create(code="T1", name="龙井", price=Decimal("88.50"))
    result = services.sale_record(
        actor=alpha.users["clerk"],
        member=shop.member,
        store=shop.store,
        lines=[services.LineInput(product_id=tea.pk, quantity=Decimal("2"))],
    )
    assert result.sale.amount == Decimal("177.00") and result.points == 177
    assert list(result.sale.lines.values_list("description", "unit_price")) == [("龙井", Decimal("88.50"))]


@pytest.mark.parametrize("amount", ["0", "-5", "abc", None])
def test_bad_amount_changes_nothing(alpha, shop, amount):
    with pytest.raises(ServiceError):
        services.sale_record(actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount=amount)
    assert not Sale.objects.exists() and not PointsEntry.objects.exists()
    assert refresh(shop.member).points_balance == 0


def test_clerk_records_only_at_an_assigned_store(alpha, shop):
    with pytest.raises(PermissionDenied):
        services.sale_record(
            actor=alpha.users["clerk"], member=shop.member, store=shop.other_store, amount="10"
        )
    # A manager may record anywhere.
    services.sale_record(
        actor=alpha.users["manager"], member=shop.member, store=shop.other_store, amount="10"
    )


def test_expired_membership_refuses_a_sale(alpha, shop):
    Member.objects.filter(pk=shop.member.pk).update(valid_until=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ServiceError) as exc:
        services.sale_record(actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="10")
    assert exc.value.code == "member_expired" and not Sale.objects.exists()


def test_redeem_needs_confirmation_and_is_capped_by_the_balance(alpha, shop):
    clerk = alpha.users["clerk"]
    services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="300")
    with pytest.raises(ServiceError) as exc:
        services.points_redeem(actor=clerk, member=shop.member, points=100)
    assert exc.value.code == "confirmation_required"
    with pytest.raises(ServiceError) as exc:
        services.points_redeem(actor=clerk, member=shop.member, points=301, confirm=True)
    assert exc.value.code == "insufficient_points" and refresh(shop.member).points_balance == 300
    entry = services.points_redeem(actor=clerk, member=shop.member, points=120, confirm=True)
    assert entry.points == -120 and entry.kind == "redeem" and entry.created_by == clerk
    m = refresh(shop.member)
    assert m.points_balance == 180 == services.ledger_sum(m)


def test_void_reverses_points_and_spend_refuses_clerks_and_a_second_void(alpha, shop):
    clerk, manager = alpha.users["clerk"], alpha.users["manager"]
    keep = services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="50")
    sale = services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="200").sale
    with pytest.raises(PermissionDenied):
        services.sale_void(actor=clerk, sale=sale, reason="退货")
    with pytest.raises(ServiceError):
        services.sale_void(actor=manager, sale=sale, reason="  ")
    voided = services.sale_void(actor=manager, sale=sale, reason="退货")
    assert voided.voided_by == manager and voided.void_reason == "退货" and voided.voided_at
    m = refresh(shop.member)
    assert m.points_balance == keep.points == services.ledger_sum(m) == 50
    assert m.total_spend == Decimal("50.00")
    assert PointsEntry.objects.get(sale=sale, kind="void").points == -200
    with pytest.raises(ServiceError) as exc:
        services.sale_void(actor=manager, sale=sale, reason="again")
    assert exc.value.code == "already_void" and services.ledger_sum(m) == 50


def test_points_expire_oldest_first_and_only_once(alpha, shop):
    clerk = alpha.users["clerk"]
    services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="100")  # earns 100
    services.points_redeem(actor=clerk, member=shop.member, points=30, confirm=True)
    # Those 100 were earned over a year ago (rule: 12 months): due yesterday. 30 of them were spent.
    now = timezone.now()
    PointsEntry.objects.filter(kind="earn").update(expires_at=now - timedelta(days=1))
    services.sale_record(actor=clerk, member=shop.member, store=shop.store, amount="40")  # valid for a year
    assert services.points_expire(now=now - timedelta(days=2)) == 0  # nothing due yet then
    assert services.points_expire(now=now) == 70
    assert services.points_expire(now=now) == 0  # idempotent: a retry expires nothing more
    m = refresh(shop.member)
    assert m.points_balance == 40 == services.ledger_sum(m)
    assert PointsEntry.objects.filter(member=m, kind="expire").count() == 1
    # A year on, the 40 lapse too; the earlier expiry is not counted twice.
    assert services.points_expire(now=now + timedelta(days=400)) == 40
    assert refresh(shop.member).points_balance == 0


def test_expiry_skips_points_of_voided_sales(alpha, shop):
    sale = services.sale_record(
        actor=alpha.users["clerk"], member=shop.member, store=shop.store, amount="80"
    ).sale
    services.sale_void(actor=alpha.users["manager"], sale=sale, reason="退货")
    assert services.points_expire(now=timezone.now() + timedelta(days=400)) == 0
    assert refresh(shop.member).points_balance == 0


def test_setup_services_are_for_managers_only(alpha, shop):
    clerk, owner = alpha.users["clerk"], alpha.users["owner"]
    with pytest.raises(PermissionDenied):
        services.store_create(actor=clerk, name="X", code="X1")
    with pytest.raises(PermissionDenied):
        services.tier_create(actor=clerk, name="钻石", rank=9, threshold=Decimal("1"))
    with pytest.raises(ServiceError) as exc:
        services.tier_create(actor=owner, name="银卡", rank=1, threshold=Decimal("-1"))
    assert {"name", "rank", "threshold"} <= set(exc.value.fields)
    with pytest.raises(ServiceError):
        services.store_assign_clerk(actor=owner, store=shop.store, user=alpha.users["sales"])
    rule = services.points_rule_update(
        actor=owner,
        points_per_rmb=Decimal("2"),
        rounding="half_up",
        expiry_months=6,
        redemption_value=Decimal("0.1"),
    )
    assert (rule.points_per_rmb, rule.expiry_months) == (Decimal("2"), 6)


def test_months_later_clamps_to_month_end():
    start = timezone.now().replace(year=2025, month=1, day=31)
    assert services._months_later(start, 1).date().isoformat() == "2025-02-28"
    assert services._months_later(start, 12).date().isoformat() == "2026-01-31"
