"""Restore: export a workspace of many customers, restore it in place and into a new schema.

Makes its own throw-away tenant (a Tenant row with status closed, so nothing periodic touches it, and a schema
cloned from the template), fills it with BENCH_RESTORE_CUSTOMERS customers (default 100,000; bulk_create in
batches), plus a contact and an activity per 10 customers, and times crm.tenants.backup:
`workspace_export_write` (MB of the zip), `workspace_restore(mode="in_place")` and
`workspace_restore(mode="new_schema")`, each including the table-by-table comparison. Files go to a
temporary MEDIA_ROOT. Everything it made (both schemas, the tenant row, the operator user, the files) is
removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from typing import Any

from django.db import connection, transaction
from django.test import override_settings
from django.utils import timezone
from django_tenants.utils import schema_context


def _fill(n: int, batch: int) -> None:
    from crm.modules.core.models import Activity, Contact, Customer

    now = timezone.now()
    for start in range(0, n, batch):
        made = Customer.objects.bulk_create(
            Customer(
                name=f"基准客户{i:07d}有限公司",
                name_normalized=f"基准客户{i:07d}有限公司",
                phone=f"139{i:08d}",
                city="上海",
                tags=["bench"],
                last_activity_at=now,
            )
            for i in range(start, min(n, start + batch))
        )
        Contact.objects.bulk_create(Contact(customer=c, name="联系人") for c in made[::10])
        Activity.objects.bulk_create(
            Activity(customer=c, purpose="拜访", occurred_at=now) for c in made[::10]
        )


def run() -> dict[str, Any]:
    from crm.tenants import backup, provisioning
    from crm.tenants.accounts.models import User
    from crm.tenants.models import Tenant, TenantStatus

    n = int(os.environ.get("BENCH_RESTORE_CUSTOMERS", "100000"))
    batch = int(os.environ.get("BENCH_RESTORE_BATCH", "5000"))
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    provisioning.template_ensure()
    tag = secrets.token_hex(4)
    schema = provisioning.new_schema_name("bench_rst")
    schemas = {schema}
    with transaction.atomic():
        provisioning.schema_clone(schema)
    tenant = Tenant.objects.create(
        schema_name=schema, slug=f"bench-rst-{tag}", name="bench restore", status=TenantStatus.CLOSED
    )
    operator = User.objects.create_user(
        f"bench-rst-{tag}@platform.example.com", None, name="bench", role="operator"
    )
    out: dict[str, Any] = {"customers": n}
    try:
        with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media):
            started = time.perf_counter()
            with schema_context(schema):
                _fill(n, batch)
            out["fill_seconds"] = round(time.perf_counter() - started, 2)
            connection.set_schema_to_public()  # type: ignore[attr-defined]

            started = time.perf_counter()
            export = backup.workspace_export_write(tenant=tenant)
            out["export_seconds"] = round(time.perf_counter() - started, 2)
            out["export_mb"] = round(export.stat().st_size / 1e6, 2)

            started = time.perf_counter()
            result = backup.workspace_restore(
                actor=operator, archive_path=export, tenant=tenant, mode="in_place"
            )
            out["restore_in_place_seconds"] = round(time.perf_counter() - started, 2)
            out["rows"] = result.rows
            out["tables"] = result.tables

            started = time.perf_counter()
            result = backup.workspace_restore(
                actor=operator, archive_path=backup.exports_list(tenant)[0], tenant=tenant, mode="new_schema"
            )
            out["restore_new_schema_seconds"] = round(time.perf_counter() - started, 2)
            schemas.add(result.schema)
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            for name in sorted(schemas):
                cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        Tenant.objects.filter(pk=tenant.pk).delete()
        # Raw: the ORM's cascade would look for tenant-only tables (they are not in the public schema).
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM accounts_user WHERE id = %s", [operator.pk])
    return out
