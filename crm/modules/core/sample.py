"""Explore with sample data: the demo seeders of the workspace's modules, run into the owner's own workspace,
and taken out again in one step without touching what people entered meanwhile.

Loading runs every enabled module's `demo_seeder` (core first, then capabilities, then sales modes) in one
transaction that holds every table of the schema in EXCLUSIVE mode (reads go on, other writes wait a few
seconds), so the rows it adds are exactly those with an id above each table's maximum before: they are
recorded per table (`SampleSet`). The core seeder tags its customers 演示 and the dashboard says sample
data are loaded.

Removing deletes the recorded rows of every table in one transaction (Django's foreign keys are deferred,
so the order does not matter), except rows that something entered since refers to, and what those rows
refer to in turn (found by walking the schema's foreign keys until nothing changes). Changes the seeders
made to rows that existed before (a setting, a target) are not undone.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError
from crm.platform.permissions import check_perm
from crm.platform.registry import registry
from crm.tenants.accounts.services import audit
from crm.tenants.backup import _columns, _q, schema_tables
from crm.tenants.selectors import enabled_modules

from .models import SampleSet

PERM = "core.manage_settings"
LOCK_TIMEOUT = "5s"
ORDER = {"core": 0, "capability": 1, "sales_mode": 2}


def _tables(cursor: Any) -> list[str]:
    """The schema's own tables that have an `id` column (every model table), without SampleSet's."""
    schema = connection.schema_name  # type: ignore[attr-defined]
    columns, own = _columns(cursor, schema), SampleSet._meta.db_table
    return [t for t in schema_tables(cursor, schema) if t != own and "id" in columns.get(t, [])]


def _maxima(cursor: Any, tables: list[str]) -> dict[str, int]:
    parts = [f"SELECT %s, coalesce(max(id), 0) FROM {_q(t)}" for t in tables]  # noqa: S608 (catalogue names)
    cursor.execute(" UNION ALL ".join(parts), tables)
    return {name: int(top) for name, top in cursor.fetchall()}


def is_loaded() -> bool:
    return SampleSet.objects.exists()


def summary() -> dict[str, Any]:
    """Whether sample data are loaded and how many rows they are (for the page and the API)."""
    sets = list(SampleSet.objects.all())
    return {
        "loaded": bool(sets),
        "rows": sum(len(s.ids) for s in sets),
        "loaded_at": min((s.loaded_at for s in sets), default=None),
    }


def sample_load(*, actor: Any, tenant: Any) -> dict[str, Any]:
    """Run the enabled modules' demo seeders here and record what they added. Refused while sample data
    are loaded; a seeder's failure changes nothing."""
    check_perm(actor, PERM, _("Only the owner or an administrator can load sample data."))
    enabled = enabled_modules(tenant)
    seeders = [
        m.demo_seeder
        for m in sorted(registry.all(), key=lambda m: (ORDER.get(m.kind, 3), m.slug))
        if m.slug in enabled and m.demo_seeder
    ]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
            tables = _tables(cursor)
            locked = ", ".join(_q(t) for t in [*tables, SampleSet._meta.db_table])
            cursor.execute(f"LOCK TABLE {locked} IN EXCLUSIVE MODE")
            if SampleSet.objects.exists():
                raise ServiceError(_("Sample data are already loaded."), code="conflict")
            before = _maxima(cursor, tables)
            for path in seeders:
                import_string(path)(tenant)
            after = _maxima(cursor, tables)
            sets = []
            for table in tables:
                if after[table] > before[table]:
                    cursor.execute(f"SELECT id FROM {_q(table)} WHERE id > %s ORDER BY id", [before[table]])  # noqa: S608
                    sets.append(SampleSet(table=table, ids=[row[0] for row in cursor.fetchall()]))
            if not sets:
                raise ServiceError(_("These modules have no sample data to load."), code="empty")
            SampleSet.objects.bulk_create(sets)
            rows = sum(len(s.ids) for s in sets)
            audit(actor=actor, action="sample.load", detail={"rows": rows, "tables": len(sets)})
    except OperationalError as exc:  # the lock timeout: someone is writing a lot right now
        raise ServiceError(_("The workspace is busy; try again in a minute."), code="busy") from exc
    return summary()


def _foreign_keys(cursor: Any) -> list[tuple[str, str, str]]:
    """(referencing table, its column, referenced table) for the schema's single-column foreign keys to an
    `id` inside the schema."""
    cursor.execute(
        """
        SELECT cl.relname, att.attname, fcl.relname
        FROM pg_constraint c
        JOIN pg_class cl ON cl.oid = c.conrelid
        JOIN pg_namespace n ON n.oid = cl.relnamespace
        JOIN pg_class fcl ON fcl.oid = c.confrelid
        JOIN pg_namespace fn ON fn.oid = fcl.relnamespace
        JOIN pg_attribute att ON att.attrelid = c.conrelid AND att.attnum = c.conkey[1]
        JOIN pg_attribute fatt ON fatt.attrelid = c.confrelid AND fatt.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND n.nspname = %s AND fn.nspname = %s AND fatt.attname = 'id'
          AND cardinality(c.conkey) = 1
        """,
        [connection.schema_name, connection.schema_name],  # type: ignore[attr-defined]
    )
    return [(a, b, c) for a, b, c in cursor.fetchall()]


def sample_remove(*, actor: Any) -> dict[str, int]:
    """Delete the sample rows nobody's own records depend on; returns {"removed": n, "kept": n}."""
    check_perm(actor, PERM, _("Only the owner or an administrator can remove sample data."))
    with transaction.atomic(), connection.cursor() as cursor:
        sets = {s.table: set(s.ids) for s in SampleSet.objects.select_for_update()}
        if not sets:
            raise ServiceError(_("No sample data are loaded."), code="conflict")
        total = sum(len(ids) for ids in sets.values())
        with_ids = set(_tables(cursor))
        fks = [fk for fk in _foreign_keys(cursor) if fk[2] in sets]
        changed = True
        while changed:  # keep what a row outside the sample points at, until nothing more is kept
            changed = False
            for child, column, parent in fks:
                ids = sets.get(parent)
                if not ids:
                    continue
                if child in with_ids and sets.get(child):
                    cursor.execute(
                        f"SELECT DISTINCT {_q(column)} FROM {_q(child)} "  # noqa: S608 (catalogue names)
                        f"WHERE {_q(column)} = ANY(%s) AND NOT (id = ANY(%s))",
                        [list(ids), list(sets[child])],
                    )
                else:
                    cursor.execute(
                        f"SELECT DISTINCT {_q(column)} FROM {_q(child)} WHERE {_q(column)} = ANY(%s)",  # noqa: S608
                        [list(ids)],
                    )
                used = {row[0] for row in cursor.fetchall()}
                if used:
                    ids -= used
                    changed = True
        for table, ids in sets.items():
            if ids:
                cursor.execute(f"DELETE FROM {_q(table)} WHERE id = ANY(%s)", [list(ids)])  # noqa: S608
        removed = sum(len(ids) for ids in sets.values())
        SampleSet.objects.all().delete()
        try:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # check the deferred keys here, not at commit
        except IntegrityError as exc:
            raise ServiceError(
                _("Some sample records are still in use and nothing was removed."), code="in_use"
            ) from exc
        audit(actor=actor, action="sample.remove", detail={"removed": removed, "kept": total - removed})
    return {"removed": removed, "kept": total - removed}
