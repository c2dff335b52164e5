"""Fast tenant provisioning: clone a migrated template schema, or claim a spare one cloned ahead of time.

Running every migration for a new schema takes seconds to tens of seconds once the app set is real, so
signup never migrates. The template schema is a Tenant row (status=template) and pool schemas are Tenant
rows (status=pool): `migrate_schemas` keeps all of them current, so a claimed schema is always up to date.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.clone import CLONE_SCHEMA_FUNCTION
from django_tenants.utils import get_public_schema_name, schema_exists

from crm.tenants.models import Domain, Tenant, TenantStatus

log = logging.getLogger(__name__)


def template_schema() -> str:
    return str(settings.CRM_TEMPLATE_SCHEMA)


def template_ensure(*, verbosity: int = 0) -> Tenant:
    """Create and migrate the template schema if it does not exist yet (idempotent)."""
    name = template_schema()
    tenant = Tenant.objects.filter(schema_name=name).first()
    if tenant is None:
        tenant = Tenant.objects.create(schema_name=name, status=TenantStatus.TEMPLATE, name="template")
    from crm.tenants.migrator import clone_lock_exclusive

    with clone_lock_exclusive():
        if not schema_exists(name):
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE SCHEMA {_q(name)}")
        call_command("migrate_schemas", schema_name=name, tenant=True, interactive=False, verbosity=verbosity)
        connection.set_schema_to_public()  # type: ignore[attr-defined]
    plan_forget()
    return tenant


def public_ensure() -> Tenant:
    """The public schema's Tenant row and its domain (the base domain): django-tenants routes the public site
    and the operator console through them. Idempotent."""
    # Not a customer: its own status, outside the live ones, keeps billing, the console's counts and
    # per-tenant periodic tasks away from it (the status middleware never looks at the public schema).
    public, _created = Tenant.objects.get_or_create(
        schema_name=get_public_schema_name(), defaults={"name": "platform", "status": TenantStatus.PLATFORM}
    )
    if public.status != TenantStatus.PLATFORM:
        Tenant.objects.filter(pk=public.pk).update(status=TenantStatus.PLATFORM)
    Domain.objects.get_or_create(domain=settings.BASE_DOMAIN, defaults={"tenant": public, "is_primary": True})
    return public


def new_schema_name(prefix: str = "t") -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


def schema_clone(new_name: str) -> str:
    """Copy the template schema (tables, constraints, indexes, identity sequences and the template's rows:
    migration records, content types, permissions) into `new_name`. Returns the method used."""
    from crm.tenants.migrator import clone_lock_shared

    connection.set_schema_to_public()  # type: ignore[attr-defined]
    if schema_exists(new_name, case_sensitive=False):
        raise ValueError(f"schema {new_name!r} already exists")
    # Never copy a template that `migrate_tenants` is migrating (it holds the lock exclusively meanwhile).
    with clone_lock_shared(), connection.cursor() as cursor:
        plan = _plan(cursor, template_schema())
        if plan is not None:
            # One round trip: the whole plan is sent as a single multi-statement batch.
            cursor.execute(plan.sql.replace(_NEW, _q(new_name)))
            return "plan"
        _generic_clone(cursor, template_schema(), new_name)
        return "generic"


def schema_migrate(new_name: str) -> None:
    """The slow path, kept for the benchmark and as a last resort: migrate an empty schema."""
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA {_q(new_name)}")
    call_command("migrate_schemas", schema_name=new_name, tenant=True, interactive=False, verbosity=0)
    connection.set_schema_to_public()  # type: ignore[attr-defined]


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
            row = cursor.fetchone()
            if not row or not row[0]:
                return 0
        while pool_count() < target:
            pool_add()
            added += 1
    return added


def pool_rebuild() -> int:
    """Drop every spare schema and clone fresh ones (after a template change outside migrations, which the
    cached clone plan cannot notice either, so it is dropped too)."""
    plan_forget()
    for spare in Tenant.objects.filter(status=TenantStatus.POOL):
        spare.delete(force_drop=True)  # type: ignore[call-arg]
    return pool_refill()


def schema_acquire() -> tuple[Tenant, str]:
    """A schema for a new tenant: claimed from the pool (fast) or freshly cloned. Call inside a transaction.

    Returns the (unsaved when cloned) Tenant row and the path used: "pool" or "clone".
    """
    from crm.tenants.migrator import history_behind

    spares = (
        Tenant.objects.select_for_update(skip_locked=True).filter(status=TenantStatus.POOL).order_by("id")[:3]
    )
    for spare in spares:
        # A spare behind the template (cloned from an older one, or missed by a migration run) is left for
        # `migrate_tenants` to bring up to date; a new workspace never gets an old schema.
        if history_behind(spare.schema_name, template_schema()):
            log.warning("spare schema %s is behind the template; not claimed", spare.schema_name)
            continue
        return spare, "pool"
    name = new_schema_name()
    started = time.perf_counter()
    schema_clone(name)
    log.warning("schema pool empty: cloned %s in %.0f ms", name, (time.perf_counter() - started) * 1000)
    return Tenant(schema_name=name), "clone"


# ---------------------------------------------------------------------------------------------------------
# The clone itself. django-tenants' CloneSchema re-installs a ~4,000-line plpgsql function on every call,
# then rebuilds every table's DDL from the catalog with dozens of queries per table (~20 ms a table here).
# The template only changes when migrations run, so its DDL is read from the catalog once per process,
# cached under a fingerprint of the template's migration history, and replayed as one batch per clone.
# Anything the plan does not understand (views, functions, triggers, custom types, serial sequences,
# partitioned tables) falls back to django-tenants' clone_schema function, installed once per process.
# ---------------------------------------------------------------------------------------------------------

_NEW = "\x00NEW_SCHEMA\x00"  # stands for the quoted new schema name in a plan; cannot occur in real DDL


@dataclass(frozen=True)
class ClonePlan:
    """The SQL that recreates the template in a new schema, valid while the fingerprint is unchanged."""

    fingerprint: tuple[Any, ...]
    sql: str
    tables: int


_PLANS: dict[tuple[str, str], ClonePlan | None] = {}
_FINGERPRINTS: dict[tuple[str, str], tuple[Any, ...]] = {}
_GENERIC_INSTALLED: set[str] = set()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _plan(cursor: Any, tpl: str) -> ClonePlan | None:
    key = (str(connection.settings_dict["NAME"]), tpl)
    fingerprint = _fingerprint(cursor, tpl)
    if key in _PLANS and _FINGERPRINTS.get(key) == fingerprint:
        return _PLANS[key]
    plan = _plan_build(cursor, tpl, fingerprint)
    _PLANS[key] = plan
    _FINGERPRINTS[key] = fingerprint
    return plan


def plan_forget() -> None:
    """Drop cached plans (tests and the benchmark use it to measure a cold start)."""
    _PLANS.clear()
    _FINGERPRINTS.clear()


def _fingerprint(cursor: Any, tpl: str) -> tuple[Any, ...]:
    """Changes whenever a migration is applied to (or unapplied from) the template."""
    cursor.execute(f"SELECT count(*), max(id), max(applied) FROM {_q(tpl)}.django_migrations")  # noqa: S608
    return tuple(cursor.fetchone() or ())


_UNSUPPORTED = {
    "views, partitioned or foreign tables": """
        SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND c.relkind IN ('v', 'm', 'p', 'f')""",
    "sequences not owned by an identity column": """
        SELECT count(*) FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
        WHERE n.nspname = %s AND s.relkind = 'S'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = s.oid AND d.deptype = 'i')""",
    "functions": """
        SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %s""",
    "triggers": """
        SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND NOT t.tgisinternal""",
    "custom types": """
        SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = %s
          AND (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND t.typrelid = 0))""",
    "sequence defaults (serial columns)": """
        SELECT count(*) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = %s AND pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%%'""",
    "row-level security policies": """
        SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s""",
}


