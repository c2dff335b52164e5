"""Demo data for the retail module: two stores with the tenant's clerks, tiers 普通/银卡/金卡, a points rule
and a few thousand members with a year of purchases (ledger, balances, spend and tier changes consistent).
Fast (bulk inserts) and idempotent (a second run finds the demo stores and does nothing)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from .models import Member, PointsEntry, PointsRule, Sale, Store, StoreClerk, Tier, TierChange

STORES = [
    ("CD01", "春熙路旗舰店", "成都市锦江区春熙路 8 号"),
    ("CD02", "太古里店", "成都市锦江区中纱帽街 8 号"),
]
TIERS = [  # name, rank, spend threshold, discount %, points multiplier
    ("普通", 0, "0", "0", "1"),
    ("银卡", 1, "1500", "5", "1.2"),
    ("金卡", 2, "4000", "10", "1.5"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚华玉萍红玲燕鹏辉建雪婷宇欣晨浩悦")
MEMBERS = 3000
EXPIRY_MONTHS = 24


def seed(tenant: Any) -> None:
    with schema_context(tenant.schema_name):
        if Store.objects.filter(code=STORES[0][0]).exists():
            return
        _seed(random.Random(tenant.schema_name))


@transaction.atomic
def _seed(rng: random.Random) -> None:
    now = timezone.now()
    stores = [Store.objects.create(code=c, name=n, address=a) for c, n, a in STORES]
    clerks = list(User.objects.filter(role=Role.CLERK, is_active=True).order_by("id"))
    StoreClerk.objects.bulk_create(
        [StoreClerk(store=stores[i % len(stores)], user=c) for i, c in enumerate(clerks)],
        ignore_conflicts=True,
    )
    cashier = (
        clerks[0]
        if clerks
        else User.objects.filter(is_active=True, role__in=[Role.MANAGER, Role.OWNER]).first()
    )
    if cashier is None:
        return
    tiers = []
    for name, rank, threshold, discount, times in TIERS:
        tier, _created = Tier.objects.get_or_create(
            rank=rank,
            defaults={
                "name": name,
                "threshold": Decimal(threshold),
                "discount_percent": Decimal(discount),
                "points_multiplier": Decimal(times),
            },
        )
        tiers.append(tier)
    PointsRule.objects.update_or_create(
        pk=1, defaults={"points_per_rmb": Decimal("1"), "expiry_months": EXPIRY_MONTHS}
    )

    members = []
    for i in range(MEMBERS):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
        members.append(
            Member(
                name=name,
                member_no=f"VIP{100001 + i}",
                phone=f"13{rng.randint(0, 999999999):09d}",
                birthday=(now - timedelta(days=rng.randint(18 * 365, 65 * 365))).date(),
                valid_until=(now + timedelta(days=rng.randint(10, 720))).date(),
                store=stores[i % len(stores)],
                tier=tiers[0],
                opt_out_sms=rng.random() < 0.05,
            )
        )
    Member.objects.bulk_create(members, batch_size=1000)

    # A year of purchases per member, oldest first, so tier changes happen in order.
    sales: list[Sale] = []
    stamps: list[Any] = []
    for m in members:
        count = rng.choice([0, 1, 2, 3, 4, 6, 12])  # a few regulars buy about monthly
        for days_ago in sorted((rng.randint(0, 365) for _ in range(count)), reverse=True):
            amount = Decimal(rng.randint(2000, 120000)) / 100
            sales.append(Sale(member=m, store=rng.choice(stores), clerk=cashier, amount=amount))
            stamps.append(now - timedelta(days=days_ago, minutes=rng.randint(0, 600)))
    entries: list[PointsEntry] = []
    changes: list[tuple[Member, Tier, Tier, Sale, str]] = []
    for sale in sales:
        m = sale.member
        multiplier = m.tier.points_multiplier if m.tier else Decimal("1")
        sale.tier = m.tier  # the tier at the time of sale, before any upgrade it causes
        sale.points = int((sale.amount * multiplier).quantize(Decimal("1"), rounding=ROUND_DOWN))
        m.total_spend += sale.amount
        m.points_balance += sale.points
        for tier in reversed(tiers):
            if m.tier and tier.rank > m.tier.rank and m.total_spend >= tier.threshold:
                reason = f"累计消费 {m.total_spend} 达到{tier.name}门槛 {tier.threshold}"
                changes.append((m, m.tier, tier, sale, reason))
                m.tier = tier
                break
    Sale.objects.bulk_create(sales, batch_size=2000)
    for sale in sales:
        entries.append(
            PointsEntry(member=sale.member, sale=sale, kind=PointsEntry.Kind.EARN, points=sale.points)
        )
    # Some members have spent points on gifts.
    for m in members:
        if m.points_balance >= 500 and rng.random() < 0.2:
            entries.append(
                PointsEntry(member=m, kind=PointsEntry.Kind.REDEEM, points=-300, created_by=cashier)
            )
            m.points_balance -= 300
    PointsEntry.objects.bulk_create(entries, batch_size=2000)
    TierChange.objects.bulk_create(
        [TierChange(member=m, from_tier=a, to_tier=b, sale=s, reason=r) for m, a, b, s, r in changes]
    )
    Member.objects.bulk_update(members, ["total_spend", "points_balance", "tier"], batch_size=1000)
    # auto_now_add stamps every row "now": move sales and their points back to when they happened.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE retail_sale s SET created_at = v.ts, updated_at = v.ts "
            "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, ts) WHERE s.id = v.id",
            [[s.pk for s in sales], stamps],
        )
        cursor.execute(
            "UPDATE retail_pointsentry p SET created_at = s.created_at, updated_at = s.created_at, "
            "expires_at = s.created_at + %s * interval '1 month' FROM retail_sale s WHERE p.sale_id = s.id",
            [EXPIRY_MONTHS],
        )
