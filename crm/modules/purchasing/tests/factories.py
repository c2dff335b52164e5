"""Builders for purchasing tests (run inside a tenant schema)."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from crm.modules.core.public import Product
from crm.modules.inventory.public import Warehouse
from crm.modules.purchasing import services
from crm.modules.purchasing.models import PurchaseOrder, Supplier

_seq = itertools.count(1)


def make_supplier(invoice: str = "special_13", **kw: Any) -> Supplier:
    n = next(_seq)
    return Supplier.objects.create(
        code=kw.pop("code", f"S{n:04d}"),
        name=kw.pop("name", f"供应商{n}"),
        invoice_type=invoice,
        tax_status="general" if invoice == "special_13" else "small_scale",
        **kw,
    )


def make_product(name: str = "", unit: str = "件") -> Product:
    n = next(_seq)
    return Product.objects.create(name=name or f"商品{n}", code=f"PP{n:05d}", unit=unit)


def make_warehouse() -> Warehouse:
    n = next(_seq)
    return Warehouse.objects.create(code=f"PW{n:03d}", name=f"仓库{n}")


def confirmed_order(
    actor: Any, supplier: Supplier, lines: list[tuple[Product, str, str]], wh: Warehouse
) -> PurchaseOrder:
    order = services.order_create(
        actor=actor,
        supplier=supplier,
        warehouse=wh,
        lines=[services.OrderLineInput(p.pk, Decimal(q), Decimal(price)) for p, q, price in lines],
    )
    services.order_transition(actor=actor, order=order, name="submit")
    services.order_transition(actor=actor, order=order, name="confirm")
    order.refresh_from_db()
    return order