def _plan_build(cursor: Any, tpl: str, fingerprint: tuple[Any, ...]) -> ClonePlan | None:
    problems = []
    for label, query in _UNSUPPORTED.items():
        cursor.execute(query, [tpl])
        if (cursor.fetchone() or (0,))[0]:
            problems.append(label)
    if problems:
        log.warning("template %s has %s: cloning with the generic function", tpl, ", ".join(problems))
        return None
    src = _q(tpl)
    cursor.execute("SELECT quote_ident(%s)", [tpl])
    pg_src = cursor.fetchone()[0]  # how pg_get_indexdef spells the schema (quoted only when needed)
    cursor.execute(
        """SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname""",
        [tpl],
    )
    tables: list[tuple[int, str]] = cursor.fetchall()
    names = dict(tables)
    oids = list(names)
    # Columns that take data (generated columns are computed) and identity columns (their sequences).
    cursor.execute(
        """SELECT a.attrelid, a.attname, a.attidentity, a.attgenerated,
                  CASE WHEN a.attidentity <> '' THEN pg_get_serial_sequence(
                      quote_ident(%s) || '.' || quote_ident(c.relname), a.attname) END
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
           ORDER BY a.attrelid, a.attnum""",
        [tpl, oids],
    )
    columns: dict[int, list[str]] = {}
    identity: dict[int, list[tuple[str, str]]] = {}
    for relid, col, ident, generated, sequence in cursor.fetchall():
        if not generated:
            columns.setdefault(relid, []).append(col)
        if ident:
            identity.setdefault(relid, []).append((col, sequence))
    # Constraints and indexes keep their names: later migrations drop or rename them by name.
    cursor.execute(
        """SELECT con.conrelid, con.conname, con.contype, pg_get_constraintdef(con.oid), rn.nspname, r.relname
           FROM pg_constraint con
           LEFT JOIN pg_class r ON r.oid = con.confrelid LEFT JOIN pg_namespace rn ON rn.oid = r.relnamespace
           WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'x', 'f')
           ORDER BY con.conrelid, con.conname""",
        [oids],
    )
    constraints = cursor.fetchall()
    cursor.execute(
        """SELECT i.indrelid, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = ANY(%s) AND NOT EXISTS (
               SELECT 1 FROM pg_constraint c
               WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x'))
           ORDER BY i.indexrelid""",
        [oids],
    )
    indexes = cursor.fetchall()

    like = (
        "INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING GENERATED INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE INCLUDING COMMENTS"
    )
    # Primary keys, unique and exclusion constraints go inline (fewer statements: each one costs).
    inline: dict[int, list[str]] = {}
    foreign: dict[int, list[str]] = {}
    for relid, conname, contype, condef, refschema, reftable in constraints:
        if contype != "f":
            inline.setdefault(relid, []).append(f"CONSTRAINT {_q(conname)} {condef}")
        else:
            # Foreign keys into the template point into the new schema; those into public stay.
            target = f"{_NEW}.{_q(reftable)}" if refschema == tpl else f"{_q(refschema)}.{_q(reftable)}"
            head, _sep, tail = condef.partition("REFERENCES ")
            condef = f"{head}REFERENCES {target}{tail[tail.index('(') :]}"
            foreign.setdefault(relid, []).append(f"ADD CONSTRAINT {_q(conname)} {condef}")
    sql = [f"CREATE SCHEMA {_NEW}"]
    for oid, name in tables:
        elements = ", ".join([f"LIKE {src}.{_q(name)} {like}", *inline.get(oid, [])])
        sql.append(f"CREATE TABLE {_NEW}.{_q(name)} ({elements})")
    on_template = re.compile(r" ON (ONLY )?" + re.escape(pg_src) + r"\.")
    for relid, indexdef in indexes:
        replaced, count = on_template.subn(lambda m: f" ON {m.group(1) or ''}{_NEW}.", indexdef, count=1)
        if count != 1:
            raise RuntimeError(f"unexpected index definition on {names[relid]}: {indexdef}")
        sql.append(replaced)
    # Every table's rows are copied (migration records, content types, permissions, anything a data migration
    # put there): an empty table costs a fraction of a millisecond, and rows added later are never missed.
    for oid, name in tables:
        table = _q(name)
        cols = ", ".join(_q(c) for c in columns.get(oid, []))
        overriding = " OVERRIDING SYSTEM VALUE" if oid in identity else ""
        sql.append(f"INSERT INTO {_NEW}.{table} ({cols}){overriding} SELECT {cols} FROM {src}.{table}")  # noqa: S608
        for col, sequence in identity.get(oid, []):
            new_table = f"{_NEW}.{table}".replace("'", "''")
            sql.append(
                # Names come from the catalog of our own template, not from users.
                f"SELECT setval(pg_get_serial_sequence('{new_table}', '{col}'), s.last_value, s.is_called) "  # noqa: S608
                f"FROM {sequence} s"
            )
    # Foreign keys last, after the rows, one statement per table.
    for relid, clauses in foreign.items():
        sql.append(f"ALTER TABLE {_NEW}.{_q(names[relid])} " + ", ".join(clauses))
    return ClonePlan(fingerprint=fingerprint, sql=";\n".join(sql), tables=len(tables))


def _generic_clone(cursor: Any, tpl: str, new_name: str) -> None:
    """django-tenants' clone_schema(); its function is installed once per process and database (not on every
    call as CloneSchema does) and re-installed if it has disappeared."""
    db = str(connection.settings_dict["NAME"])
    cursor.execute(
        "SELECT 1 FROM pg_proc WHERE proname = 'clone_schema' AND pronamespace = 'public'::regnamespace"
    )
    if db not in _GENERIC_INSTALLED or cursor.fetchone() is None:
        db_user = settings.DATABASES["default"].get("USER") or "postgres"
        cursor.execute(CLONE_SCHEMA_FUNCTION.format(db_user=db_user))
        _GENERIC_INSTALLED.add(db)
    cursor.execute("SELECT clone_schema(%s, %s, 'DATA')", [tpl, new_name])
