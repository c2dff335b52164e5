"""Suite rows for the money routes (see suite.py): fapiao, invoicing requests, targets."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from crm.kernel.documents import LineData, document_create
from crm.modules.core.public import Customer

from .models import Contract, Fapiao, InvoiceRequest, Target


def _contract(owner: Any) -> Contract:
    found = Contract.objects.filter(title="suite-money").first()
    if found is not None:
        return found
    customer = Customer.objects.create(name="套件发票客户", owner=owner)
    line = LineData(
        description="套件服务",
        quantity=Decimal("1"),
        unit_price_incl=Decimal("1130000"),
        vat_rate=Decimal("0.13"),
    )
    contract = document_create(
        actor=owner, model=Contract, lines=[line], customer=customer, owner=owner, title="suite-money"
    )
    Contract.objects.filter(pk=contract.pk).update(state="confirmed")
    contract.refresh_from_db()
    return contract


def fapiao(*, n: int, owner: Any) -> None:
    contract, start = _contract(owner), Fapiao.objects.count()
    Fapiao.objects.bulk_create(
        Fapiao(
            number=f"SUITE{start + i:08d}",
            contract=contract,
            customer_id=contract.customer_id,
            issued_on=date(2026, 1, 1),
            amount_incl=Decimal("113.00"),
            amount_excl=Decimal("100.00"),
            amount_tax=Decimal("13.00"),
            buyer_title="套件发票客户",
            recorded_by=owner,
        )
        for i in range(n)
    )


def invoice_requests(*, n: int, owner: Any) -> None:
    contract = _contract(owner)
    InvoiceRequest.objects.bulk_create(
        InvoiceRequest(
            contract=contract,
            customer_id=contract.customer_id,
            owner=owner,
            amount=Decimal("100.00"),
            buyer_title="套件发票客户",
            requested_by=owner,
        )
        for _i in range(n)
    )


def targets(*, n: int, owner: Any) -> None:
    start = Target.objects.filter(user=owner).count()
    Target.objects.bulk_create(
        Target(
            month=date(2000 + (start + i) // 12, (start + i) % 12 + 1, 1), user=owner, amount=Decimal("1000")
        )
        for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "sales:fapiao_list": fapiao,
    "api-sales:fapiao-list": fapiao,
    "sales:invoice_request_list": invoice_requests,
    "api-sales:invoice-request-list": invoice_requests,
    "api-sales:target-list": targets,
}
