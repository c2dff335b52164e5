"""Demo data of the trade module (the `trade` demo workspace, a trading firm in Hangzhou). By the time it
runs, the core seeder has added customers and the product catalogue and the purchasing seeder a year of
suppliers, price comparisons, purchase orders, receipts into the warehouse and supplier bills. This adds the
selling side through the capabilities' public seeders: the sales documents' year (opportunities, quotes,
orders, payment plans, receipts), then deliveries of the confirmed orders from stock, a few customer returns
and samples out with customers. Each part is idempotent, so a second run adds nothing."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_tenants.utils import schema_context

from crm.modules.core.public import Product
from crm.modules.inventory.public import StockBalance, seed_fulfilment
from crm.modules.sales.public import seed_demo as sales_seed_demo


def seed(tenant: Any) -> None:
    with schema_context(tenant.schema_name):
        # What the firm sells is what it bought: the products that have stock.
        stocked = StockBalance.objects.filter(on_hand__gt=0).values("product_id")
        goods = list(Product.objects.filter(pk__in=stocked).order_by("code"))
    sales_seed_demo(tenant, products=goods)
    with schema_context(tenant.schema_name), transaction.atomic():
        seed_fulfilment(months=12)
