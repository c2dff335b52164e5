"""Migrating thousands of tenant schemas: skip the current ones, template and spare pool first, the rest in
parallel, every schema's outcome reported (issue 13, section 4).

Why not plain `migrate_schemas`:
- It runs the full migrate command for every schema even when nothing is pending, and Django's
  `MigrationRecorder.has_table` introspects the table list (all of `pg_class`, with a visibility check per
  row) several times per schema: the cost of one schema grows with the number of schemas, the whole run
  with its square. Here one query reads every schema's applied migrations and the current schemas are
  skipped; `has_table` asks `to_regclass` on the schema's own table.
- It walks tenants newest first and fixes the list at the start, so the template (the oldest row) is
  migrated last while signups clone it and the pool refill copies it: new workspaces get an old schema.
  Here the template and the pool go first, under an advisory lock that `schema_clone` also takes (shared),
  so no clone copies a template that is being migrated; a final pass picks up schemas created meanwhile.
- One failing schema stops it. Here a failure is reported with its reason and the others go on; the failed
  schemas are listed for a retry (`manage.py migrate_tenants --schema ...`).
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from django.db import connection, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from crm.tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)

# Held exclusively while the template and the pool are migrated; `schema_clone` holds it shared.
CLONE_LOCK = 7301002


@dataclass
class SchemaResult:
    schema: str
    ok: bool
    seconds: float
    error: str = ""


@dataclass
class MigrateReport:
    """What a run did: schemas found current (skipped), migrated, failed; and the time it took."""

    skipped: list[str] = field(default_factory=list)
    migrated: list[SchemaResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[SchemaResult]:
        return [r for r in self.migrated if not r.ok]

    @property
    def order(self) -> list[str]:
        return [r.schema for r in self.migrated]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def expected_migrations() -> set[tuple[str, str]]:
    """Every migration a tenant schema records once it is current (django-tenants records all apps'
    migrations in every schema, also those whose operations its router skips there)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return set(loader.graph.nodes)


def applied_counts(schemas: Sequence[str], expected: set[tuple[str, str]]) -> dict[str, int]:
    """How many of the expected migrations each schema has recorded, in one query (a schema without a
    `django_migrations` table counts 0)."""
    if not schemas:
        return {}
    keys = sorted(f"{app}.{name}" for app, name in expected)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s) "
            "AND to_regclass(quote_ident(nspname) || '.django_migrations') IS NOT NULL",
            [list(schemas)],
        )
        with_table = [row[0] for row in cursor.fetchall()]
        counts = dict.fromkeys(schemas, 0)
        # Batches keep one statement's size bounded at thousands of schemas.
        for start in range(0, len(with_table), 500):
            part = with_table[start : start + 500]
            sql = " UNION ALL ".join(
                f"SELECT %s, count(*) FROM {_q(s)}.django_migrations WHERE app || '.' || name = ANY(%s)"  # noqa: S608
                for s in part
            )
            params: list[Any] = []
            for s in part:
                params += [s, keys]
            cursor.execute(sql, params)
            counts.update({row[0]: int(row[1]) for row in cursor.fetchall()})
    return counts


def stale_schemas(schemas: Sequence[str]) -> list[str]:
    """The schemas (in the given order) that miss at least one migration."""
    expected = expected_migrations()
    counts = applied_counts(schemas, expected)
    return [s for s in schemas if counts.get(s, 0) < len(expected)]


def schema_is_current(schema: str) -> bool:
    return not stale_schemas([schema])


def _fast_has_table(self: Any) -> bool:
    """`has_table` by `to_regclass` on the current schema's own table: one index lookup, instead of listing
    every relation the connection can see (Django caches a positive answer in `_has_table` the same way)."""
    if self._has_table:
        return True
    schema = getattr(self.connection, "schema_name", "public")
    with self.connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [f"{_q(schema)}.django_migrations"])
        found = cursor.fetchone()[0] is not None
    self._has_table = found
    return found


@contextmanager
def fast_recorder() -> Iterator[None]:
    original = MigrationRecorder.has_table
    MigrationRecorder.has_table = _fast_has_table  # type: ignore[method-assign]
    try:
        yield
    finally:
        MigrationRecorder.has_table = original  # type: ignore[method-assign]


@lru_cache(maxsize=1)
def _migrate_defaults() -> dict[str, Any]:
    """Every option of the migrate command at its default, as its parser gives them."""
    from django_tenants.utils import get_tenant_base_migrate_command_class

    command = get_tenant_base_migrate_command_class()()
    return vars(command.create_parser("manage.py", "migrate").parse_args([]))


