"""Rows for the inventory list routes, for the generic module suite (see crm/modules/core/suite.py):
``make_rows(*, n, owner)`` bulk-creates ``n`` more rows the route lists. Runs inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.modules.core.public import Product

from .models import (
    CustomerReturn,
    CustomerReturnLine,
    Delivery,
    DeliveryLine,
    Sample,
    SampleLine,
    StockBalance,
    StockDocument,
    StockDocumentLine,
    StockMove,
    StockPosting,
    StockProduct,
    Warehouse,
)


def _warehouse() -> Warehouse:
    wh, _created = Warehouse.objects.get_or_create(code="SUITE", defaults={"name": "套件仓"})
    return wh


def _products(n: int) -> list[Product]:
    start = Product.objects.filter(code__startswith="INV-SUITE").count()
    return Product.objects.bulk_create(
        Product(code=f"INV-SUITE{start + i:06d}", name=f"库存商品{start + i}") for i in range(n)
    )


def warehouses(*, n: int, owner: Any) -> None:
    start = Warehouse.objects.count()
    Warehouse.objects.bulk_create(
        Warehouse(code=f"SW{start + i:05d}", name=f"仓库{start + i}") for i in range(n)
    )


def balances(*, n: int, owner: Any) -> None:
    wh = _warehouse()
    made = _products(n)
    StockProduct.objects.bulk_create(StockProduct(product=p, min_stock=Decimal("5")) for p in made)
    StockBalance.objects.bulk_create(
        StockBalance(
            product=p, warehouse=wh, on_hand=Decimal("2"), value=Decimal("4"), average_cost=Decimal("2")
        )
        for p in made
    )


def moves(*, n: int, owner: Any) -> None:
    wh = _warehouse()
    made = _products(n)
    posting = StockPosting.objects.create(idempotency_key=f"suite:{StockPosting.objects.count()}")
    now = timezone.now()
    StockMove.objects.bulk_create(
        StockMove(
            posting=posting,
            product=p,
            warehouse=wh,
            kind=StockMove.Kind.RECEIPT,
            quantity=Decimal("3"),
            unit_cost=Decimal("1.5"),
            value=Decimal("4.50"),
            idempotency_key=f"{posting.idempotency_key}#{i}",
            posted_at=now,
            document_type="inventory.stockdocument",
            document_number="SUITE",
        )
        for i, p in enumerate(made)
    )


def _documents(kind: str) -> Callable[..., None]:
    def make(*, n: int, owner: Any) -> None:
        wh = _warehouse()
        start = StockDocument.objects.count()
        docs = StockDocument.objects.bulk_create(
            StockDocument(
                kind=kind,
                number=f"SUITE-{kind}-{start + i:06d}",
                warehouse=wh,
                to_warehouse=wh,
                created_by=owner,
            )
            for i in range(n)
        )
        (product,) = _products(1)
        StockDocumentLine.objects.bulk_create(
            StockDocumentLine(document=d, product=product, quantity=Decimal("1")) for d in docs
        )

    return make


def reorder(*, n: int, owner: Any) -> None:
    made = _products(n)
    StockProduct.objects.bulk_create(
        StockProduct(product=p, min_stock=Decimal("10"), reorder_qty=Decimal("20")) for p in made
    )


def _confirmed_orders(n: int, owner: Any) -> list[Any]:
    """n confirmed orders of one customer, each with one open line of a stock-tracked product."""
    from crm.modules.core.public import Customer
    from crm.modules.sales.public import Contract, ContractLine

    customer = Customer.objects.create(name=f"发货套件客户{Customer.objects.count()}", owner=owner)
    (product,) = _products(1)
    StockProduct.objects.create(product=product)
    start = Contract.objects.count()
    now = timezone.now()
    orders = Contract.objects.bulk_create(
        Contract(
            number=f"SUITE-HT{start + i:06d}",
            state="confirmed",
            kind="order",
            customer=customer,
            owner=owner,
            confirmed_at=now,
        )
        for i in range(n)
    )
    ContractLine.objects.bulk_create(
        ContractLine(
            document=o,
            product=product,
            description=product.name,
            quantity=Decimal("5"),
            unit_price_incl=Decimal("11.30"),
            unit="件",
        )
        for o in orders
    )
    return orders


def to_ship(*, n: int, owner: Any) -> None:
    _confirmed_orders(n, owner)


def deliveries(*, n: int, owner: Any) -> None:
    from crm.modules.sales.public import ContractLine

    orders = _confirmed_orders(n, owner)
    wh = _warehouse()
    line_of = dict(ContractLine.objects.filter(document__in=orders).values_list("document_id", "pk"))
    start = Delivery.objects.count()
    now = timezone.now()
    made = Delivery.objects.bulk_create(
        Delivery(
            number=f"SUITE-FH{start + i:06d}",
            contract=o,
            customer_id=o.customer_id,
            warehouse=wh,
            shipped_at=now,
            idempotency_key=f"suite:delivery:{start + i}",
            created_by=owner,
        )
        for i, o in enumerate(orders)
    )
    product_id = ContractLine.objects.filter(pk=next(iter(line_of.values()))).values_list(
        "product_id", flat=True
    )[0]
    DeliveryLine.objects.bulk_create(
        DeliveryLine(
            delivery=d,
            contract_line_id=line_of[d.contract_id],
            product_id=product_id,
            quantity=Decimal("2"),
            base_quantity=Decimal("2"),
            value=Decimal("5"),
        )
        for d in made
    )


def returns(*, n: int, owner: Any) -> None:
    deliveries(n=n, owner=owner)
    made = list(Delivery.objects.order_by("-id")[:n])
    start = CustomerReturn.objects.count()
    rets = CustomerReturn.objects.bulk_create(
        CustomerReturn(
            number=f"SUITE-TH{start + i:06d}",
            delivery=d,
            warehouse_id=d.warehouse_id,
            idempotency_key=f"suite:return:{start + i}",
            created_by=owner,
        )
        for i, d in enumerate(made)
    )
    first_line = dict(DeliveryLine.objects.filter(delivery__in=made).values_list("delivery_id", "pk"))
    CustomerReturnLine.objects.bulk_create(
        CustomerReturnLine(
            customer_return=r, delivery_line_id=first_line[r.delivery_id], quantity=Decimal("1")
        )
        for r in rets
    )


def samples(*, n: int, owner: Any) -> None:
    from crm.modules.core.public import Customer

    customer = Customer.objects.create(name=f"样品套件客户{Customer.objects.count()}", owner=owner)
    wh = _warehouse()
    location, _created = Warehouse.objects.get_or_create(
        code="SUITE-SAMPLE", defaults={"name": "样品库", "kind": Warehouse.Kind.SAMPLE}
    )
    (product,) = _products(1)
    start = Sample.objects.count()
    made = Sample.objects.bulk_create(
        Sample(
            number=f"SUITE-YP{start + i:06d}",
            customer=customer,
            owner=owner,
            warehouse=wh,
            location=location,
            idempotency_key=f"suite:sample:{start + i}",
            created_by=owner,
        )
        for i in range(n)
    )
    SampleLine.objects.bulk_create(SampleLine(sample=s, product=product, quantity=Decimal("1")) for s in made)


transfers = _documents(StockDocument.Kind.TRANSFER)
counts = _documents(StockDocument.Kind.COUNT)

LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "inventory:stock": balances,
    "api-inventory:balance-list": balances,
    "inventory:as_of": moves,
    "api-inventory:move-list": moves,
    "api-inventory:stock-as-of": moves,
    "inventory:warehouse_list": warehouses,
    "api-inventory:warehouse-list": warehouses,
    "inventory:transfer_list": transfers,
    "api-inventory:transfer-list": transfers,
    "inventory:count_list": counts,
    "api-inventory:count-list": counts,
    "inventory:reorder": reorder,
    "api-inventory:reorder-list": reorder,
    "inventory:to_ship": to_ship,
    "api-inventory:to-ship-list": to_ship,
    "inventory:delivery_list": deliveries,
    "api-inventory:delivery-list": deliveries,
    "api-inventory:return-list": returns,
    "inventory:sample_list": samples,
    "api-inventory:sample-list": samples,
}
