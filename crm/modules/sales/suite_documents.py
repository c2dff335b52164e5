"""Suite rows for the documents routes (see suite.py)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from crm.modules.core.public import Customer

from .models import Contract, Installment, Quote


def _customer(owner: Any) -> Customer:
    found = Customer.objects.filter(name="套件客户").first()
    return found or Customer.objects.create(name="套件客户", owner=owner)


def quotes(*, n: int, owner: Any) -> None:
    customer, start = _customer(owner), Quote.objects.count()
    Quote.objects.bulk_create(
        Quote(
            number=f"BJS-{start + i:07d}",
            state="draft",
            owner=owner,
            customer=customer,
            total_incl=Decimal("113.00"),
        )
        for i in range(n)
    )


def contracts(*, n: int, owner: Any) -> None:
    from datetime import date

    customer, start = _customer(owner), Contract.objects.count()
    made = Contract.objects.bulk_create(
        Contract(
            number=f"HTS-{start + i:07d}",
            state="confirmed",
            owner=owner,
            customer=customer,
            total_incl=Decimal("113.00"),
        )
        for i in range(n)
    )
    # Some overdue: the list's overdue flag is a subquery, not a query per row.
    Installment.objects.bulk_create(
        Installment(
            contract=c,
            customer=customer,
            owner=owner,
            due_date=date(2020, 1, 1),
            amount=Decimal("113.00"),
            contract_open=True,
        )
        for c in made[::2]
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "sales:quote_list": quotes,
    "api-sales:quote-list": quotes,
    "sales:contract_list": contracts,
    "api-sales:contract-list": contracts,
}
