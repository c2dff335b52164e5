"""`migrate_tenants` (crm/tenants/migrator.py): current schemas are skipped in one query, the template and
the spare pool go first with clones held off, a failing schema is reported while the others go on, and a
signup never claims a spare that is behind the template (issue 13, section 4)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from crm.tenants import migrator, provisioning
from crm.tenants.models import Tenant, TenantStatus

pytestmark = pytest.mark.django_db


def new_schema(status: str = TenantStatus.ACTIVE, prefix: str = "t") -> str:
    """A tenant schema cloned from the (current) template, with its Tenant row."""
    name = provisioning.new_schema_name(prefix)
    provisioning.schema_clone(name)
    Tenant.objects.create(schema_name=name, status=status, name=name)
    return name


def roll_back_last_retail_migration(schema: str) -> None:
    """Given: a schema one migration behind (retail 0003 unapplied: the sale's tier column is gone)."""
    call_command("migrate_schemas", "retail", "0002", schema_name=schema, interactive=False, verbosity=0)
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def has_tier_column(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = 'retail_sale' "
            "AND column_name = 'tier_id'",
            [schema],
        )
        return cursor.fetchone() is not None


def test_current_schemas_are_skipped_in_a_constant_number_of_queries(world: Any) -> None:
    schemas = [new_schema() for _ in range(3)]
    with CaptureQueriesContext(connection) as few:
        assert migrator.stale_schemas(schemas[:1]) == []
    with CaptureQueriesContext(connection) as more:
        assert migrator.stale_schemas(schemas) == []
    assert len(few) == len(more) <= 3

    report = migrator.migrate_tenants(schemas=schemas, workers=1)
    assert sorted(report.skipped) == sorted(schemas)
    assert report.migrated == []


def test_stale_schema_is_migrated_and_a_failing_one_does_not_stop_the_others(world: Any) -> None:
    good, bad, current = new_schema(), new_schema(), new_schema()
    roll_back_last_retail_migration(good)
    roll_back_last_retail_migration(bad)
    # The failing one: the column the migration adds is already there, so applying it errors.
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{bad}".retail_sale ADD COLUMN tier_id bigint')
    assert migrator.stale_schemas([good, bad, current]) == [good, bad]

    report = migrator.migrate_tenants(schemas=[good, bad, current], workers=1)

    assert report.skipped == [current]
    assert {r.schema: r.ok for r in report.migrated} == {good: True, bad: False}
    assert "tier_id" in report.failed[0].error
    assert has_tier_column(good) and migrator.schema_is_current(good)
    assert not migrator.schema_is_current(bad)  # listed for a retry, still behind


def test_template_and_pool_are_migrated_before_the_other_schemas(world: Any) -> None:
    tenant = new_schema()
    spare = new_schema(status=TenantStatus.POOL, prefix="pool")
    tpl = provisioning.template_schema()
    for schema in (tenant, spare, tpl):
        roll_back_last_retail_migration(schema)

    report = migrator.migrate_tenants(schemas=[tenant, spare, tpl], workers=1)

    assert report.order == [tpl, spare, tenant]
    assert all(r.ok for r in report.migrated)
    assert all(migrator.schema_is_current(s) for s in (tpl, spare, tenant))


def test_a_signup_never_claims_a_spare_behind_the_template(world: Any) -> None:
    old_spare = new_schema(status=TenantStatus.POOL, prefix="pool")
    roll_back_last_retail_migration(old_spare)
    assert migrator.history_behind(old_spare, provisioning.template_schema())

    claimed, path = provisioning.schema_acquire()

    assert claimed.schema_name != old_spare
    current_spare = new_schema(status=TenantStatus.POOL, prefix="pool")
    claimed, path = provisioning.schema_acquire()
    assert (claimed.schema_name, path) == (current_spare, "pool")


def test_a_clone_waits_while_the_template_is_being_migrated(world: Any) -> None:
    # Given: the migration lock held, as while the template and the pool are migrated.
    name = provisioning.new_schema_name("t_wait")
    finished_at: list[float] = []

    def clone_in_another_session() -> None:
        # A thread has its own database connection, outside the test's transaction.
        try:
            provisioning.schema_clone(name)
            finished_at.append(time.monotonic())
        finally:
            connections.close_all()

    try:
        with migrator.clone_lock_exclusive():
            worker = threading.Thread(target=clone_in_another_session)
            worker.start()
            time.sleep(0.8)
            released_at = time.monotonic()
            # When a clone starts meanwhile, then it does not finish while the lock is held ...
            assert finished_at == []
        worker.join(timeout=30)
        # ... and goes through once the migration lets go.
        assert finished_at and finished_at[0] >= released_at
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_fast_recorder_answers_like_django(world: Any) -> None:
    from django.db.migrations.recorder import MigrationRecorder

    schema = new_schema()
    connection.set_schema(schema, include_public=False)  # type: ignore[attr-defined]
    try:
        slow = MigrationRecorder(connection).has_table()
        with migrator.fast_recorder():
            fast = MigrationRecorder(connection).has_table()
        with connection.cursor() as cursor:
            cursor.execute("CREATE SCHEMA t_no_migrations")
        connection.set_schema("t_no_migrations", include_public=False)  # type: ignore[attr-defined]
        with migrator.fast_recorder():
            missing = MigrationRecorder(connection).has_table()
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    assert slow is True and fast is True and missing is False


def drop_reached_position(schema: str) -> None:
    """Given: a schema as it was before sales 0004, a one-column migration (AddField + a RunSQL backfill)
    that a release would bring: the column gone and its record removed."""
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{schema}".sales_opportunity DROP COLUMN reached_position')
        cursor.execute(
            f'DELETE FROM "{schema}".django_migrations WHERE app = %s AND name = %s',
            ["sales", "0004_opportunity_reached_position"],
        )


def has_column(schema: str, table: str, column: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
            "AND column_name = %s",
            [schema, table, column],
        )
        return cursor.fetchone() is not None


def test_a_one_column_migration_is_compiled_once_and_applied_to_every_schema(world: Any, monkeypatch) -> None:
    # Given three schemas one column behind, and one already current
    behind = [new_schema() for _ in range(3)]
    current = new_schema()
    for schema in behind:
        drop_reached_position(schema)
    assert migrator.stale_schemas([*behind, current]) == behind
    # The standard per-schema path must not run: the plan is compiled into SQL once and applied to each
    monkeypatch.setattr(migrator, "migrate_one", lambda *a, **k: pytest.fail("standard path used"))
    seen: list[tuple[str, int, int]] = []
    report = migrator.migrate_tenants(
        schemas=[*behind, current], workers=1, progress=lambda r, d, t: seen.append((r.schema, d, t))
    )
    # Then each schema has the column and the record, the current one was skipped, progress counted all
    assert sorted(r.schema for r in report.migrated) == sorted(behind) and report.failed == []
    assert report.skipped == [current]
    assert all(has_column(s, "sales_opportunity", "reached_position") for s in behind)
    assert migrator.stale_schemas([*behind, current]) == []
    assert [(d, t) for _s, d, t in seen] == [(1, 3), (2, 3), (3, 3)]


def test_plans_that_create_models_or_run_python_take_the_standard_path(world: Any) -> None:
    # Given a schema whose plan creates a model (retail's care runs) and runs Python (retail 0003)
    schema = new_schema()
    roll_back_last_retail_migration(schema)
    # Then it is not compiled; and a schema one column behind is
    assert migrator.compiled_plan(schema) is None
    other = new_schema()
    drop_reached_position(other)
    compiled = migrator.compiled_plan(other)
    assert compiled is not None
    statements, records = compiled
    assert records == [("sales", "0004_opportunity_reached_position")]
    assert any("ADD COLUMN" in sql and "reached_position" in sql for sql in statements)
    assert not any(other in sql for sql in statements)  # unqualified: applies to any schema on the path


def test_a_compiled_migration_that_fails_in_one_schema_leaves_it_untouched(world: Any) -> None:
    good, bad = new_schema(), new_schema()
    for schema in (good, bad):
        drop_reached_position(schema)
    # The failing one: the column is back without its record, so ADD COLUMN errors there
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE "{bad}".sales_opportunity ADD COLUMN reached_position smallint')
    report = migrator.migrate_tenants(schemas=[good, bad], workers=1)
    assert [r.schema for r in report.failed] == [bad]
    assert "reached_position" in report.failed[0].error
    assert migrator.stale_schemas([good, bad]) == [bad]  # the record was not written there either
