"""Core import: rows per second importing customers from .xlsx and from CSV (default 100,000 rows each).

Runs in a throw-away schema cloned from the template (dropped afterwards); files go to a temporary
MEDIA_ROOT. Timed: the whole import job (read, validate every row, upsert in one transaction).
Set BENCH_IMPORT_ROWS for a smaller run.
"""

from __future__ import annotations

import io
import os
import tempfile
import time
from typing import Any

from django.db import connection
from django.test import override_settings

from bench._scratch import scratch_schema

CITIES = ["上海", "苏州", "杭州", "深圳", "北京", "青岛", "成都", "武汉"]
HEADER = ["客户名称", "手机", "邮箱", "城市", "阶段", "来源", "联系人", "标签"]


def _row(i: int) -> list[str]:
    return [
        f"{CITIES[i % 8]}测试{i}贸易有限公司",
        f"13{i:09d}",
        f"c{i}@example.cn",
        CITIES[i % 8],
        "线索",
        "展会",
        f"王{i % 100}",
        "重点",
    ]


def _csv(n: int) -> bytes:
    out = io.StringIO()
    out.write(",".join(HEADER) + "\n")
    for i in range(n):
        out.write(",".join(_row(i)) + "\n")
    return out.getvalue().encode("gb18030")  # as Chinese Excel saves it


def _xlsx(n: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(HEADER)
    for i in range(n):
        ws.append(_row(i))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _import(actor: Any, name: str, data: bytes) -> dict[str, Any]:
    from crm.modules.core import imports
    from crm.modules.core.models import Customer, ImportJob

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE core_customer, core_contact CASCADE")
    job = imports.import_upload(actor=actor, kind="customers", filename=name, data=data)
    # Same as import_start, without the Celery hop: the job runs here, timed.
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED, key="phone")
    started = time.perf_counter()
    job = imports.import_run(job.pk)
    seconds = time.perf_counter() - started
    assert job.status == "done" and job.created_count == Customer.objects.count(), job.errors[:3]
    return {
        "rows": job.created_count,
        "seconds": round(seconds, 2),
        "rows_per_second": round(job.created_count / seconds),
    }


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_IMPORT_ROWS", "100000"))
    with (
        tempfile.TemporaryDirectory() as media,
        override_settings(MEDIA_ROOT=media),
        scratch_schema("bench_imp"),
    ):
        from crm.tenants.accounts.models import User

        actor = User.objects.create_user("bench@example.com", None, name="bench", role="admin")
        csv_data, xlsx_data = _csv(n), _xlsx(n)
        return {
            "csv_gb18030": _import(actor, "customers.csv", csv_data),
            "xlsx": _import(actor, "customers.xlsx", xlsx_data),
            "csv_mb": round(len(csv_data) / 1e6, 1),
            "xlsx_mb": round(len(xlsx_data) / 1e6, 1),
        }
