"""The purchasing demo: a consistent year on top of the core demo (stock equals what was received, bills of
received orders, some overdue), and a second run adds nothing. Its time is not asserted: timings belong in
`make bench`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django_tenants.utils import schema_context

from crm.kernel.tenant_time import tenant_today
from crm.modules.core import demo as core_demo
from crm.modules.inventory.public import StockBalance, StockMove
from crm.modules.purchasing import demo
from crm.modules.purchasing.models import (
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    Rfq,
    Supplier,
    SupplierBill,
    SupplierContact,
    SupplierPayment,
    SupplierPrice,
    SupplierQuote,
)

MODELS = (
    Supplier,
    SupplierContact,
    SupplierPrice,
    Rfq,
    SupplierQuote,
    PurchaseOrder,
    Receipt,
    ReceiptLine,
    SupplierBill,
    SupplierPayment,
    StockMove,
)


def counts() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in MODELS)


def test_demo_seed_is_a_consistent_year_and_idempotent(beta: Any) -> None:
    # Given the core demo (its products)
    core_demo.seed(beta.tenant)
    # When the purchasing demo runs
    demo.seed(beta.tenant)
    with schema_context(beta.schema):
        today = tenant_today()
        assert Supplier.objects.count() == 8 and SupplierContact.objects.count() >= 8
        assert Supplier.objects.filter(tax_status="small_scale").count() == 3
        assert Rfq.objects.count() == 6 and SupplierQuote.objects.count() == 18
        assert Rfq.objects.filter(state="awarded").count() == 4
        orders = PurchaseOrder.objects.all()
        assert 36 <= orders.count() <= 44
        assert orders.filter(receipt_status="full").count() > orders.count() / 2
        assert orders.filter(receipt_status="partial").exists()
        assert {"draft", "submitted", "confirmed", "completed", "cancelled"} <= set(
            orders.values_list("state", flat=True)
        )
        # The orders spread over the year, and the ledger moves carry the receipt dates.
        first = orders.order_by("created_at").first()
        assert first is not None and (today - first.created_at.date()).days > 270
        moves = StockMove.objects.filter(kind="receipt")
        assert moves.count() == ReceiptLine.objects.count()
        oldest = moves.order_by("posted_at").first()
        assert oldest is not None and (today - oldest.posted_at.date()).days > 200
        # Stock equals what was received (nothing else moved stock in this workspace).
        received = ReceiptLine.objects.aggregate(q=Sum("quantity"))["q"]
        assert StockBalance.objects.aggregate(q=Sum("on_hand"))["q"] == received
        # Bills of received goods; most paid, some overdue and open.
        bills = SupplierBill.objects.all()
        assert bills.count() == Receipt.objects.count()
        assert bills.filter(paid=0, due_date__lt=today).exists()
        assert bills.filter(paid__gt=0).count() > bills.count() / 3
        assert not SupplierPrice.objects.filter(valid_from__gt=today).exists()
        assert Supplier.objects.filter(customer__isnull=False).count() == 1
        before = counts()
        total = SupplierBill.objects.aggregate(t=Sum("amount_incl"))["t"]
        assert total > Decimal("0")
    # When it runs again, nothing is added
    demo.seed(beta.tenant)
    with schema_context(beta.schema):
        assert counts() == before
