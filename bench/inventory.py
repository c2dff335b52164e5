"""Inventory: stock postings per second from 2 processes, and "stock as of a date" over a large ledger.

Runs in a throw-away schema cloned from the template (dropped afterwards).

1. Postings: two forked processes (each its own PostgreSQL connection) call `services.stock_post`, one
   delivery of 1 unit of a random product per posting, BENCH_INVENTORY_POSTINGS each (default 2000):
   a. on the SAME 100 products (they contend for the same balance row locks);
   b. on DISJOINT products (100 each).
   Stock is sized so that the shared run asks for more than there is (about 1.25 times the stock): the end
   of the run is refused postings, and "nothing oversold" is checked (no balance below zero, shipped plus
   left equals what was received, every balance equals the sum of its moves).
2. Stock as of a date: BENCH_INVENTORY_MOVES moves (default 1,000,000) bulk-inserted with one
   INSERT ... SELECT generate_series over 1,000 products, 5 warehouses and a year of dates; then
   `selectors.stock_as_of` for random days (every pair, evaluated completely) and for one warehouse,
   BENCH_INVENTORY_ASOF_RUNS each (default 40): p50 / p95 in ms, server time without HTTP.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from bench._scratch import scratch_schema

PRODUCTS = 100


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _worker(
    schema: str, actor_id: int, warehouse_id: int, product_ids: list[int], n: int, seed: int, out: Any
) -> None:
    """One process: `n` postings of one unit each on random products of `product_ids`."""
    from django.db import connections
    from django_tenants.utils import schema_context

    connections.close_all()  # never share the parent's socket (the parent closed its own before forking)
    from crm.modules.inventory import services
    from crm.platform.errors import ServiceError
    from crm.tenants.accounts.models import User

    ok = refused = errors = 0
    with schema_context(schema):
        actor = User.objects.get(pk=actor_id)
        rng = random.Random(seed)
        for i in range(n):
            pid = rng.choice(product_ids)
            move = services.MoveData(pid, warehouse_id, Decimal("1"), "delivery")
            try:
                services.stock_post(actor=actor, moves=[move], idempotency_key=f"bench:{seed}:{i}")
                ok += 1
            except ServiceError:
                refused += 1
            except Exception:  # a deadlock or any other failure is counted, not hidden
                errors += 1
    connections.close_all()
    out.put({"ok": ok, "refused": refused, "errors": errors})


def _run_pair(
    schema: str, actor_id: int, warehouse_id: int, sets: list[list[int]], n: int, seed: int
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    connection.close()  # the children open their own connections
    procs = [
        ctx.Process(target=_worker, args=(schema, actor_id, warehouse_id, sets[k], n, seed + k, out))
        for k in (0, 1)
    ]
    started = time.perf_counter()
    for p in procs:
        p.start()
    results = [out.get(timeout=1800) for _p in procs]
    for p in procs:
        p.join(timeout=60)
    seconds = time.perf_counter() - started
    total = {k: sum(r[k] for r in results) for k in ("ok", "refused", "errors")}
    return {
        **total,
        "seconds": round(seconds, 2),
        "postings_per_second": round((total["ok"] + total["refused"]) / seconds, 1),
    }


def _stock(actor: Any, warehouse_id: int, product_ids: list[int], each: Decimal, key: str) -> None:
    from crm.modules.inventory import services

    moves = [services.MoveData(pid, warehouse_id, each, "receipt", Decimal("10.00")) for pid in product_ids]
    services.stock_post(actor=actor, moves=moves, idempotency_key=key)


def _oversold(warehouse_id: int, product_ids: list[int], received: Decimal, shipped: int) -> dict[str, Any]:
    from django.db.models import Sum

    from crm.modules.inventory import services
    from crm.modules.inventory.models import StockBalance

    qs = StockBalance.objects.filter(warehouse_id=warehouse_id, product_id__in=product_ids)
    left = qs.aggregate(v=Sum("on_hand"))["v"] or Decimal(0)
    return {
        "negative_balances": qs.filter(on_hand__lt=0).count(),
        "shipped_plus_left_equals_received": left + shipped == received,
        "ledger_mismatches": len(services.ledger_mismatches()),
    }


MOVES_SQL = """
INSERT INTO inventory_stockmove (posting_id, product_id, warehouse_id, kind, quantity, unit_cost, value,
    document_type, document_id, document_line_id, document_number, idempotency_key, actor_id, posted_at,
    reason)
SELECT %(posting)s,
       (%(p)s::bigint[])[1 + (i %% %(np)s)],
       (%(w)s::bigint[])[1 + ((i / %(np)s) %% %(nw)s)],
       CASE WHEN i %% 3 = 0 THEN 'delivery' ELSE 'receipt' END,
       CASE WHEN i %% 3 = 0 THEN -1 ELSE 1 END,
       10, CASE WHEN i %% 3 = 0 THEN -10 ELSE 10 END,
       '', NULL, NULL, '', 'bulk:' || i, NULL,
       %(start)s::timestamptz + ((i %% 365) * interval '1 day') + ((i %% 86400) * interval '1 second'),
       ''
