"""Sales: receivables reports at scale, and the contract creation rate.

Runs in a throw-away schema cloned from the template (dropped afterwards). Bulk data with INSERT ... SELECT
generate_series: BENCH_SALES_CONTRACTS contracts (default 100,000) over BENCH_SALES_CUSTOMERS customers
(2,000), BENCH_SALES_INSTALLMENTS installments per contract (3: 300,000), one rep in ten owning the
contracts; about a third of the past-due installments paid by a receipt (receipt + allocation rows), and
BENCH_SALES_RECEIPTS receipts recorded through the service (with allocation, oldest first).

Timed (p50/p95 ms, BENCH_SALES_CALLS calls each): the aging report, the collections forecast and the open
installments list (first page) through the selectors (server time, no HTTP) as finance (sees all) and as a
rep (own scope), and the same pages through Django's test client on a bench workspace host; then
contract creation with 20 lines through crm.kernel.documents.document_create (BENCH_SALES_CREATE contracts,
per second).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection

from bench._scratch import scratch_schema

CONTRACTS_SQL = """
INSERT INTO sales_contract (created_at, updated_at, number, owner_id, currency, terms, total_incl, total_excl,
    total_tax, gross_incl, kind, state, customer_id, title, payment_days, prepayment_percent, delivery_terms,
    revision, cancel_reason, delivery_status, invoice_status, payment_status, invoiced_amount, paid_amount,
    signed_on, confirmed_at)
SELECT now(), now(), 'HTB-' || lpad(i::text, 8, '0'), (%(users)s)[1 + i %% cardinality(%(users)s)], 'CNY',
       '', 3390.00 + (i %% 97) * 3, 3000.00 + 0, 390.00 + (i %% 97) * 3, 3390.00 + (i %% 97) * 3, 'contract',
       'confirmed', (%(customers)s)[1 + i %% cardinality(%(customers)s)], '', 30, 0, '', 0, '', 'none',
       'none', 'none', 0, 0, %(start)s::date + (i %% 720), now()
FROM generate_series(1, %(n)s) AS i
"""

# Each contract's total split into `k` installments, the last one taking the rounding rest.
INSTALLMENTS_SQL = """
INSERT INTO sales_installment (created_at, updated_at, contract_id, customer_id, owner_id, position, due_date,
    amount, paid_amount, currency, note, contract_open)
SELECT now(), now(), c.id, c.customer_id, c.owner_id, p,
       c.signed_on + 30 * p,
       CASE WHEN p < %(k)s THEN round(c.total_incl / %(k)s, 2)
            ELSE c.total_incl - round(c.total_incl / %(k)s, 2) * (%(k)s - 1) END,
       0, 'CNY', '', c.state IN ('confirmed', 'completed')
FROM sales_contract c CROSS JOIN generate_series(1, %(k)s) AS p
WHERE c.number LIKE 'HTB-%%'
"""

PAY_SQL = """
UPDATE sales_installment SET paid_amount = amount
WHERE id %% 3 = 0 AND due_date < %(today)s
    AND contract_id IN (SELECT id FROM sales_contract WHERE number LIKE 'HTB-%%');
INSERT INTO sales_receipt (created_at, updated_at, number, customer_id, owner_id, amount, allocated_amount,
    currency, received_on, method, bank_reference, note, state, recorded_by_id, reversal_reason)
SELECT now(), now(), 'SKB-' || i.id, i.customer_id, i.owner_id, i.amount, i.amount, 'CNY', i.due_date, 'bank',
       '', '', 'posted', i.owner_id, ''
FROM sales_installment i WHERE i.paid_amount > 0 AND i.paid_amount = i.amount AND i.id %% 3 = 0;
INSERT INTO sales_receiptallocation (created_at, updated_at, receipt_id, contract_id, installment_id, amount)
SELECT now(), now(), r.id, i.contract_id, i.id, i.amount
FROM sales_receipt r JOIN sales_installment i ON r.number = 'SKB-' || i.id;
UPDATE sales_contract c SET paid_amount = s.paid,
    payment_status = CASE WHEN s.paid >= c.total_incl THEN 'full'
        WHEN s.paid > 0 THEN 'partial' ELSE 'none' END
