"""Suite rows for the receivables routes (see suite.py): ``make_rows(*, n, owner)`` bulk-creates ``n`` more
rows the route lists. Runs inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from crm.modules.core.public import Customer

from .models import Contract, Installment, Receipt


def _contracts(n: int, owner: Any) -> list[Contract]:
    start = Contract.objects.count()
    customer = Customer.objects.create(name=f"回款套件客户{start}", owner=owner)
    return Contract.objects.bulk_create(
        Contract(
            number=f"HT-SUITE-{start + i:07d}",
            state="confirmed",
            owner=owner,
            customer=customer,
            total_incl=Decimal("1130.00"),
            total_excl=Decimal("1000.00"),
            total_tax=Decimal("130.00"),
        )
        for i in range(n)
    )


def installments(*, n: int, owner: Any) -> None:
    day = date(2026, 1, 1)
    Installment.objects.bulk_create(
        Installment(
            contract=c,
            customer_id=c.customer_id,
            owner=owner,
            position=1,
            due_date=day + timedelta(days=i % 300),
            amount=c.total_incl,
            contract_open=True,
        )
        for i, c in enumerate(_contracts(n, owner))
    )


def receipts(*, n: int, owner: Any) -> None:
    start = Receipt.objects.count()
    customer = Customer.objects.create(name=f"回款套件付款方{start}", owner=owner)
    Receipt.objects.bulk_create(
        Receipt(
            number=f"SK-SUITE-{start + i:07d}",
            customer=customer,
            owner=owner,
            recorded_by=owner,
            amount=Decimal("100.00"),
            received_on=date(2026, 1, 1) + timedelta(days=i % 300),
        )
        for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "sales:receivables_installments": installments,
    "api-sales:installment-list": installments,
    "sales:receipt_list": receipts,
    "api-sales:receipt-list": receipts,
}
