"""Two threads, each with its own PostgreSQL connection, ship the last units of one product for two orders
at once through delivery_create: no oversell, no deadlock, the balance equals the ledger and the orders'
delivered quantities add up; two racing retries of one delivery (same key) ship once.

Writes happen on helper threads (own connections, autocommit); the test deletes its rows at the end."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django_tenants.utils import schema_context

from crm.kernel.documents import LineData, document_create
from crm.modules.core.public import Customer, Product
from crm.modules.inventory import services, services_fulfilment
from crm.modules.inventory.models import (
    Delivery,
    DeliveryLine,
    Reservation,
    StockBalance,
    StockMove,
    StockPosting,
    StockProduct,
    Warehouse,
)
from crm.modules.sales.models import Contract, ContractLine
from crm.platform.errors import ServiceError

from .test_concurrency import _in_thread, _run_pair

ATTEMPTS = 8  # per thread, one unit each: 16 attempts on 10 units


def test_two_deliveries_of_the_last_units_never_oversell(beta: Any) -> None:
    schema, actor, rep = beta.schema, beta.users["warehouse"], beta.users["sales"]

    def setup() -> dict[str, Any]:
        with schema_context(schema):
            wh = Warehouse.objects.create(code="FCONC-A", name="发货并发仓")
            product = Product.objects.create(name="并发发货商品", code="FCONC-P")
            StockProduct.objects.create(product=product)
            customer = Customer.objects.create(name="并发客户", owner=rep)
            services.stock_post(
                actor=actor,
                moves=[services.MoveData(product.pk, wh.pk, Decimal("10"), "receipt", Decimal("3.00"))],
                idempotency_key="fconc:receipt",
            )
            orders = []
            for _i in range(3):
                c = document_create(
                    actor=rep,
                    model=Contract,
                    lines=[
                        LineData(
                            description="并发发货商品",
                            quantity=Decimal("8"),
                            unit_price_incl=Decimal("10"),
                            product_id=product.pk,
                        )
                    ],
                    customer=customer,
                    owner=rep,
                    kind="order",
                )
                Contract.objects.filter(pk=c.pk).update(state="confirmed")
                orders.append((c.pk, c.lines.get().pk))
            return {"wh": wh.pk, "product": product.pk, "customer": customer.pk, "orders": orders}

    ids = _in_thread(setup)
    shipped = [0, 0]
    refused = [0, 0]

    def ship(n: int) -> None:
        contract_id, line_id = ids["orders"][n]
        contract = Contract.objects.get(pk=contract_id)
        wh = Warehouse.objects.get(pk=ids["wh"])
        for i in range(ATTEMPTS):
            try:
                services_fulfilment.delivery_create(
                    actor=actor,
                    contract=contract,
                    warehouse=wh,
                    lines=[(line_id, Decimal("1"))],
                    idempotency_key=f"fconc:{n}:{i}",
                )
                shipped[n] += 1
            except ServiceError:
                refused[n] += 1

    def retry(n: int) -> None:
        contract_id, line_id = ids["orders"][2]
        services_fulfilment.delivery_create(
            actor=actor,
            contract=Contract.objects.get(pk=contract_id),
            warehouse=Warehouse.objects.get(pk=ids["wh"]),
            lines=[(line_id, Decimal("1"))],
            idempotency_key="fconc:same",
        )

    def refill() -> None:
        with schema_context(schema):
            services.stock_post(
                actor=actor,
                moves=[
                    services.MoveData(ids["product"], ids["wh"], Decimal("1"), "receipt", Decimal("3.00"))
                ],
                idempotency_key="fconc:refill",
            )

    def check() -> dict[str, Any]:
        with schema_context(schema):
            b = StockBalance.objects.get(product_id=ids["product"], warehouse_id=ids["wh"])
            moves = StockMove.objects.filter(product_id=ids["product"], warehouse_id=ids["wh"])
            delivered = ContractLine.objects.filter(document_id__in=[o[0] for o in ids["orders"]]).aggregate(
                s=Sum("delivered_quantity")
            )["s"]
            return {
                "on_hand": b.on_hand,
                "ledger": moves.aggregate(s=Sum("quantity"))["s"],
                "value": b.value,
                "ledger_value": moves.aggregate(s=Sum("value"))["s"],
                "delivered": delivered,
                "same": Delivery.objects.filter(idempotency_key="inventory:delivery:fconc:same").count(),
                "same_moves": StockMove.objects.filter(
                    posting__idempotency_key="inventory:delivery:fconc:same"
                ).count(),
                "mismatches": services.ledger_mismatches(),
            }

    def cleanup() -> bool:
        with schema_context(schema):
            order_ids = [o[0] for o in ids["orders"]]
            DeliveryLine.objects.filter(delivery__contract_id__in=order_ids).delete()
            Delivery.objects.filter(contract_id__in=order_ids).delete()
            StockMove.objects.filter(product_id=ids["product"]).delete()
            StockPosting.objects.filter(idempotency_key__contains="fconc:").delete()
            Reservation.objects.filter(product_id=ids["product"]).delete()
            StockBalance.objects.filter(product_id=ids["product"]).delete()
            ContractLine.objects.filter(document_id__in=order_ids).delete()
            Contract.objects.filter(pk__in=order_ids).delete()
            Customer.objects.filter(pk=ids["customer"]).delete()
            StockProduct.objects.filter(product_id=ids["product"]).delete()
            Product.objects.filter(pk=ids["product"]).delete()
            Warehouse.objects.filter(pk=ids["wh"]).delete()
            return Warehouse.objects.filter(code__startswith="FCONC-").exists()

    try:
        assert _run_pair(schema, ship) == []
        assert sum(shipped) == 10 and sum(refused) == 2 * ATTEMPTS - 10
        _in_thread(refill)
        assert _run_pair(schema, retry) == []
        got = _in_thread(check)
        assert got["on_hand"] == got["ledger"] == Decimal("0")
        assert got["value"] == got["ledger_value"] == Decimal("0.00")
        assert got["delivered"] == Decimal("11")
        assert (got["same"], got["same_moves"]) == (1, 1)  # the racing retry shipped once
        assert got["mismatches"] == []
    finally:
        assert _in_thread(cleanup) is False
