"""Two threads, each with its own PostgreSQL connection, ship the last units of one product at once: no
oversell, no deadlock, the balance equals the ledger; a retried posting racing the first posts once.

Writes happen on helper threads (own connections, autocommit) so the other thread sees them; the test
creates its own rows in beta's schema and deletes them at the end."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection
from django_tenants.utils import schema_context

from crm.modules.core.public import Product
from crm.modules.inventory import services
from crm.modules.inventory.models import StockBalance, StockMove, StockPosting, Warehouse
from crm.platform.errors import ServiceError

T = TypeVar("T")
K = StockMove.Kind
ATTEMPTS = 8  # per thread, one unit each: 16 attempts on 10 units


def _in_thread(fn: Callable[[], T]) -> T:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the calling thread
            box["error"] = exc
        finally:
            connection.close()

    t = threading.Thread(target=target)
    t.start()
    t.join(timeout=120)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _run_pair(schema: str, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(n: int) -> None:
        try:
            with schema_context(schema):
                barrier.wait(timeout=30)
                work(n)
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def test_two_threads_shipping_the_last_units_never_oversell(beta: Any) -> None:
    schema, actor = beta.schema, beta.users["warehouse"]

    def setup() -> tuple[int, int, int]:
        with schema_context(schema):
            wh = Warehouse.objects.create(code="CONC-A", name="并发仓")
            other = Warehouse.objects.create(code="CONC-B", name="并发仓二")
            product = Product.objects.create(name="并发商品", code="CONC-P")
            services.stock_post(
                actor=actor,
                moves=[services.MoveData(product.pk, wh.pk, Decimal("10"), K.RECEIPT, Decimal("2.50"))],
                idempotency_key="conc:receipt",
            )
            return wh.pk, other.pk, product.pk

    wh_id, other_id, product_id = _in_thread(setup)
    shipped = [0, 0]
    refused = [0, 0]

    def ship(n: int) -> None:
        for i in range(ATTEMPTS):
            # Thread 0 ships directly; thread 1 transfers out (touching two balances, in the other order of
            # the arguments): the fixed lock order keeps them from deadlocking.
            moves = (
                [services.MoveData(product_id, wh_id, Decimal("1"), K.DELIVERY)]
                if n == 0
                else [
                    services.MoveData(product_id, other_id, Decimal("1"), K.TRANSFER_IN),
                    services.MoveData(product_id, wh_id, Decimal("1"), K.TRANSFER_OUT),
                ]
            )
            try:
                services.stock_post(actor=actor, moves=moves, idempotency_key=f"conc:{n}:{i}")
                shipped[n] += 1
            except ServiceError:
                refused[n] += 1

    def retry(n: int) -> None:
        services.stock_post(
            actor=actor,
            moves=[services.MoveData(product_id, other_id, Decimal("1"), K.RECEIPT, Decimal("9"))],
            idempotency_key="conc:same-key",
        )

    def check() -> tuple[Decimal, Decimal, Decimal, int, list[Any]]:
        with schema_context(schema):
            b = StockBalance.objects.get(product_id=product_id, warehouse_id=wh_id)
            ledger = sum(
                (m.quantity for m in StockMove.objects.filter(product_id=product_id, warehouse_id=wh_id)),
                Decimal(0),
            )
            same = StockMove.objects.filter(posting__idempotency_key="conc:same-key").count()
            return b.on_hand, ledger, b.value, same, services.ledger_mismatches()

    def cleanup() -> bool:
        with schema_context(schema):
            StockMove.objects.filter(product_id=product_id).delete()
            StockPosting.objects.filter(idempotency_key__startswith="conc:").delete()
            StockBalance.objects.filter(product_id=product_id).delete()
            Product.objects.filter(pk=product_id).delete()
            Warehouse.objects.filter(pk__in=[wh_id, other_id]).delete()
            return Warehouse.objects.filter(code__startswith="CONC-").exists()

    try:
        assert _run_pair(schema, ship) == []
        assert _run_pair(schema, retry) == []
        on_hand, ledger, value, same, mismatches = _in_thread(check)
        assert sum(shipped) == 10 and sum(refused) == 2 * ATTEMPTS - 10
        assert on_hand == ledger == Decimal("0")
        assert value == Decimal("0.00")
        assert same == 1  # the racing retry returned the first posting's move
        assert mismatches == []
    finally:
        assert _in_thread(cleanup) is False
