"""Provisioning: the fast clone reproduces the template exactly, signup claims a spare schema (refilled by
the Celery task) or clones one when the pool is empty, and never runs migrations."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models.signals import pre_migrate
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.tenants import provisioning
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.services import tenant_signup
from tests.fixtures import PASSWORD


def signature(schema: str) -> dict[str, list[Any]]:
    """Everything about a schema that a clone must reproduce, with the schema name taken out."""
    prefix = f"{schema}."
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                      pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated
               FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
               WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
               ORDER BY c.relname, a.attnum""",
            [schema],
        )
        columns = cursor.fetchall()
        cursor.execute(
            """SELECT c.relname, con.conname, con.contype, replace(pg_get_constraintdef(con.oid), %s, 'S.')
               FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1, 2""",
            [prefix, schema],
        )
        constraints = cursor.fetchall()
        cursor.execute(
            """SELECT tablename, indexname, replace(indexdef, %s, 'S.') FROM pg_indexes
               WHERE schemaname = %s ORDER BY 1, 2""",
            [prefix, schema],
        )
        indexes = cursor.fetchall()
        rows = []
        for table in sorted({c[0] for c in columns}):
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            rows.append((table, cursor.fetchone()[0]))
    return {"columns": columns, "constraints": constraints, "indexes": indexes, "rows": rows}


def schema_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        return int(cursor.fetchone()[0])


def signup(slug: str, **extra: Any) -> Any:
    data = {
        "company": f"{slug} 有限公司",
        "slug": slug,
        "owner_name": "王芳",
        "email": f"owner@{slug}.example.com",
        "password": PASSWORD,
        "modules": ["retail"],
        **extra,
    }
    return tenant_signup(**data)


def test_clone_reproduces_the_template(world: Any) -> None:
    # Given the migrated template, when it is cloned with a cold plan cache
    provisioning.plan_forget()
    method = provisioning.schema_clone("t_clone_check")
    # then the fast plan was used and tables, columns, constraints, indexes and rows all match.
    assert method == "plan"
    template = signature(provisioning.template_schema())
    clone = signature("t_clone_check")
    assert len(template["columns"]) > 50 and template["indexes"]
    assert clone == template
    # The second clone reuses the cached plan and is just as exact.
    assert provisioning.schema_clone("t_clone_check2") == "plan"
    assert signature("t_clone_check2") == template


def test_clone_needs_no_migrations_and_is_independent(world: Any) -> None:
    from django.contrib.contenttypes.models import ContentType

    from crm.tenants.accounts.models import User

    provisioning.schema_clone("t_clone_indep")
    with schema_context("t_clone_indep"):
        executor = MigrationExecutor(connection)
        assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
        applied = set(executor.loader.applied_migrations)
        # Identity sequences continue after the copied rows instead of colliding with them.
        top = ContentType.objects.order_by("-pk").values_list("pk", flat=True).first()
        created = ContentType.objects.create(app_label="bench", model="probe")
        assert top is not None and created.pk > top
        User.objects.create_user("someone@clone.example.com", PASSWORD, name="x")
    with schema_context(provisioning.template_schema()):
        assert set(MigrationExecutor(connection).loader.applied_migrations) == applied
        assert not ContentType.objects.filter(app_label="bench").exists()
        assert not User.objects.filter(email="someone@clone.example.com").exists()


def test_unsupported_template_objects_fall_back_to_the_generic_clone(world: Any) -> None:
    # A view in the template is something the fast plan does not copy: the generic clone must be used.
    tpl = provisioning.template_schema()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE VIEW "{tpl}".probe_view AS SELECT 1 AS one')
    provisioning.plan_forget()
    try:
        assert provisioning.schema_clone("t_generic") == "generic"
    finally:
        provisioning.plan_forget()
    with connection.cursor() as cursor:
        cursor.execute("SELECT one FROM t_generic.probe_view")
        assert cursor.fetchone() == (1,)
        cursor.execute("SELECT count(*) FROM t_generic.django_migrations")
        assert cursor.fetchone()[0] > 0


def test_signup_with_empty_pool_clones(world: Any, django_capture_on_commit_callbacks: Any) -> None:
    assert provisioning.pool_count() == 0
    schemas = schema_count()
    with django_capture_on_commit_callbacks(execute=True):
        result = signup("clonepath")
    assert result.path == "clone"
    assert schema_count() == schemas + 1
    assert provisioning.pool_count() == 0  # nothing was claimed, so nothing is refilled
    with schema_context(result.tenant.schema_name):
        from crm.tenants.accounts.models import User

        assert User.objects.get(pk=result.owner_id).role == "owner"