def migrate_one(schema: str, verbosity: int = 0) -> SchemaResult:
    """Apply the pending migrations of one tenant schema, through django-tenants' own per-schema path."""
    from django_tenants.migration_executors.base import run_migrations

    started = time.perf_counter()
    options = {**_migrate_defaults(), "verbosity": verbosity, "interactive": False, "skip_checks": True}
    try:
        with fast_recorder():
            run_migrations(args=[], options=options, executor_codename="crm", schema_name=schema)
        return SchemaResult(schema, True, time.perf_counter() - started)
    except Exception as exc:  # a failed schema is reported; the others go on
        log.exception("migration of schema %s failed", schema)
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        return SchemaResult(schema, False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")


def _worker_init() -> None:
    # A forked child must not share the parent's database socket.
    for conn in connections.all():
        conn.connection = None  # type: ignore[assignment]
        conn.close()


def _migrate_batch(schemas: list[str]) -> list[SchemaResult]:
    return [migrate_one(s) for s in schemas]


def _run(
    schemas: list[str], *, workers: int, progress: Callable[[SchemaResult, int, int], None] | None
) -> list[SchemaResult]:
    results: list[SchemaResult] = []
    total = len(schemas)
    if workers <= 1 or total <= 1:
        for s in schemas:
            results.append(migrate_one(s))
            if progress:
                progress(results[-1], len(results), total)
        return results
    connections.close_all()
    # Small batches: one migrate command per schema in the child, batches only spare the IPC.
    batches = [schemas[i : i + 5] for i in range(0, total, 5)]
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        futures = [pool.submit(_migrate_batch, b) for b in batches]
        for fut in as_completed(futures):
            for res in fut.result():
                results.append(res)
                if progress:
                    progress(res, len(results), total)
    return results


# Operations whose SQL is the same in every tenant schema and that create no model (so the post_migrate
# work the standard path does, content types and permissions, has nothing to add).
COMPILABLE_OPERATIONS = frozenset(
    {
        "AddField",
        "RemoveField",
        "AlterField",
        "RenameField",
        "AddIndex",
        "RemoveIndex",
        "RenameIndex",
        "AddConstraint",
        "RemoveConstraint",
        "AlterUniqueTogether",
        "AlterIndexTogether",
        "AlterModelOptions",
        "AlterModelManagers",
        "RunSQL",
    }
)


def applied_groups(schemas: Sequence[str]) -> list[list[str]]:
    """The schemas grouped by the exact set of migrations they have recorded (one query per 500 schemas):
    schemas of one group have the same plan ahead of them."""
    groups: dict[str, list[str]] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(schemas), 500):
            part = schemas[start : start + 500]
            sql = " UNION ALL ".join(
                f"SELECT %s, md5(string_agg(app || '.' || name, ',' ORDER BY app, name)) "  # noqa: S608
                f"FROM {_q(s)}.django_migrations"
                for s in part
            )
            cursor.execute(sql, list(part))
            for schema, digest in cursor.fetchall():
                groups.setdefault(str(digest), []).append(schema)
    return list(groups.values())


def compiled_plan(sample: str) -> tuple[list[str], list[tuple[str, str]]] | None:
    """The SQL of the migrations `sample` still needs and the (app, name) records they add, when every
    operation of the plan is in COMPILABLE_OPERATIONS and every migration is atomic; else None (the
    standard path runs them: RunPython, new models, non-atomic migrations). Statements are unqualified:
    they apply to whichever schema is first on the search path."""
    from django.db.migrations.executor import MigrationExecutor

    connection.set_schema(sample)  # type: ignore[attr-defined]
    try:
        with fast_recorder():
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            if not plan or any(backwards for _migration, backwards in plan):
                return None
            for migration, _backwards in plan:
                if not migration.atomic:
                    return None
                if any(type(op).__name__ not in COMPILABLE_OPERATIONS for op in migration.operations):
                    return None
            collected = executor.loader.collect_sql(plan)  # type: ignore[attr-defined]  # (Django 5; no stub)
            statements = [sql for sql in collected if not sql.lstrip().startswith("--")]
        return statements, [(m.app_label, m.name) for m, _backwards in plan]
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]


def apply_compiled(
    schema: str, statements: Sequence[str], records: Sequence[tuple[str, str]]
) -> SchemaResult:
    """One schema: the compiled statements and the migration records in one transaction (all or nothing)."""
    from django.db import transaction
    from django.utils import timezone

    started = time.perf_counter()
    connection.set_schema(schema)  # type: ignore[attr-defined]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
            now = timezone.now()
            cursor.executemany(
                "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, %s)",
                [(app, name, now) for app, name in records],
            )
        return SchemaResult(schema, True, time.perf_counter() - started)
    except Exception as exc:  # reported like the standard path's failures; the others go on
        log.exception("compiled migration of schema %s failed", schema)
        return SchemaResult(schema, False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]