FROM generate_series(1, %(n)s) AS i
"""


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_INVENTORY_POSTINGS", "2000"))
    n_moves = int(os.environ.get("BENCH_INVENTORY_MOVES", "1000000"))
    runs = int(os.environ.get("BENCH_INVENTORY_ASOF_RUNS", "40"))
    report: dict[str, Any] = {"postings_per_process": n, "moves": n_moves}
    with scratch_schema("bench_inv") as schema:
        from django.utils import timezone

        from crm.kernel.tenant_time import tenant_today
        from crm.modules.core.public import Product
        from crm.modules.inventory import selectors
        from crm.modules.inventory.models import StockPosting, Warehouse
        from crm.tenants.accounts.models import User

        actor = User.objects.create_user("stock@bench.example.com", None, name="bench", role="owner")
        shared_wh = Warehouse.objects.create(code="SAME", name="共享仓")
        disjoint_wh = Warehouse.objects.create(code="SPLIT", name="分开仓")
        made = Product.objects.bulk_create(
            Product(code=f"B{i:05d}", name=f"基准商品{i}") for i in range(3 * PRODUCTS)
        )
        ids = [p.pk for p in made]
        same, split_a, split_b = ids[:PRODUCTS], ids[PRODUCTS : 2 * PRODUCTS], ids[2 * PRODUCTS :]

        # a. the same 100 products: demand 2n units on stock of 0.8 × 2n (refusals at the end).
        each = Decimal(max(1, int(2 * n * 0.8 / PRODUCTS)))
        _stock(actor, shared_wh.pk, same, each, "bench:stock:same")
        shared = _run_pair(schema, actor.pk, shared_wh.pk, [same, same], n, 100)
        shared.update(_oversold(shared_wh.pk, same, each * PRODUCTS, shared["ok"]))
        # b. disjoint products, enough stock for every posting.
        plenty = Decimal(2 * n)
        _stock(actor, disjoint_wh.pk, split_a + split_b, plenty, "bench:stock:split")
        disjoint = _run_pair(schema, actor.pk, disjoint_wh.pk, [split_a, split_b], n, 200)
        disjoint.update(_oversold(disjoint_wh.pk, split_a + split_b, plenty * 2 * PRODUCTS, disjoint["ok"]))
        report["same_products"] = shared
        report["disjoint_products"] = disjoint
        report["same_to_disjoint_ratio"] = round(
            shared["postings_per_second"] / max(disjoint["postings_per_second"], 0.1), 3
        )
        report["nothing_oversold"] = (
            shared["negative_balances"] == 0
            and shared["shipped_plus_left_equals_received"]
            and disjoint["negative_balances"] == 0
            and shared["errors"] == 0
            and disjoint["errors"] == 0
        )

        # 2. stock as of a date over a bulk-created ledger.
        more = Product.objects.bulk_create(
            Product(code=f"L{i:05d}", name=f"台账商品{i}") for i in range(1000)
        )
        whs = Warehouse.objects.bulk_create(Warehouse(code=f"L{i}", name=f"台账仓{i}") for i in range(5))
        posting = StockPosting.objects.create(idempotency_key="bench:bulk")
        start = timezone.now() - timedelta(days=400)
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                MOVES_SQL,
                {
                    "posting": posting.pk,
                    "p": [p.pk for p in more],
                    "np": len(more),
                    "w": [w.pk for w in whs],
                    "nw": len(whs),
                    "start": start,
                    "n": n_moves,
                },
            )
            cursor.execute("ANALYZE inventory_stockmove")
        report["bulk_insert_seconds"] = round(time.perf_counter() - t0, 1)
        rng = random.Random(7)
        today = tenant_today()
        every, one = [], []
        rows: list[Any] = []
        for _i in range(runs):
            day = today - timedelta(days=rng.randint(0, 400))
            t = time.perf_counter()
            rows = list(selectors.stock_as_of(actor=actor, day=day))
            every.append(time.perf_counter() - t)
            t = time.perf_counter()
            list(selectors.stock_as_of(actor=actor, day=day, warehouse_id=whs[rng.randrange(5)].pk))
            one.append(time.perf_counter() - t)
        report["as_of_all_pairs_ms"] = {"p50": _pct(every, 0.5), "p95": _pct(every, 0.95), "pairs": len(rows)}
        report["as_of_one_warehouse_ms"] = {"p50": _pct(one, 0.5), "p95": _pct(one, 0.95)}
    return report