def test_signup_claims_a_spare_and_the_task_refills_the_pool(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    spare = provisioning.pool_add()
    assert provisioning.pool_count() == 1
    schemas = schema_count()
    # Claiming takes no DDL: one locking select picks the spare, one select checks that its migration
    # history is not behind the template's.
    with CaptureQueriesContext(connection) as claim:
        tenant, path = provisioning.schema_acquire()
    assert (tenant.pk, path) == (spare.pk, "pool")
    statements = [q["sql"] for q in claim.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(statements) == 2 and all(sql.startswith("SELECT") for sql in statements)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = signup("poolpath")
    assert result.path == "pool"
    assert result.tenant.schema_name == spare.schema_name
    assert Tenant.objects.get(pk=spare.pk).status == TenantStatus.TRIAL
    assert callbacks  # the refill was queued on commit ...
    # ... and the (eager, in tests) Celery task cloned a fresh spare.
    fresh = Tenant.objects.get(status=TenantStatus.POOL)
    assert fresh.schema_name != spare.schema_name
    assert schema_count() == schemas + 1


def test_signup_never_runs_migrations(world: Any) -> None:
    runs: list[Any] = []

    def record(**kwargs: Any) -> None:
        runs.append(kwargs.get("app_config"))

    pre_migrate.connect(record, dispatch_uid="test-signup-never-migrates")
    try:
        provisioning.pool_add()
        signup("nomigrate-pool")
        signup("nomigrate-clone")
    finally:
        pre_migrate.disconnect(dispatch_uid="test-signup-never-migrates")
    assert runs == []


@pytest.mark.parametrize("target", [2])
def test_pool_refill_tops_up_to_target(world: Any, target: int) -> None:
    assert provisioning.pool_refill(target=target) == target
    assert provisioning.pool_refill(target=target) == 0
    spares = Tenant.objects.filter(status=TenantStatus.POOL)
    assert spares.count() == target
    for spare in spares:
        assert signature(spare.schema_name)["rows"] == signature(provisioning.template_schema())["rows"]


def test_demo_seed_creates_a_workspace_per_mode_idempotently(world: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    from crm.tenants.accounts.models import Team, User
    from crm.tenants.selectors import enabled_modules

    out = StringIO()
    call_command("demo_seed", "--only", "retail", stdout=out)
    tenant = Tenant.objects.get(slug="retail")
    assert "retail" in enabled_modules(tenant)
    with schema_context(tenant.schema_name):
        roles = dict(User.objects.values_list("email", "role"))
        assert roles == {
            "owner@retail.demo": "owner",
            "manager@retail.demo": "manager",
            "sales1@retail.demo": "sales",
            "sales2@retail.demo": "sales",
            "clerk@retail.demo": "clerk",
        }
        assert all(u.check_password("Demo-Pass-2026") for u in User.objects.all())
        team = Team.objects.get()
        assert team.manager is not None and team.manager.email == "manager@retail.demo"
        assert set(team.members.values_list("email", flat=True)) == {
            "manager@retail.demo",
            "sales1@retail.demo",
            "sales2@retail.demo",
        }
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert User.objects.get(email="ops@localhost.example").role == "operator"
    assert "http://retail.localhost:8000/" in out.getvalue()

    # A second run changes nothing.
    before = (Tenant.objects.count(), schema_count())
    call_command("demo_seed", "--only", "retail", stdout=StringIO())
    assert (Tenant.objects.count(), schema_count()) == before
    listing = StringIO()
    call_command("demo_seed", "--list", stdout=listing)
    assert "owner@retail.demo" in listing.getvalue() and "not created yet" in listing.getvalue()


def test_bench_reports_unknown_and_failing_sections_without_crashing(capsys: Any) -> None:
    from bench.__main__ import discover, main, run_section

    assert "provisioning" in discover()
    assert "unknown section" in run_section("no_such_section")["error"]
    assert main(["no_such_section"]) == 1  # reported in the JSON (and the exit status), not raised
    report = json.loads(capsys.readouterr().out)
    assert "unknown section" in report["no_such_section"]["error"]
