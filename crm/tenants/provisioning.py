"""Fast tenant provisioning: clone a migrated template schema, or claim a spare one cloned ahead of time.

Running every migration for a new schema takes seconds to tens of seconds once the app set is real, so
signup never migrates. The template schema is a Tenant row (status=template) and pool schemas are Tenant
rows (status=pool): `migrate_schemas` keeps all of them current, so a claimed schema is always up to date.
"""

from __future__ import annotations

import logging
import secrets
import time

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from crm.tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)


def template_schema() -> str:
    return settings.CRM_TEMPLATE_SCHEMA


def template_ensure(*, verbosity: int = 0) -> Tenant:
    """Create and migrate the template schema if it does not exist yet (idempotent)."""
    name = template_schema()
    tenant = Tenant.objects.filter(schema_name=name).first()
    if tenant is None:
        tenant = Tenant.objects.create(schema_name=name, status=TenantStatus.TEMPLATE, name="template")
    if not schema_exists(name):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{name}"')
    call_command("migrate_schemas", schema_name=name, tenant=True, interactive=False, verbosity=verbosity)
    connection.set_schema_to_public()
    return tenant


def new_schema_name(prefix: str = "t") -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def schema_clone(new_name: str) -> None:
    """Copy the template schema (tables, sequences, functions and its rows: migrations, content types)."""
    CloneSchema().clone_schema(template_schema(), new_name, "DATA", set_connection=True)


def schema_migrate(new_name: str) -> None:
    """The slow path, kept for the benchmark and as a last resort: migrate an empty schema."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{new_name}"')
    call_command("migrate_schemas", schema_name=new_name, tenant=True, interactive=False, verbosity=0)
    connection.set_schema_to_public()


def pool_count() -> int:
    return Tenant.objects.filter(status=TenantStatus.POOL).count()


def pool_add() -> Tenant:
    """Clone one spare schema into the pool."""
    name = new_schema_name("pool")
    with transaction.atomic():
        schema_clone(name)
        return Tenant.objects.create(schema_name=name, status=TenantStatus.POOL)


def pool_refill(*, target: int | None = None) -> int:
    """Clone spare schemas until the pool holds `target` (default CRM_POOL_SIZE). Returns how many added."""
    target = settings.CRM_POOL_SIZE if target is None else target
    added = 0
    # A lock so two workers refilling at once do not overshoot.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(7301001)")
            if not cursor.fetchone()[0]:
                return 0
        while pool_count() < target:
            pool_add()
            added += 1
    return added


def pool_rebuild() -> int:
    """Drop every spare schema and clone fresh ones (after a template change outside migrations)."""
    for spare in Tenant.objects.filter(status=TenantStatus.POOL):
        spare.delete(force_drop=True)
    return pool_refill()


def schema_acquire() -> tuple[Tenant, str]:
    """A schema for a new tenant: claimed from the pool (fast) or freshly cloned. Call inside a transaction.

    Returns the (unsaved when cloned) Tenant row and the path used: "pool" or "clone".
    """
    spare = (
        Tenant.objects.select_for_update(skip_locked=True)
        .filter(status=TenantStatus.POOL)
        .order_by("id")
        .first()
    )
    if spare is not None:
        return spare, "pool"
    name = new_schema_name()
    started = time.perf_counter()
    schema_clone(name)
    log.warning("schema pool empty: cloned %s in %.0f ms", name, (time.perf_counter() - started) * 1000)
    return Tenant(schema_name=name), "clone"
