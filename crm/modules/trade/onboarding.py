"""Done checks of the trade module's getting-started steps (crm.modules.core.onboarding): a supplier, opening
stock (any stock in the ledger counts: a receipt is as good a start as an opening-stock document) and a
first purchase order."""

from __future__ import annotations

from crm.modules.inventory.public import StockMove
from crm.modules.purchasing.public import PurchaseOrder, Supplier


def has_supplier() -> bool:
    return Supplier.objects.exists()


def has_stock() -> bool:
    return StockMove.objects.filter(quantity__gt=0).exists()


def has_purchase_order() -> bool:
    return PurchaseOrder.objects.exists()
