"""Retail member import through the core's shared import: rows per second for a CSV of new members, and
for the same members again with changed balances (updates plus one ledger entry each). Default 100,000
rows; BENCH_RETAIL_IMPORT_ROWS for another size.

Runs in a throw-away schema cloned from the template (dropped afterwards); files go to a temporary
MEDIA_ROOT. The scratch schema has no tenant row, so the "retail is enabled here" check is stubbed to yes;
everything else (permission, validation of every row, writes in one transaction) runs as in the worker.
Timed: the whole job (read, validate, write, commit).
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from decimal import Decimal
from typing import Any
from unittest import mock

from django.db.models import Sum
from django.test import override_settings

from bench._scratch import scratch_schema

HEADER = ["姓名", "会员号", "手机", "积分", "累计消费", "有效期", "会员等级"]
TIERS = ["普通", "银卡", "金卡"]


def _csv(n: int, bonus: int) -> bytes:
    out = io.StringIO()
    out.write(",".join(HEADER) + "\n")
    for i in range(n):
        out.write(
            f"会员{i},M{i:08d},13{i:09d},{i % 5000 + bonus},{i % 90000}.50,2027-{i % 12 + 1:02d}-28,"
            f"{TIERS[i % 3]}\n"
        )
    return out.getvalue().encode("gb18030")  # as Chinese Excel saves it


def _import(actor: Any, data: bytes) -> tuple[Any, float]:
    from crm.modules.core import imports

    job = imports.import_upload(actor=actor, kind="members", filename="会员.csv", data=data)
    # import_start queues the task on commit; run its body here instead, timed.
    with mock.patch("crm.modules.core.tasks.import_run.delay"):
        imports.import_start(actor=actor, job=job, mapping=job.mapping, key="")
    started = time.perf_counter()
    job = imports.import_run(job.pk)
    seconds = time.perf_counter() - started
    assert job.status == "done", job.errors[:3]
    return job, seconds


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_RETAIL_IMPORT_ROWS", "100000"))
    with (
        tempfile.TemporaryDirectory() as media,
        override_settings(MEDIA_ROOT=media),
        mock.patch("crm.modules.core.import_kinds.enabled_here", return_value=True),
        scratch_schema("bench_rimp"),
    ):
        from crm.modules.retail.models import Member, PointsEntry, Tier
        from crm.tenants.accounts.models import User

        for rank, name in enumerate(TIERS):
            Tier.objects.create(name=name, rank=rank, threshold=Decimal(rank * 1000))
        actor = User.objects.create_user("bench@example.com", None, name="bench", role="manager")
        first, second = _csv(n, 0), _csv(n, 7)
        created, create_s = _import(actor, first)
        updated, update_s = _import(actor, second)
        balance = Member.objects.aggregate(s=Sum("points_balance"))["s"]
        ledger = PointsEntry.objects.aggregate(s=Sum("points"))["s"]
        assert created.created_count == n and updated.updated_count == n and balance == ledger
        return {
            "rows": n,
            "csv_mb": round(len(first) / 1e6, 1),
            "create": {"seconds": round(create_s, 2), "rows_per_second": round(n / create_s)},
            "update": {"seconds": round(update_s, 2), "rows_per_second": round(n / update_s)},
            "ledger_entries": PointsEntry.objects.count(),
            "balance_equals_ledger": balance == ledger,
        }
