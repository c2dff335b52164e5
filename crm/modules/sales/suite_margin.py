"""Suite rows for the margin report (see suite.py): ``make_rows(*, n, owner)`` bulk-creates ``n`` more
confirmed order lines (one contract each, with and without cost, some delivered). In the tenant schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.modules.core.public import Customer

from .models import Contract, ContractLine


def lines(*, n: int, owner: Any) -> None:
    start = Contract.objects.count()
    customer = Customer.objects.create(name=f"毛利套件客户{start}", owner=owner)
    now = timezone.now()
    contracts = Contract.objects.bulk_create(
        Contract(
            number=f"HT-MARGIN-{start + i:07d}",
            state="confirmed",
            kind="order",
            owner=owner,
            customer=customer,
            confirmed_at=now - timedelta(days=i % 400),
            total_incl=Decimal("1130.00"),
            total_excl=Decimal("1000.00"),
            total_tax=Decimal("130.00"),
        )
        for i in range(n)
    )
    ContractLine.objects.bulk_create(
        ContractLine(
            document=c,
            description="套件商品",
            quantity=Decimal("10"),
            unit_price_incl=Decimal("113"),
            amount_incl=Decimal("1130.00"),
            amount_excl=Decimal("1000.00"),
            amount_tax=Decimal("130.00"),
            unit_cost_excl=None if i % 5 == 0 else Decimal("70"),
            delivered_quantity=Decimal("5") if i % 2 else Decimal("0"),
            actual_cost_excl=Decimal("360.00") if i % 2 else None,
        )
        for i, c in enumerate(contracts)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "sales:margin": lines,
    "api-sales:margin": lines,
}
