"""Retail: member lookup latency at a large member count, and the sale recording rate.

Runs in a throw-away schema cloned from the template (dropped afterwards). Members are inserted with one
INSERT ... SELECT generate_series (default 1,000,000; BENCH_RETAIL_MEMBERS for a smaller run). Timed:
`services.member_lookup` as the clerk's view calls it (server time, no HTTP), half hits and half misses
(right number, wrong name); and `services.sale_record` one after another on random members (each one a
transaction with the member row lock, ledger entry, spend and tier check).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from decimal import Decimal
from typing import Any

from django.db import connection

from bench._scratch import scratch_schema

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕鹏辉建林"

MEMBERS_SQL = """
INSERT INTO retail_member (created_at, updated_at, name, member_no, phone, email, points_balance,
    total_spend, currency, opt_out_sms, opt_out_email, tier_spend_base, tier_id)
SELECT now(), now(),
       substr(%(s)s, 1 + i %% length(%(s)s), 1) || substr(%(g)s, 1 + (i / 7) %% length(%(g)s), 1)
           || substr(%(g)s, 1 + (i / 53) %% length(%(g)s), 1),
       'M' || lpad(i::text, 8, '0'), '13' || lpad(i::text, 9, '0'), '', 0, 0, 'CNY', false, false, 0, %(tier)s
FROM generate_series(1, %(n)s) AS i
"""


def _name(i: int) -> str:
    return SURNAMES[i % len(SURNAMES)] + GIVEN[(i // 7) % len(GIVEN)] + GIVEN[(i // 53) % len(GIVEN)]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_RETAIL_MEMBERS", "1000000"))
    lookups = int(os.environ.get("BENCH_RETAIL_LOOKUPS", "2000"))
    sales = int(os.environ.get("BENCH_RETAIL_SALES", "2000"))
    with scratch_schema("bench_ret"):
        from crm.modules.retail import services
        from crm.modules.retail.models import Member, Store, StoreClerk, Tier
        from crm.tenants.accounts.models import User

        clerk = User.objects.create_user("clerk@bench.example.com", None, name="bench", role="clerk")
        store = Store.objects.create(name="基准店", code="B01")
        StoreClerk.objects.create(store=store, user=clerk)
        base = Tier.objects.create(name="普通", rank=0, threshold=Decimal("0"))
        silver = {"threshold": Decimal("2000"), "points_multiplier": Decimal("1.5")}
        Tier.objects.create(name="银卡", rank=1, **silver)
        services.points_rule_get()
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(MEMBERS_SQL, {"s": SURNAMES, "g": GIVEN, "tier": base.pk, "n": n})
            cursor.execute("ANALYZE retail_member")
        insert_seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN SELECT * FROM retail_member WHERE member_no = %s AND name = %s",
                ["M00000042", _name(42)],
            )
            plan = cursor.fetchone()[0]

        rng = random.Random(5)
        times: list[float] = []
        hits = 0
        for k in range(lookups):
            i = rng.randint(1, n)
            who = _name(i) if k % 2 == 0 else _name(i) + "X"  # misses: right number, wrong name
            t0 = time.perf_counter()
            found = services.member_lookup(actor=clerk, name=who, member_no=f"m{i:08d}")
            times.append(time.perf_counter() - t0)
            hits += found is not None
        assert hits == (lookups + 1) // 2, hits

        ids = list(Member.objects.order_by("?").values_list("pk", flat=True)[: min(sales, 500)])
        members = {m.pk: m for m in Member.objects.filter(pk__in=ids)}
        t0 = time.perf_counter()
        for k in range(sales):
            member = members[ids[k % len(ids)]]
            services.sale_record(actor=clerk, member=member, store=store, amount=Decimal("88.80"))
        sale_seconds = time.perf_counter() - t0
        return {
            "members": n,
            "insert_seconds": round(insert_seconds, 1),
            "lookup": {
                "calls": lookups,
                "p50_ms": _pct(times, 0.50),
                "p95_ms": _pct(times, 0.95),
                "p99_ms": _pct(times, 0.99),
                "mean_ms": round(statistics.fmean(times) * 1000, 3),
                "plan": plan,
            },
            "sales": {
                "count": sales,
                "seconds": round(sale_seconds, 2),
                "sales_per_second": round(sales / sale_seconds),
            },
        }
