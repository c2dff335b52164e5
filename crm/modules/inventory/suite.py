"""Rows for the inventory list routes, for the generic module suite (see crm/modules/core/suite.py):
``make_rows(*, n, owner)`` bulk-creates ``n`` more rows the route lists. Runs inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.modules.core.public import Product

from .models import (
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
}
