"""Builders for inventory tests (run inside a tenant schema)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from crm.modules.core.public import Product
from crm.modules.inventory import services
from crm.modules.inventory.models import StockBalance, StockMove, StockProduct, Warehouse

_seq = itertools.count(1)


def make_warehouse(code: str = "", **kw: Any) -> Warehouse:
    n = next(_seq)
    return Warehouse.objects.create(code=code or f"WH{n:03d}", name=kw.pop("name", f"仓库{n}"), **kw)


def make_product(
    name: str = "", *, unit: str = "件", min_stock: str | None = None, reorder: str = "0"
) -> Product:
    n = next(_seq)
    product = Product.objects.create(name=name or f"测试商品{n}", code=f"P{n:05d}", unit=unit)
    if min_stock is not None:
        StockProduct.objects.create(
            product=product, base_unit=unit, min_stock=Decimal(min_stock), reorder_qty=Decimal(reorder)
        )
    return product


def mv(
    product: Product, wh: Warehouse, qty: str, kind: str, cost: str | None = None, **kw: Any
) -> services.MoveData:
    return services.MoveData(
        product_id=product.pk,
        warehouse_id=wh.pk,
        quantity=Decimal(qty),
        kind=kind,
        unit_cost=None if cost is None else Decimal(cost),
        **kw,
    )


def post(actor: Any, *moves: services.MoveData, key: str | None = None, **kw: Any) -> list[StockMove]:
    return services.stock_post(actor=actor, moves=list(moves), idempotency_key=key or f"t{next(_seq)}", **kw)


def bal(product: Product, wh: Warehouse) -> StockBalance:
    return StockBalance.objects.get(product=product, warehouse=wh)


def ledger(product: Product, wh: Warehouse) -> tuple[Decimal, Decimal]:
    from django.db.models import Sum

    row = StockMove.objects.filter(product=product, warehouse=wh).aggregate(q=Sum("quantity"), v=Sum("value"))
    return row["q"] or Decimal("0"), row["v"] or Decimal("0")


def to_public() -> None:
    from django.db import connection

    connection.set_schema_to_public()  # type: ignore[attr-defined]
