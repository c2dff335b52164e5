"""Service: the manager's reports and the technician's order list at a large order count, and the rate of
opening orders (each with its SLA due times computed in business hours).

Runs in a throw-away schema cloned from the template (dropped afterwards). Agreements, entitlements and
orders are inserted with INSERT ... SELECT generate_series (defaults: 20,000 agreements, 200,000 orders;
BENCH_SERVICE_AGREEMENTS / BENCH_SERVICE_ORDERS / BENCH_SERVICE_CALLS / BENCH_SERVICE_CREATES for a
smaller run). Timed (server time, no HTTP): `selectors.reports` for the owner, the first page of
`selectors.order_list` for one technician, and `services.order_create` one after another.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from django.db import connection

from bench._scratch import scratch_schema

AGREEMENTS_SQL = """
INSERT INTO service_agreement (created_at, updated_at, number, title, customer_id, owner_id, status,
    start_date, end_date, auto_renew, renewal_notice_days, value, currency, notes)
SELECT now(), now(), 'FW-B-' || lpad(i::text, 8, '0'), '运维服务 ' || i, %(c0)s + i %% %(nc)s, %(owner)s,
       'active', current_date - 200 + i %% 100, current_date + 165 + i %% 100 - 100, i %% 3 = 0, 30,
       1000 + i %% 50 * 100, 'CNY', ''
FROM generate_series(1, %(n)s) AS i
"""
ENTITLEMENTS_SQL = """
INSERT INTO service_entitlement (created_at, updated_at, agreement_id, description, unit, sold, used)
SELECT now(), now(), a.id, '服务工时', 'hours', 40, a.id % 40 FROM service_agreement a
"""
ORDERS_SQL = """
INSERT INTO service_serviceorder (created_at, updated_at, number, customer_id, agreement_id, owner_id,
    assignee_id, priority, subject, description, status, opened_at, response_due, resolution_due,
    responded_at, resolved_at, closed_at, sla_met, reopened, hours_logged, signed_by, signed_at,
    satisfaction_note, created_by_id)
SELECT now(), now(), 'GD-B-' || lpad(i::text, 9, '0'), %(c0)s + i %% %(nc)s, NULL, %(owner)s,
       (ARRAY[%(t1)s, %(t2)s, %(t3)s])[1 + i %% 3], 'normal', '故障 ' || i, '',
       CASE WHEN i %% 10 = 0 THEN 'in_progress' ELSE 'closed' END,
       now() - (i %% 365) * interval '1 day', now() - (i %% 365) * interval '1 day' + interval '8 hours',
       now() - (i %% 365) * interval '1 day' + interval '40 hours', NULL,
       CASE WHEN i %% 10 = 0 THEN NULL ELSE now() - (i %% 365) * interval '1 day' + interval '30 hours' END,
       NULL, CASE WHEN i %% 10 = 0 THEN NULL ELSE i %% 7 <> 0 END, 0, 0, '', NULL, '', NULL
FROM generate_series(1, %(n)s) AS i
"""


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


def _timed(calls: int, fn: Any) -> dict[str, float]:
    times = []
    for _i in range(calls):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {
        "calls": calls,
        "p50_ms": _pct(times, 0.50),
        "p95_ms": _pct(times, 0.95),
        "mean_ms": round(statistics.fmean(times) * 1000, 3),
    }


def run() -> dict[str, Any]:
    n_agreements = int(os.environ.get("BENCH_SERVICE_AGREEMENTS", "20000"))
    n_orders = int(os.environ.get("BENCH_SERVICE_ORDERS", "200000"))
    calls = int(os.environ.get("BENCH_SERVICE_CALLS", "50"))
    creates = int(os.environ.get("BENCH_SERVICE_CREATES", "500"))
    with scratch_schema("bench_svc"):
        from crm.modules.core.models import Customer
        from crm.modules.service import selectors, services
        from crm.modules.service.models import ServiceOrder
        from crm.tenants.accounts.models import User

        owner = User.objects.create_user("owner@bench.example.com", None, name="bench", role="owner")
        techs = [
            User.objects.create_user(f"tech{i}@bench.example.com", None, name=f"技术员{i}", role="technician")
            for i in range(3)
        ]
        customers = Customer.objects.bulk_create(Customer(name=f"客户{i}", owner=owner) for i in range(1000))
        params = {
            "c0": customers[0].pk,
            "nc": len(customers),
            "owner": owner.pk,
            "t1": techs[0].pk,
            "t2": techs[1].pk,
            "t3": techs[2].pk,
        }
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(AGREEMENTS_SQL, {**params, "n": n_agreements})
            cursor.execute(ENTITLEMENTS_SQL)
            cursor.execute(ORDERS_SQL, {**params, "n": n_orders})
            for table in ("service_agreement", "service_entitlement", "service_serviceorder"):
                cursor.execute(f"ANALYZE {table}")
        insert_seconds = time.perf_counter() - started
        assert ServiceOrder.objects.count() == n_orders

        reports = _timed(calls, lambda: selectors.reports(owner))
        order_page = _timed(calls, lambda: list(selectors.order_list(techs[0], status="open")[:25]))
        customer = customers[0]
        t0 = time.perf_counter()
        for k in range(creates):
            services.order_create(
                actor=owner, customer=customer, subject=f"新工单 {k}", priority="high", assignee=techs[k % 3]
            )
        create_seconds = time.perf_counter() - t0
        return {
            "agreements": n_agreements,
            "orders": n_orders,
            "insert_seconds": round(insert_seconds, 1),
            "reports": reports,
            "technician_open_orders_page": order_page,
            "order_create": {
                "count": creates,
                "seconds": round(create_seconds, 2),
                "orders_per_second": round(creates / create_seconds) if create_seconds else None,
            },
        }