FROM (SELECT contract_id, sum(paid_amount) AS paid FROM sales_installment GROUP BY contract_id) s
WHERE s.contract_id = c.id AND s.paid > 0;
ANALYZE sales_contract; ANALYZE sales_installment; ANALYZE sales_receipt; ANALYZE sales_receiptallocation;
"""


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _timed(call: Callable[[], Any], calls: int) -> dict[str, float]:
    call()  # warm caches and plans out of the numbers
    times = []
    for _i in range(calls):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return {
        "p50_ms": _pct(times, 0.5),
        "p95_ms": _pct(times, 0.95),
        "mean_ms": round(statistics.fmean(times) * 1000, 2),
    }


def sizes() -> dict[str, int]:
    env = os.environ.get
    return {
        "contracts": int(env("BENCH_SALES_CONTRACTS", "100000")),
        "customers": int(env("BENCH_SALES_CUSTOMERS", "2000")),
        "installments_per_contract": int(env("BENCH_SALES_INSTALLMENTS", "3")),
        "receipts": int(env("BENCH_SALES_RECEIPTS", "200")),
        "calls": int(env("BENCH_SALES_CALLS", "30")),
        "create": int(env("BENCH_SALES_CREATE", "200")),
    }


def fill(n: dict[str, int], users: list[Any]) -> dict[str, Any]:
    """Bulk rows in the current schema; returns counts and seconds."""
    from crm.kernel.tenant_time import tenant_today
    from crm.modules.core.public import Customer

    started = time.perf_counter()
    made = Customer.objects.bulk_create(
        Customer(name=f"基准客户{i:05d}", owner=users[i % len(users)]) for i in range(n["customers"])
    )
    today = tenant_today()
    with connection.cursor() as cursor:
        cursor.execute(
            CONTRACTS_SQL,
            {
                "users": [u.pk for u in users],
                "customers": [c.pk for c in made],
                "start": today - timedelta(days=540),
                "n": n["contracts"],
            },
        )
        cursor.execute(INSTALLMENTS_SQL, {"k": n["installments_per_contract"]})
        for statement in PAY_SQL.split(";\n"):
            if statement.strip():
                params = {"today": today} if "%(today)s" in statement else None
                cursor.execute(statement.replace("%%", "%") if params is None else statement, params)
    return {"seconds": round(time.perf_counter() - started, 1), "customers": made}


def measure(n: dict[str, int], *, finance: Any, rep: Any, owner: Any, client: Any = None) -> dict[str, Any]:
    """Everything after the bulk rows: service receipts, report timings, contract creation."""
    from crm.kernel.documents import LineData, document_create
    from crm.kernel.tenant_time import tenant_today
    from crm.modules.core.public import Customer
    from crm.modules.sales import selectors_receivables as sel
    from crm.modules.sales import services_receivables as svc
    from crm.modules.sales.models import Contract, Installment, Receipt

    today = tenant_today()
    customer_ids = list(
        Installment.objects.filter(paid_amount=0, due_date__lt=today)
        .values_list("customer_id", flat=True)
        .distinct()[:500]
    )
    t0 = time.perf_counter()
    recorded = 0
    for k in range(n["receipts"] if customer_ids else 0):
        customer = Customer.objects.get(pk=customer_ids[k % len(customer_ids)])
        svc.receipt_record(
            actor=finance, customer=customer, amount=Decimal("1000.00"), received_on=today, keep_credit=True
        )
        recorded += 1
    receipt_seconds = time.perf_counter() - t0

    calls = n["calls"]
    server = {
        "aging_all": _timed(lambda: sel.aging(actor=finance, as_of=today), calls),
        "aging_rep": _timed(lambda: sel.aging(actor=rep, as_of=today), calls),
        "forecast_all": _timed(lambda: sel.forecast(actor=finance), calls),
        "forecast_rep": _timed(lambda: sel.forecast(actor=rep), calls),
        "open_list_all": _timed(lambda: list(sel.open_installments(actor=finance)[:25]), calls),
        "open_list_rep": _timed(lambda: list(sel.open_installments(actor=rep)[:25]), calls),
        "open_list_overdue_all": _timed(
            lambda: list(sel.open_installments(actor=finance, overdue=True)[:25]), calls
        ),
    }
    http: dict[str, Any] = {}
    if client is not None:

        def get(path: str) -> Callable[[], None]:
            def call() -> None:
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)

            return call

        http = {
            "aging_page": _timed(get("/sales/receivables/aging/"), calls),
            "forecast_page": _timed(get("/sales/receivables/forecast/"), calls),
            "open_list_page": _timed(get("/sales/receivables/"), calls),
            "open_list_api": _timed(get("/api/v1/sales/installments/"), calls),
        }

    customer = Customer.objects.create(name="基准下单客户", owner=rep)
    lines = [
        LineData(
            description=f"服务项目{i}",
            quantity=Decimal(1 + i % 5),
            unit_price_incl=Decimal("113.00") + i,
            vat_rate=Decimal("0.06") if i % 2 else Decimal("0.13"),
            unit_cost_excl=Decimal("50.00"),
        )
        for i in range(20)
    ]
    t0 = time.perf_counter()
    for _i in range(n["create"]):
        document_create(actor=rep, model=Contract, lines=lines, customer=customer, owner=rep)
    create_seconds = time.perf_counter() - t0
    return {
        "rows": {
            "contracts": Contract.objects.count(),
            "installments": Installment.objects.count(),
            "receipts": Receipt.objects.count(),
        },
        "receipts_through_service": {
            "count": recorded,
            "per_second": round(recorded / receipt_seconds, 1) if recorded else 0,
        },
        "server": server,
        "http": http,
        "contract_create_20_lines": {
            "count": n["create"],
            "seconds": round(create_seconds, 2),
            "per_second": round(n["create"] / create_seconds, 1) if create_seconds else 0,
        },
    }


def _bench_client(schema: str, user: Any) -> tuple[Any, Any]:
    """A test client on a workspace host for the scratch schema (a Tenant row pointing at it, with a
    module that brings sales in). Returns (client, tenant) for the clean-up."""
    from django.test import Client
    from django_tenants.utils import schema_context

    from crm.platform.registry import registry
    from crm.tenants.models import Domain, Tenant, TenantStatus
    from crm.tenants.services import module_set_enabled, tenant_host

    with schema_context("public"):
        tenant = Tenant(
            schema_name=schema, slug=schema.replace("_", "-")[:40], name="Bench", status=TenantStatus.ACTIVE
        )
        tenant.save()
        try:
            Domain.objects.create(domain=tenant_host(tenant), tenant=tenant, is_primary=True)
            provider = next(m.slug for m in registry.all() if m.sellable and "sales" in m.depends)
            module_set_enabled(
                tenant=tenant, module=provider, enabled=True, actor_email="bench@x", allow_unavailable=True
            )
        except Exception:
            tenant.auto_drop_schema = False  # the scratch schema is dropped by its own context
            tenant.delete()
            raise
    client = Client(HTTP_HOST=tenant_host(tenant))
    with schema_context(schema):
        client.force_login(user, backend="crm.tenants.accounts.backends.EmailBackend")
    return client, tenant


def run() -> dict[str, Any]:
    n = sizes()
    with scratch_schema("bench_sal") as schema:
        from crm.tenants.accounts.models import User

        owner = User.objects.create_user("owner@bench.example.com", None, name="bench owner", role="owner")
        finance = User.objects.create_user(
            "finance@bench.example.com", None, name="bench finance", role="finance"
        )
        reps = [
            User.objects.create_user(f"rep{i}@bench.example.com", None, name=f"bench rep {i}", role="sales")
            for i in range(10)
        ]
        filled = fill(n, reps)
        client, tenant, client_error = None, None, ""
        try:
            client, tenant = _bench_client(schema, finance)
        except Exception as exc:  # the selector numbers still count when the host cannot be set up
            client_error = f"{type(exc).__name__}: {exc}"
        try:
            result = measure(n, finance=finance, rep=reps[0], owner=owner, client=client)
        finally:
            if tenant is not None:
                from django_tenants.utils import schema_context

                with schema_context("public"):
                    tenant.auto_drop_schema = False
                    tenant.delete()
        return {
            "sizes": n,
            "insert_seconds": filled["seconds"],
            **result,
            **({"http_error": client_error} if client_error else {}),
        }
