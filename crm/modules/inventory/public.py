"""Names other modules may import from the inventory capability (architecture section 5, rule 6)."""

from crm.modules.inventory.demo import seed_fulfilment
from crm.modules.inventory.models import StockBalance, StockMove, Warehouse
from crm.modules.inventory.selectors import available, balance_get, stock_as_of, stock_value_total
from crm.modules.inventory.services import (
    DocumentRef,
    MoveData,
    lock_balances,
    stock_post,
    stock_release,
    stock_reserve,
    unit_factor,
)
from crm.modules.inventory.services_fulfilment import default_warehouse

__all__ = [
    "DocumentRef",
    "MoveData",
    "StockBalance",
    "StockMove",
    "Warehouse",
    "available",
    "balance_get",
    "default_warehouse",
    "lock_balances",
    "seed_fulfilment",
    "stock_as_of",
    "stock_post",
    "stock_release",
    "stock_reserve",
    "stock_value_total",
    "unit_factor",
]
