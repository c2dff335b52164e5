"""Operations at many tenants: creating N workspaces through signup, a no-op migrate and a one-column migrate
across all of them (django-tenants' `migrate_schemas` vs this project's `migrate_tenants`), the beat
fan-out over N tenants, and the catalogue each tenant schema costs.

BENCH_TENANTS (default 1,000) workspaces are created and, with their schemas, dropped again at the end
(BENCH_CLEANUP=0 leaves them, for a scratch database that is dropped whole afterwards).
BENCH_STANDARD=0 skips the (slow, quadratic) standard `migrate_schemas` runs; BENCH_ONE_COLUMN=0 skips the
one-column migration (the no-op figures alone).

The one-column run is bounded by BENCH_ONE_COLUMN_BUDGET_S (default 1,500 s): a probe of
BENCH_ONE_COLUMN_PROBE schemas (default 50) is migrated first; when the per-schema time projects the whole
run over the budget, only as many schemas as fit are unapplied and migrated (all N tenants stay in the
database, so the per-schema cost is the one at N), and the JSON says so (`one_column_migrate_s.schemas`,
`projected_all_s`). Load averages (`os.getloadavg()`) are recorded before and after each phase: the
machine is shared, read the figures with them. Progress goes to stderr.

The one-column migration (BENCH_ONE_COLUMN_MIGRATION): sales 0004 by default (a nullable column and a SQL
backfill, which migrate_tenants compiles once and applies per schema), or retail.0003 (a nullable FK column
with its index and constraint and a Python backfill: the standard per-schema path). It is unapplied in every
schema in one batch of SQL (column dropped, migration record deleted), then each command is timed bringing
all schemas back.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

from django.core.management import call_command
from django.db import connection

from crm.tenants import migrator, provisioning
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.services import tenant_signup

PREFIX = "bscale"
SIGNUPS = 10


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _say(message: str) -> None:
    print(f"[tenants_scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _create(n: int) -> tuple[list[str], list[float]]:
    """N workspaces: the first and last SIGNUPS through the signup service (timed: creation stays flat as
    tenants accumulate), the ones between by the same clone signup uses, without the password hashing and
    the owner account (about 1 s of each signup here, and not what grows with the tenant count)."""
    schemas: list[str] = []
    times: list[float] = []
    for i in range(n):
        started = time.perf_counter()
        if i < SIGNUPS or i >= n - SIGNUPS:
            result = tenant_signup(
                company=f"规模测试 {i}",
                slug=f"{PREFIX}{i}",
                owner_name="测试",
                email=f"owner{i}@{PREFIX}.example.com",
                password="Bench-Password-2026",
                modules=["retail"],
            )
            schemas.append(result.tenant.schema_name)
            times.append((time.perf_counter() - started) * 1000)
        else:
            name = provisioning.new_schema_name()
            provisioning.schema_clone(name)
            Tenant.objects.create(schema_name=name, slug=f"{PREFIX}{i}", name=name, status=TenantStatus.TRIAL)
            schemas.append(name)
        if (i + 1) % 100 == 0:
            _say(f"{i + 1}/{n} tenants created, load {_load()}")
    return schemas, times


# The one-column migration to unapply and bring back (BENCH_ONE_COLUMN_MIGRATION): sales 0004 (a nullable
# column and a SQL backfill: compiled once into SQL and applied per schema) or retail 0003 (a nullable FK
# with a Python backfill: the standard per-schema migrate).
ONE_COLUMN = {
    "sales.0004": ("sales_opportunity", "reached_position", "sales", "0004_opportunity_reached_position"),
    "retail.0003": ("retail_sale", "tier_id", "retail", "0003_sale_tier"),
}


def _unapply_sql(schema: str) -> str:
    # A quoted schema name from our own rows: no input reaches this SQL.
    table, column, app, name = ONE_COLUMN[os.environ.get("BENCH_ONE_COLUMN_MIGRATION", "sales.0004")]
    history = f"{_q(schema)}.django_migrations"
    drop = f"ALTER TABLE {_q(schema)}.{table} DROP COLUMN IF EXISTS {column}"
    forget = f"DELETE FROM {history} WHERE app = '{app}' AND name = '{name}'"  # noqa: S608
    return f"{drop};{forget}"


def _unapply_retail_0003(schemas: list[str]) -> None:
    with connection.cursor() as cursor:
        for start in range(0, len(schemas), 200):
            cursor.execute(";".join(_unapply_sql(s) for s in schemas[start : start + 200]))


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return round(time.perf_counter() - started, 2)


def _catalogue(schema: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relkind, count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s GROUP BY 1",
            [schema],
        )
        kinds = dict(cursor.fetchall())
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'i')",
            [schema],
        )
        size = int(cursor.fetchone()[0])
    return {
        "relations": sum(kinds.values()),
        "tables": kinds.get("r", 0),
        "indexes": kinds.get("i", 0),
        "sequences": kinds.get("S", 0),
        "empty_size_kb": size // 1024,
    }


def _fanout(n_expected: int) -> dict[str, Any]:
    from celery import current_app

    from crm.platform.tasks import module_fanout

    started = time.perf_counter()
    queued = module_fanout("core", "crm.modules.core.tasks.task_reminders")
    seconds = time.perf_counter() - started
    current_app.control.purge()  # nobody consumes them here
    return {
        "queued": queued,
        "seconds": round(seconds, 2),
        "ms_per_tenant": round(seconds * 1000 / queued, 2),
    }


def _migrate_figures(report: migrator.MigrateReport, seconds: float) -> dict[str, Any]:
    per_schema = [r.seconds * 1000 for r in report.migrated]
    return {
        "seconds": seconds,
        "migrated": len(report.migrated),
        "failed": len(report.failed),
        # Wall time per schema (2 workers side by side) and one schema's own migrate command.
        "wall_ms_per_schema": round(seconds * 1000 / len(per_schema), 1) if per_schema else None,
        "schema_ms_median": round(statistics.median(per_schema), 1) if per_schema else None,
    }


def _one_column(schemas: list[str]) -> dict[str, Any]:
    """Retail 0003 unapplied and migrated again: a probe first, then as many more as the budget allows."""
    budget = float(os.environ.get("BENCH_ONE_COLUMN_BUDGET_S", "1500"))
    probe = schemas[: int(os.environ.get("BENCH_ONE_COLUMN_PROBE", "50"))]
    out: dict[str, Any] = {
        "migration": os.environ.get("BENCH_ONE_COLUMN_MIGRATION", "sales.0004"),
        "load_before": _load(),
    }
    report: list[migrator.MigrateReport] = []
    _unapply_retail_0003(probe)
    seconds = _timed(lambda: report.append(migrator.migrate_tenants(workers=2)))
    out["probe"] = _migrate_figures(report[0], seconds)
    per_schema = seconds / max(1, len(probe))
    out["projected_all_s"] = round(per_schema * len(schemas), 1)
    _say(
        f"one column, probe of {len(probe)}: {seconds} s; "
        f"all {len(schemas)} projected {out['projected_all_s']} s"
    )
    fit = min(len(schemas), int(budget / per_schema)) if per_schema else len(schemas)
    batch = schemas[:fit]
    _unapply_retail_0003(batch)
    report.clear()
    seconds = _timed(lambda: report.append(migrator.migrate_tenants(workers=2)))
    out["schemas"] = len(batch)
    out["all_tenants"] = len(schemas) == len(batch)
    out["migrate_tenants_2_workers"] = seconds
    out.update({k: v for k, v in _migrate_figures(report[0], seconds).items() if k != "seconds"})
    out["load_after"] = _load()
    _say(f"one column over {len(batch)} schemas: {seconds} s")
    return out


def _cleanup() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    for tenant in Tenant.objects.filter(slug__startswith=PREFIX):
        tenant.delete(force_drop=True)  # type: ignore[call-arg]


def run() -> dict[str, Any]:
    n = int(os.environ.get("BENCH_TENANTS", "1000"))
    standard = os.environ.get("BENCH_STANDARD", "1") != "0"
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    provisioning.template_ensure()
    _cleanup()
    out: dict[str, Any] = {"tenants": n, "cpus": os.cpu_count(), "load_at_start": _load()}
    try:
        started = time.perf_counter()
        schemas, times = _create(n)
        created = time.perf_counter() - started
        half = max(1, len(times) // 2)
        out["signup_ms"] = {
            "first_signups_median": round(statistics.median(times[:half]), 1),
            "last_signups_median": round(statistics.median(times[half:] or times), 1),
        }
        out["create"] = {
            "seconds": round(created, 1),
            "tenants_per_s": round(n / created, 2),
            "load_after": _load(),
        }
        total_schemas = Tenant.objects.exclude(status=TenantStatus.PLATFORM).count()
        out["schemas_migrated_over"] = total_schemas
        out["catalogue_per_tenant"] = _catalogue(schemas[0])
        out["noop_migrate_s"] = {"migrate_tenants": _timed(lambda: migrator.migrate_tenants(workers=2))}
        out["noop_migrate_s"]["load_after"] = _load()
        _say(f"no-op migrate_tenants: {out['noop_migrate_s']['migrate_tenants']} s")
        if standard:
            out["noop_migrate_s"]["migrate_schemas"] = _timed(
                lambda: call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
            )
        if os.environ.get("BENCH_ONE_COLUMN", "1") == "0":
            out["beat_fanout"] = _fanout(n)
            return out
        one_column = _one_column(schemas)
        if standard:
            _unapply_retail_0003(schemas)
            one_column["migrate_schemas"] = _timed(
                lambda: call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)
            )
        out["one_column_migrate_s"] = one_column
        out["stale_after"] = len(migrator.stale_schemas(schemas))
        out["beat_fanout"] = _fanout(n)
        out["load_at_end"] = _load()
    finally:
        if os.environ.get("BENCH_CLEANUP", "1") != "0":
            _cleanup()
    return out
