"""Rows for the retail list routes, for the generic module suite (see crm/modules/core/suite.py):
``make_rows(*, n, owner)`` bulk-creates ``n`` more rows the route lists. Runs inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .models import Member, Store, StoreClerk, Tier


def _tier() -> Tier:
    tier, _created = Tier.objects.get_or_create(
        rank=90, defaults={"name": "套件卡", "threshold": Decimal("0")}
    )
    return tier


def members(*, n: int, owner: Any) -> None:
    start, tier = Member.objects.count(), _tier()
    Member.objects.bulk_create(
        Member(name=f"会员{start + i}", member_no=f"SUITE{start + i:07d}", tier=tier) for i in range(n)
    )


def stores(*, n: int, owner: Any) -> None:
    start = Store.objects.count()
    made = Store.objects.bulk_create(
        Store(name=f"门店{start + i}", code=f"SU{start + i:05d}") for i in range(n)
    )
    # Each store with a clerk: the list shows who works where.
    StoreClerk.objects.bulk_create(StoreClerk(store=s, user=owner) for s in made)


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "retail:member_list": members,
    "api-retail:member-list": members,
    "retail:store_list": stores,
}
