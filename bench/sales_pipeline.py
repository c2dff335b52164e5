"""Sales pipeline: the reports (weighted forecast by month and rep, win rate, cycle time, stage conversion)
and the kanban / list selectors at a large opportunity count.

Runs in a throw-away schema cloned from the template (dropped afterwards). A manager with a team of reps
(BENCH_PIPELINE_REPS, default 20), customers (BENCH_PIPELINE_CUSTOMERS, default 2,000) and opportunities
(BENCH_PIPELINE_OPPORTUNITIES, default 100,000) over the default stages, inserted with INSERT ... SELECT
generate_series, each with one stage-log row for its first stage and one more when it moved on. Timed
(server time, no HTTP, BENCH_PIPELINE_RUNS calls each, default 30): `pipeline_reports` for the owner (all
rows) and for the manager (team scope), `kanban` for the owner and for one rep, and the list page's query
(first page of 25 plus the count).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.db import connection

from bench._scratch import scratch_schema

OPPORTUNITIES_SQL = """
INSERT INTO sales_opportunity (created_at, updated_at, name, customer_id, owner_id, stage_id, status,
    amount, currency, probability, expected_close, source, competitor, lost_reason, notes, stage_changed_at,
    closed_at)
SELECT t.c, t.c, '基准商机' || i,
       (%(customers)s::bigint[])[1 + i %% cardinality(%(customers)s::bigint[])],
       (%(owners)s::bigint[])[1 + (i / 7) %% cardinality(%(owners)s::bigint[])],
       st.id, st.status, (1000 + (i * 37) %% 500000)::numeric(16, 2), 'CNY', st.prob,
       current_date + ((i %% 540) - 180), '', '', CASE WHEN st.status = 'lost' THEN '价格' ELSE '' END, '',
       t.c, CASE WHEN st.status <> 'open' THEN LEAST(now(), t.c + interval '20 days') END
FROM generate_series(1, %(n)s) AS i
CROSS JOIN LATERAL (SELECT now() - ((i %% 365) || ' days')::interval AS c) AS t
CROSS JOIN LATERAL (
    SELECT (%(stage_ids)s::bigint[])[1 + i %% cardinality(%(stage_ids)s::bigint[])] AS id,
           (%(stage_status)s::text[])[1 + i %% cardinality(%(stage_ids)s::bigint[])] AS status,
           (%(stage_prob)s::int[])[1 + i %% cardinality(%(stage_ids)s::bigint[])] AS prob
) AS st
"""

LOG_SQL = """
INSERT INTO sales_opportunitystagelog (created_at, updated_at, opportunity_id, from_stage_id, to_stage_id,
    actor_id)
SELECT o.created_at, o.created_at, o.id, NULL, %(first)s, o.owner_id FROM sales_opportunity o
UNION ALL
SELECT o.stage_changed_at, o.stage_changed_at, o.id, %(first)s, o.stage_id, o.owner_id
FROM sales_opportunity o WHERE o.stage_id <> %(first)s
"""


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def _timed(call: Callable[[], Any], runs: int) -> dict[str, float]:
    call()  # warm (plans, caches) out of the samples
    samples = []
    for _i in range(runs):
        t0 = time.perf_counter()
        call()
        samples.append(time.perf_counter() - t0)
    return {
        "calls": runs,
        "p50_ms": _pct(samples, 0.50),
        "p95_ms": _pct(samples, 0.95),
        "mean_ms": round(statistics.fmean(samples) * 1000, 2),
    }


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_PIPELINE_OPPORTUNITIES", "100000"))
    n_reps = max(1, int(os.environ.get("BENCH_PIPELINE_REPS", "20")))
    n_customers = max(1, int(os.environ.get("BENCH_PIPELINE_CUSTOMERS", "2000")))
    runs = max(1, int(os.environ.get("BENCH_PIPELINE_RUNS", "30")))
    with scratch_schema("bench_pipe"):
        from crm.modules.core.public import Customer
        from crm.modules.sales import selectors_pipeline as sel
        from crm.modules.sales.models import Opportunity, OpportunityStageLog
        from crm.modules.sales.services_pipeline import reached_recompute, stages_ensure
        from crm.tenants.accounts.models import Team, User

        owner = User.objects.create_user("owner@bench.example.com", None, name="bench owner", role="owner")
        manager = User.objects.create_user("manager@bench.example.com", None, name="经理", role="manager")
        team = Team.objects.create(name="基准团队", manager=manager)
        reps = [
            User.objects.create_user(
                f"rep{i}@bench.example.com", None, name=f"销售{i}", role="sales", team=team
            )
            for i in range(n_reps)
        ]
        customers = Customer.objects.bulk_create(
            Customer(name=f"基准客户{i}", name_normalized=f"基准客户{i}", owner=reps[i % n_reps])
            for i in range(n_customers)
        )
        stages = stages_ensure()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(
                OPPORTUNITIES_SQL,
                {
                    "customers": [c.pk for c in customers],
                    "owners": [r.pk for r in reps],
                    "n": n,
                    "stage_ids": [s.pk for s in stages],
                    "stage_status": [s.kind for s in stages],
                    "stage_prob": [s.probability for s in stages],
                },
            )
            cursor.execute(LOG_SQL, {"first": stages[0].pk})
        recompute_started = time.perf_counter()
        reached_recompute()  # what renumbering the stages costs at this size
        recompute_seconds = time.perf_counter() - recompute_started
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE sales_opportunity")
            cursor.execute("ANALYZE sales_opportunitystagelog")
        insert_seconds = time.perf_counter() - started
        assert Opportunity.objects.count() == n
        logs = OpportunityStageLog.objects.count()

        period = sel.default_period()
        rep = reps[0]

        def list_page(user: Any) -> Callable[[], Any]:
            def call() -> Any:
                qs = sel.opportunity_list(user).order_by("-updated_at", "-id")
                return list(qs[:25]), qs.count()

            return call

        report = sel.pipeline_reports(owner, period)
        return {
            "opportunities": n,
            "stage_log_rows": logs,
            "reps": n_reps,
            "customers": n_customers,
            "insert_seconds": round(insert_seconds, 1),
            "reached_recompute_seconds": round(recompute_seconds, 2),
            "reports_owner": _timed(lambda: sel.pipeline_reports(owner, period), runs),
            "reports_manager": _timed(lambda: sel.pipeline_reports(manager, period), runs),
            "kanban_owner": _timed(lambda: sel.kanban(owner), runs),
            "kanban_rep": _timed(lambda: sel.kanban(rep), runs),
            "list_owner": _timed(list_page(owner), runs),
            "list_rep": _timed(list_page(rep), runs),
            "check": {"weighted_total": str(report["weighted_total"]), "win_rate": report["win_rate"]},
        }
