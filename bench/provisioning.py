"""Provisioning: median time per new tenant schema by migrating, cloning the template, claiming a spare.

Measured in one run against the configured database with the full app set. Every schema and tenant row the
benchmark creates is dropped before it returns, and the spare pool is left at the size it found.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction

from crm.platform.registry import registry
from crm.tenants import provisioning
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.services import tenant_signup


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def _drop_schema(name: str) -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _claim(slug: str) -> Tenant:
    """What signup does with the schema part: take the oldest spare and turn it into a live tenant."""
    with transaction.atomic():
        tenant, path = provisioning.schema_acquire()
        if path != "pool":
            raise RuntimeError("the pool ran dry during the benchmark")
        tenant.slug = slug
        tenant.status = TenantStatus.TRIAL
        tenant.save()
    return tenant


def _signup_rolled_back(slug: str) -> None:
    with transaction.atomic():
        result = tenant_signup(
            company="Bench",
            slug=slug,
            owner_name="Bench",
            email=f"owner@{slug}.example.com",
            password="Bench-Password-2026",
            modules=[next(m.slug for m in registry.sellable() if m.available)],
        )
        if result.path != "pool":
            raise RuntimeError("signup did not claim a spare schema")
        transaction.set_rollback(True)


def run(samples: int | None = None) -> dict[str, Any]:
    samples = samples or int(os.environ.get("BENCH_SAMPLES", "5"))
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # Same starting point as `make run` (a fresh machine has no tables yet): public schema and template
    # migrated. Both are no-ops when already current.
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    provisioning.template_ensure()
    bare: list[str] = []  # schemas without a Tenant row
    tenants: list[Tenant] = []  # rows whose schema is dropped with them
    migrate_ms: list[float] = []
    clone_ms: list[float] = []
    claim_ms: list[float] = []
    signup_ms: list[float] = []
    try:
        for _ in range(samples):
            name = provisioning.new_schema_name("bench_m")
            bare.append(name)
            migrate_ms.append(_timed(lambda name=name: provisioning.schema_migrate(name)))  # type: ignore[misc]
            _drop_schema(name)

        provisioning.plan_forget()
        first_clone_ms = 0.0
        for i in range(samples):
            name = provisioning.new_schema_name("bench_c")
            bare.append(name)

            def clone_once(name: str = name) -> None:
                with transaction.atomic():
                    provisioning.schema_clone(name)

            elapsed = _timed(clone_once)
            if i == 0:
                first_clone_ms = elapsed  # includes reading the template's catalog (once per process)
            else:
                clone_ms.append(elapsed)
            _drop_schema(name)
        if not clone_ms:
            clone_ms.append(first_clone_ms)

        # Spares are cloned ahead of time (not timed), then claimed one by one as signup would.
        for _ in range(samples):
            tenants.append(provisioning.pool_add())
        for i in range(samples):
            slug = f"bench-{os.getpid()}-{i}"
            started = time.perf_counter()
            claimed = _claim(slug)
            claim_ms.append((time.perf_counter() - started) * 1000)
            if claimed not in tenants:
                tenants.append(claimed)  # an older spare was claimed; ours stays in the pool instead
        tables = next(iter(provisioning._PLANS.values()), None)

        # The whole signup service on the pool path, for scale. Rolled back, so it leaves nothing behind
        # (and queues no refill). Most of it is hashing the owner's password (PBKDF2, Django's default).
        if provisioning.pool_count() == 0:
            tenants.append(provisioning.pool_add())
        for i in range(samples):
            started = time.perf_counter()
            _signup_rolled_back(f"bench-signup-{os.getpid()}-{i}")
            signup_ms.append((time.perf_counter() - started) * 1000)
        hash_ms = _timed(lambda: make_password("Bench-Password-2026"))
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        claimed_ids = [t.pk for t in tenants if t.pk]
        for tenant in Tenant.objects.filter(pk__in=claimed_ids).exclude(status=TenantStatus.POOL):
            tenant.delete(force_drop=True)  # type: ignore[call-arg]
        for name in bare:
            _drop_schema(name)
        # The spares we added and did not claim replace the older ones we did: the pool keeps its size.

    migrate = statistics.median(migrate_ms)
    clone = statistics.median(clone_ms)
    claim = statistics.median(claim_ms)
    return {
        "migrate_ms_median": round(migrate, 1),
        "clone_ms_median": round(clone, 1),
        "pool_claim_ms_median": round(claim, 2),
        "clone_speedup_vs_migrate": round(migrate / clone, 1),
        "pool_speedup_vs_migrate": round(migrate / claim, 1),
        "samples": samples,
        "signup_service_ms_median": round(statistics.median(signup_ms), 1),
        "password_hash_ms": round(hash_ms, 1),
        "clone_first_ms": round(first_clone_ms, 1),
        "template_tables": getattr(tables, "tables", None),
        "targets_met": {
            "pool_claim_under_100ms": claim < 100,
            "pool_50x_faster_than_migrate": migrate / claim >= 50,
            "clone_5x_faster_than_migrate": migrate / clone >= 5,
        },
    }
