"""Rows for the purchasing list routes, for the generic module suite (see crm/modules/core/suite.py):
``make_rows(*, n, owner)`` bulk-creates ``n`` more rows the route lists. Runs inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from crm.modules.core.public import Product
from crm.modules.inventory.public import Warehouse

from .models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceiptLine,
    Rfq,
    Supplier,
    SupplierBill,
    SupplierPayment,
    SupplierPrice,
)


def _suppliers(n: int) -> list[Supplier]:
    start = Supplier.objects.count()
    return Supplier.objects.bulk_create(
        Supplier(code=f"SUITE{start + i:06d}", name=f"供应商{start + i}") for i in range(n)
    )


def _product() -> Product:
    p, _created = Product.objects.get_or_create(code="PUR-SUITE", defaults={"name": "采购套件商品"})
    return p


def suppliers(*, n: int, owner: Any) -> None:
    _suppliers(n)


def prices(*, n: int, owner: Any) -> None:
    (s,) = _suppliers(1)
    p = _product()
    SupplierPrice.objects.bulk_create(
        SupplierPrice(supplier=s, product=p, unit_price_incl=Decimal("10"), valid_from=date(2026, 1, 1))
        for _i in range(n)
    )


def _orders(n: int, owner: Any) -> list[PurchaseOrder]:
    (s,) = _suppliers(1)
    start = PurchaseOrder.objects.count()
    orders = PurchaseOrder.objects.bulk_create(
        PurchaseOrder(number=f"SUITE-CG{start + i:06d}", state="confirmed", owner=owner, supplier=s)
        for i in range(n)
    )
    p = _product()
    PurchaseOrderLine.objects.bulk_create(
        PurchaseOrderLine(
            document=o, product=p, description="套件", quantity=Decimal("1"), unit_price_incl=Decimal("1")
        )
        for o in orders
    )
    return orders


def orders(*, n: int, owner: Any) -> None:
    _orders(n, owner)


def receipts(*, n: int, owner: Any) -> None:
    wh, _created = Warehouse.objects.get_or_create(code="PSUITE", defaults={"name": "采购套件仓"})
    made = _orders(n, owner)
    start = Receipt.objects.count()
    rows = Receipt.objects.bulk_create(
        Receipt(
            number=f"SUITE-RK{start + i:06d}",
            order=o,
            warehouse=wh,
            idempotency_key=f"suite:{start + i}",
            created_by=owner,
        )
        for i, o in enumerate(made)
    )
    lines = {ln.document_id: ln for ln in PurchaseOrderLine.objects.filter(document__in=made)}
    ReceiptLine.objects.bulk_create(
        ReceiptLine(receipt=r, order_line=lines[r.order_id], quantity=Decimal("1"), unit_cost=Decimal("1"))
        for r in rows
    )


def rfqs(*, n: int, owner: Any) -> None:
    start = Rfq.objects.count()
    Rfq.objects.bulk_create(Rfq(number=f"SUITE-XJ{start + i:06d}", created_by=owner) for i in range(n))


def bills(*, n: int, owner: Any) -> None:
    made = _suppliers(n)
    SupplierBill.objects.bulk_create(
        SupplierBill(
            supplier=s,
            number=f"B{i}",
            amount_incl=Decimal("100"),
            bill_date=date(2026, 1, 1),
            due_date=date(2026, 1, 31),
        )
        for i, s in enumerate(made)
    )


def payments(*, n: int, owner: Any) -> None:
    (s,) = _suppliers(1)
    start = SupplierPayment.objects.count()
    SupplierPayment.objects.bulk_create(
        SupplierPayment(
            supplier=s,
            amount=Decimal("5"),
            paid_on=date(2026, 1, 1),
            idempotency_key=f"suite-pay:{start + i}",
            created_by=owner,
        )
        for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "purchasing:supplier_list": suppliers,
    "api-purchasing:supplier-list": suppliers,
    "api-purchasing:price-list": prices,
    "purchasing:order_list": orders,
    "api-purchasing:order-list": orders,
    "api-purchasing:receipt-list": receipts,
    "purchasing:rfq_list": rfqs,
    "api-purchasing:rfq-list": rfqs,
    "purchasing:payables": bills,
    "api-purchasing:bill-list": bills,
    "api-purchasing:payment-list": payments,
    "api-purchasing:payables": bills,
}