def _run_grouped(
    schemas: list[str], *, workers: int, progress: Callable[[SchemaResult, int, int], None] | None
) -> list[SchemaResult]:
    """Schemas with the same recorded migrations share one plan: compiled once into SQL and applied to
    each schema in turn when it qualifies (compiled_plan), else migrated the standard way."""
    results: list[SchemaResult] = []
    total = len(schemas)

    def step(res: SchemaResult, _done: int, _total: int) -> None:
        results.append(res)
        if progress:
            progress(res, len(results), total)

    for group in applied_groups(schemas) if schemas else []:
        compiled = compiled_plan(group[0]) if len(group) > 1 else None
        if compiled is None:
            _run(group, workers=workers, progress=step)
            continue
        statements, records = compiled
        for schema in group:
            step(apply_compiled(schema, statements, records), 0, 0)
    return results


@contextmanager
def clone_lock_exclusive() -> Iterator[None]:
    """Keep every clone of the template out (migrations of the template and the pool run under it). Held on
    a connection of its own: django-tenants closes the default connection after each schema it migrates,
    which would release a session lock taken there."""
    lock_conn = connections.create_connection("default")
    try:
        with lock_conn.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [CLONE_LOCK])
        yield
    finally:
        lock_conn.close()  # ends the session, and with it the lock


@contextmanager
def clone_lock_shared() -> Iterator[None]:
    """Held by a clone: many clones at once, none while the template is being migrated."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock_shared(%s)", [CLONE_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [CLONE_LOCK])


def history_behind(schema: str, reference: str) -> bool:
    """True when `schema` has recorded fewer migrations than `reference` (a spare cloned from an older
    template, or missed by a migration run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT (SELECT count(*) FROM {_q(schema)}.django_migrations), "  # noqa: S608 (quoted names)
            f"(SELECT count(*) FROM {_q(reference)}.django_migrations)"
        )
        row = cursor.fetchone()
    return bool(row and row[0] < row[1])


def _ordered_schemas(only: Iterable[str] | None = None) -> tuple[list[str], list[str]]:
    """(template and pool schemas, every other tenant schema), each oldest first."""
    rows = Tenant.objects.exclude(status=TenantStatus.PLATFORM).order_by("created_at", "id")
    if only is not None:
        rows = rows.filter(schema_name__in=list(only))
    first: list[str] = []
    rest: list[str] = []
    for schema, status in rows.values_list("schema_name", "status"):
        (first if status in (TenantStatus.TEMPLATE, TenantStatus.POOL) else rest).append(schema)
    template = _template()
    first.sort(key=lambda s: s != template)  # the template before the spares (a stable sort)
    return first, rest


def _template() -> str:
    from crm.tenants.provisioning import template_schema

    return template_schema()


def migrate_tenants(
    *,
    workers: int = 2,
    schemas: Iterable[str] | None = None,
    progress: Callable[[SchemaResult, int, int], None] | None = None,
) -> MigrateReport:
    """Bring every tenant schema (or the named ones) up to date. The public schema is not touched: migrate
    it first (`migrate_schemas --shared`)."""
    started = time.perf_counter()
    report = MigrateReport()
    only = list(schemas) if schemas is not None else None
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # 1. Template and pool, with clones held off (listed once the lock is held, so that a spare cloned
    # just before is in the list): nothing can copy a half-migrated template.
    with clone_lock_exclusive():
        first, rest = _ordered_schemas(only)
        stale_first = stale_schemas(first)
        report.skipped += [s for s in first if s not in stale_first]
        report.migrated += _run(stale_first, workers=1, progress=progress)
    # 2. Every other schema, in parallel; 3. a final pass over schemas created meanwhile (from the current
    # template they are current, and skipped in one query; anything else is migrated).
    seen = set(first)
    for _pass in range(2):
        todo = [s for s in rest if s not in seen]
        seen.update(todo)
        stale = stale_schemas(todo)
        report.skipped += [s for s in todo if s not in stale]
        report.migrated += _run_grouped(stale, workers=workers, progress=progress)
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        if only is not None:
            break
        more_first, more_rest = _ordered_schemas(None)
        rest = more_first + more_rest
    report.seconds = time.perf_counter() - started
    return report
