"""Sales gross margin report at a large line count: server time of `selectors_margin.margin_report` per
group (order, product, customer, rep, month) for the owner (every contract) and for one rep (own scope).

Runs in a throw-away schema cloned from the template (dropped afterwards). Reps (BENCH_MARGIN_REPS,
default 20), customers (BENCH_MARGIN_CUSTOMERS, default 2,000), products (BENCH_MARGIN_PRODUCTS, default
1,000) and contracts with 4 lines each for BENCH_MARGIN_LINES order lines (default 100,000), confirmed over
the last 400 days, one line in 10 without a cost, half of them delivered with an actual cost, inserted
with INSERT ... SELECT generate_series. Timed BENCH_MARGIN_RUNS calls each (default 20).
"""

from __future__ import annotations

import os
import time
from functools import partial
from typing import Any

from django.db import connection

from bench._scratch import scratch_schema
from bench.sales_pipeline import _timed

LINES_PER_CONTRACT = 4

CONTRACTS_SQL = """
INSERT INTO sales_contract (created_at, updated_at, number, state, owner_id, currency, terms, total_incl,
    total_excl, total_tax, gross_incl, kind, customer_id, title, payment_days, prepayment_percent,
    delivery_terms, confirmed_at, revision, cancel_reason, delivery_status, invoice_status, payment_status,
    invoiced_amount, paid_amount)
SELECT t.c, t.c, 'HT-BENCH-' || i, CASE WHEN i %% 5 = 0 THEN 'completed' ELSE 'confirmed' END,
       (%(owners)s::bigint[])[1 + i %% cardinality(%(owners)s::bigint[])], 'CNY', '', 4520, 4000, 520, 4520,
       'order', (%(customers)s::bigint[])[1 + i %% cardinality(%(customers)s::bigint[])], '', 30, 0, '',
       t.c, 0, '', 'none', 'none', 'none', 0, 0
FROM generate_series(1, %(n)s) AS i
CROSS JOIN LATERAL (
    SELECT now() - ((i %% 400) || ' days')::interval - ((i %% 24) || ' hours')::interval AS c
) t
"""

LINES_SQL = """
INSERT INTO sales_contractline (created_at, updated_at, position, product_id, description, quantity, unit,
    unit_price_incl, vat_rate, discount_percent, unit_cost_excl, amount_incl, amount_excl, amount_tax,
    document_id, delivered_quantity, actual_cost_excl)
SELECT c.created_at, c.created_at, k,
       (%(products)s::bigint[])[1 + (c.id * 7 + k) %% cardinality(%(products)s::bigint[])],
       '基准商品', 10, '件', 113, 0.13, 0,
       CASE WHEN (c.id + k) %% 10 = 0 THEN NULL ELSE 60 + (c.id %% 30) END,
       1130, 1000, 130, c.id, CASE WHEN (c.id + k) %% 2 = 0 THEN 10 ELSE 0 END,
       CASE WHEN (c.id + k) %% 2 = 0 THEN 600 + (c.id %% 50) END
FROM sales_contract c CROSS JOIN generate_series(1, %(per)s) AS k
"""


def run() -> dict[str, Any]:
    n_lines = int(os.environ.get("BENCH_MARGIN_LINES", "100000"))
    n_reps = max(1, int(os.environ.get("BENCH_MARGIN_REPS", "20")))
    n_customers = max(1, int(os.environ.get("BENCH_MARGIN_CUSTOMERS", "2000")))
    n_products = max(1, int(os.environ.get("BENCH_MARGIN_PRODUCTS", "1000")))
    runs = max(1, int(os.environ.get("BENCH_MARGIN_RUNS", "20")))
    n_contracts = max(1, n_lines // LINES_PER_CONTRACT)
    with scratch_schema("bench_margin"):
        from crm.modules.core.public import Customer, Product
        from crm.modules.sales import selectors_margin as sel
        from crm.modules.sales.models import ContractLine
        from crm.tenants.accounts.models import User

        owner = User.objects.create_user("owner@bench.example.com", None, name="bench owner", role="owner")
        reps = [
            User.objects.create_user(f"rep{i}@bench.example.com", None, name=f"销售{i}", role="sales")
            for i in range(n_reps)
        ]
        customers = Customer.objects.bulk_create(
            Customer(name=f"基准客户{i}", name_normalized=f"基准客户{i}", owner=reps[i % n_reps])
            for i in range(n_customers)
        )
        products = Product.objects.bulk_create(
            Product(code=f"BM{i:06d}", name=f"基准商品{i}") for i in range(n_products)
        )
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                CONTRACTS_SQL,
                {"owners": [r.pk for r in reps], "customers": [c.pk for c in customers], "n": n_contracts},
            )
            cursor.execute(LINES_SQL, {"products": [p.pk for p in products], "per": LINES_PER_CONTRACT})
            cursor.execute("ANALYZE sales_contract")
            cursor.execute("ANALYZE sales_contractline")
        insert_seconds = time.perf_counter() - started
        lines = ContractLine.objects.count()
        rep = reps[0]
        # A rep reads the report when the workspace shows reps the margin percent.
        from crm.modules.sales.models import SalesSettings

        SalesSettings.objects.update_or_create(pk=1, defaults={"reps_see_margin_percent": True})
        result: dict[str, Any] = {
            "order_lines": lines,
            "contracts": n_contracts,
            "reps": n_reps,
            "customers": n_customers,
            "products": n_products,
            "insert_seconds": round(insert_seconds, 1),
        }
        for group in sel.GROUPS:
            result[f"owner_{group}"] = _timed(partial(sel.margin_report, actor=owner, group=group), runs)
        result["rep_order"] = _timed(lambda: sel.margin_report(actor=rep, group="order"), runs)
        result["owner_12_months"] = _timed(lambda: sel.margin_by_month(actor=owner), runs)
        totals = sel.margin_report(actor=owner).totals
        result["check"] = {
            "lines": totals["lines"],
            "est_margin": str(totals["est_margin"]),
            "act_margin": str(totals["act_margin"]),
            "unknown_lines": totals["unknown_lines"],
        }
        result["p95_max_ms"] = max(
            v["p95_ms"] for v in result.values() if isinstance(v, dict) and "p95_ms" in v
        )
        return result
