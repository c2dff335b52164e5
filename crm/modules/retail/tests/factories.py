"""Test data for the retail module: call inside the tenant's schema."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from crm.modules.retail.models import Member, PointsRule, Store, StoreClerk, Tier


@dataclass
class Shop:
    store: Store
    other_store: Store
    member: Member
    other: Member
    tiers: dict[str, Tier]
    rule: PointsRule


def make_shop(users: dict[str, Any], *, tiers: bool = True) -> Shop:
    """Two stores (the clerk works at the first), tiers 普通/银卡/金卡, 1 point per RMB rounded down, and two
    members."""
    store = Store.objects.create(name="春熙路店", code="S01", address="成都春熙路 1 号")
    other_store = Store.objects.create(name="太古里店", code="S02")
    StoreClerk.objects.create(store=store, user=users["clerk"])
    made: dict[str, Tier] = {}
    if tiers:
        made["base"] = Tier.objects.create(name="普通", rank=0, threshold=Decimal("0"))
        made["silver"] = Tier.objects.create(
            name="银卡",
            rank=1,
            threshold=Decimal("1000"),
            points_multiplier=Decimal("1.5"),
            discount_percent=Decimal("5"),
        )
        made["gold"] = Tier.objects.create(
            name="金卡", rank=2, threshold=Decimal("5000"), points_multiplier=Decimal("2")
        )
    rule, _created = PointsRule.objects.update_or_create(
        pk=1,
        defaults={
            "points_per_rmb": Decimal("1"),
            "rounding": "down",
            "expiry_months": 12,
            "redemption_value": Decimal("0.01"),
        },
    )
    member = Member.objects.create(name="张三", member_no="VIP0001", tier=made.get("base"), store=store)
    other = Member.objects.create(name="李四", member_no="VIP0002", tier=made.get("base"), store=store)
    return Shop(store=store, other_store=other_store, member=member, other=other, tiers=made, rule=rule)


def to_public() -> None:
    """Back to the public schema, where the test clients start their requests."""
    from django.db import connection

    connection.set_schema_to_public()  # type: ignore[attr-defined]
