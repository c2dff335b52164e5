"""One workspace's export and restore (issue 14, section 5).

The export is a zip of the tenant's schema: one CSV per table (PostgreSQL COPY, with a header row), the
tenant's files (MEDIA_ROOT/<schema>/: documents, import uploads) under files/, and manifest.json that makes
it self-describing: format version, tenant id/slug/schema, created_at, the migrations applied in the schema,
and per table its columns, row count and checksum (computed in SQL, see `_table_stats`), per file sha256.

Restore (`workspace_restore`, operators only) verifies the manifest first (format, file checksums, same
workspace, same migrations as this code), then loads in ONE transaction:
- "in_place": every table of the tenant's schema truncated and reloaded;
- "new_schema": a fresh schema cloned from the template (this code's migrations), emptied, loaded, and the
  tenant's schema_name switched to it; the old schema is kept for the operator to drop later.
Rows are loaded with COPY FROM, referenced tables first, with every (deferrable: all of Django's) foreign key
deferred to commit; identity sequences are reset to max(id); then every table's row count and checksum are
recomputed and compared with the manifest: any difference raises, the transaction rolls back (the new schema
with it: DDL is transactional) and the message names the table. Files are staged and checked before the
load and moved into place after the commit. No statement names any schema other than the target one.

Migrations: an export that records a migration this code does not have is refused (made by a newer
version). An export that misses a migration of a tenant app (made by an older version) is restored into a new
schema only: the schema is built by this code's migrations up to the export's own version
(`export_targets`), loaded and compared there, then migrated forward to this code's version, all in the same
transaction; in place it is refused (the live schema is already newer). Missing migrations of shared-only
apps (they create no table in a tenant schema) are fine: their records are added. The manifest's migration
list must equal the django_migrations table it carries.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError
from crm.platform.permissions import check_operator
from crm.tenants.models import Tenant

log = logging.getLogger(__name__)

FORMAT = "crm-workspace-export"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES_PREFIX = "files/"
MODES = ("in_place", "new_schema")
CHUNK = 1 << 20

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def export_dir(tenant: Tenant) -> Path:
    # Keyed by schema: one tenant's exports never share a folder with another's.
    return Path(settings.MEDIA_ROOT) / "exports" / tenant.schema_name


def media_dir(schema: str) -> Path:
    """Where a tenant's own files live (documents, import uploads: MEDIA_ROOT/<schema>/...)."""
    return Path(settings.MEDIA_ROOT) / schema


def exports_list(tenant: Tenant) -> list[Path]:
    folder = export_dir(tenant)
    return sorted(folder.glob("*.zip"), reverse=True) if folder.is_dir() else []


def export_file(tenant: Tenant, name: str) -> Path | None:
    """The export called `name` among those listed from this tenant's own folder (never a path from input)."""
    return next((p for p in exports_list(tenant) if p.name == name), None)


# --- catalogue and checksums ----------------------------------------------------------------------------


def schema_tables(cursor: Any, schema: str) -> list[str]:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
        [schema],
    )
    return [row[0] for row in cursor.fetchall()]


def _columns(cursor: Any, schema: str) -> dict[str, list[str]]:
    cursor.execute(
        "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
        "ORDER BY c.relname, a.attnum",
        [schema],
    )
    out: dict[str, list[str]] = {}
    for table, column in cursor.fetchall():
        out.setdefault(table, []).append(column)
    return out


def _primary_keys(cursor: Any, schema: str) -> dict[str, list[str]]:
    cursor.execute(
        "SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE n.nspname = %s AND i.indisprimary ORDER BY c.relname, array_position(i.indkey, a.attnum)",
        [schema],
    )
    out: dict[str, list[str]] = {}
    for table, column in cursor.fetchall():
        out.setdefault(table, []).append(column)
    return out


def _table_stats(cursor: Any, schema: str, table: str, columns: list[str], pk: list[str]) -> tuple[int, str]:
    """Row count and checksum of one table: md5 over the md5 of every row (its columns in the manifest's
    order, as PostgreSQL prints a row), joined in primary-key order. Computed by the server."""
    row = "ROW(" + ", ".join(f"t.{_q(c)}" for c in columns) + ")::text"
    order = ", ".join(f"t.{_q(c)}" for c in pk) if pk else row
    cursor.execute(
        f"SELECT count(*), md5(coalesce(string_agg(md5({row}), ',' ORDER BY {order}), '')) "  # noqa: S608
        f"FROM {_q(schema)}.{_q(table)} t"
    )
    count, digest = cursor.fetchone()
    return int(count), str(digest)


def schema_stats(schema: str, columns: dict[str, list[str]] | None = None) -> dict[str, dict[str, Any]]:
    """{table: {"rows": n, "md5": ...}} for every table of `schema` (the restore's comparison, and tests')."""
    with connection.cursor() as cursor:
        cols = columns or _columns(cursor, schema)
        pks = _primary_keys(cursor, schema)
        out = {}
        for table in schema_tables(cursor, schema):
            rows, digest = _table_stats(cursor, schema, table, cols[table], pks.get(table, []))
            out[table] = {"rows": rows, "md5": digest}
    return out


def _applied_migrations(cursor: Any, schema: str) -> list[list[str]]:
    cursor.execute(
        "SELECT to_regclass(quote_ident(%s) || '.django_migrations') IS NOT NULL",
        [schema],
    )
    if not cursor.fetchone()[0]:
        return []
    cursor.execute(f"SELECT app, name FROM {_q(schema)}.django_migrations ORDER BY app, name")  # noqa: S608
    return [[app, name] for app, name in cursor.fetchall()]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tenant_files(schema: str) -> list[tuple[str, Path]]:
    root = media_dir(schema)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found.append((path.relative_to(root).as_posix(), path))
    return found


# --- export ---------------------------------------------------------------------------------------------


@contextmanager
def _snapshot() -> Iterator[None]:
    """One consistent view for all tables (REPEATABLE READ) when we own the transaction."""
    if connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        yield


def workspace_export_write(
    *, tenant: Tenant, now: datetime | None = None, progress: Progress | None = None
) -> Path:
    """A zip of the tenant's whole schema and files, with manifest.json, under MEDIA_ROOT/exports/<schema>/.
    Tables are listed from the catalogue for this schema only (the search path also holds public) and
    copied with COPY, streamed into the zip; counts and checksums come from the same snapshot. `progress`
    is told each table and file done ("tables" / "files", done, total)."""
    from psycopg import sql

    progress = progress or _noop
    now = now or timezone.now()
    schema = tenant.schema_name
    folder = export_dir(tenant)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{schema}-{now:%Y%m%d-%H%M%S}.zip"
    partial = path.with_suffix(".part")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tenant": {"id": tenant.pk, "slug": tenant.slug, "schema": schema, "name": tenant.name},
        "created_at": now.isoformat(),
        "tables": {},
        "files": [],
    }
    with _snapshot(), connection.cursor() as cursor:
        manifest["migrations"] = _applied_migrations(cursor, schema)
        columns = _columns(cursor, schema)
        pks = _primary_keys(cursor, schema)
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            tables = schema_tables(cursor, schema)
            for index, table in enumerate(tables):
                progress("tables", index, len(tables))
                cols = columns[table]
                query = sql.SQL("COPY {}.{} ({}) TO STDOUT WITH (FORMAT csv, HEADER true)").format(
                    sql.Identifier(schema),
                    sql.Identifier(table),
                    sql.SQL(", ").join(map(sql.Identifier, cols)),
                )
                with (
                    archive.open(f"{table}.csv", "w", force_zip64=True) as member,
                    cursor.copy(query) as copy,
                ):
                    for chunk in copy:
                        member.write(bytes(chunk))
                rows, digest = _table_stats(cursor, schema, table, cols, pks.get(table, []))
                manifest["tables"][table] = {"rows": rows, "md5": digest, "columns": cols}
            progress("tables", len(tables), len(tables))
            files = list(_tenant_files(schema))
            for index, (rel, file_path) in enumerate(files):
                progress("files", index, len(files))
                archive.write(file_path, FILES_PREFIX + rel)
                manifest["files"].append(
                    {"path": rel, "sha256": _sha256(file_path), "size": file_path.stat().st_size}
                )
            progress("files", len(files), len(files))
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False))
    # Renamed only once complete: a crash never leaves a truncated file that looks like an export.
    partial.replace(path)
    return path


# --- restore --------------------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    mode: str
    schema: str
    old_schema: str
    tables: int
    rows: int
    files: int
    seconds: float = 0.0
    added_migrations: list[str] = field(default_factory=list)
    migrated_forward: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "schema": self.schema,
            "old_schema": self.old_schema,
            "tables": self.tables,
            "rows": self.rows,
            "files": self.files,
            "seconds": round(self.seconds, 2),
            "added_migrations": self.added_migrations,
            "migrated_forward": self.migrated_forward,
        }


def _refuse(message: str, code: str) -> ServiceError:
    return ServiceError(message, code=code)


def manifest_read(archive: zipfile.ZipFile) -> dict[str, Any]:
    try:
        manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
    except KeyError:
        raise _refuse(
            _("This file is not a workspace export of this version (it has no manifest)."), "no_manifest"
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise _refuse(_("The export's manifest is damaged."), "bad_manifest") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(_("This file is not a workspace export."), "bad_manifest")
    if manifest.get("version") != FORMAT_VERSION:
        raise _refuse(
            _("This export has format version %(v)s; this version of the software reads version %(ours)s.")
            % {"v": manifest.get("version"), "ours": FORMAT_VERSION},
            "bad_version",
        )
    for key in ("tenant", "tables", "files", "migrations"):
        if key not in manifest:
            raise _refuse(_("The export's manifest is damaged."), "bad_manifest")
    return manifest


def _tenant_app_labels() -> set[str]:
    labels = set()
    for name in settings.TENANT_APPS:
        config = next((c for c in django_apps.get_app_configs() if c.name == name), None)
        if config is not None:
            labels.add(config.label)
    return labels


def migrations_check(
    manifest: dict[str, Any], *, mode: str = "in_place"
) -> tuple[list[tuple[str, str]], bool]:
    """Refuse an export made by a newer version of the schema (a migration unknown here). An older one (it
    lacks a migration of a tenant app) is restored into a new schema only, migrated forward after the load.
    Returns the shared-app migrations the export does not record (harmless: they create nothing in a tenant
    schema; their records are added) and whether the export is older."""
    from crm.tenants.migrator import expected_migrations

    exported = {(str(app), str(name)) for app, name in manifest["migrations"]}
    ours = expected_migrations()
    unknown = sorted(exported - ours)
    if unknown:
        raise _refuse(
            _(
                "This export was made by a newer version of the software: migration %(m)s is unknown here. "
                "Restore it with the version that made it."
            )
            % {"m": ".".join(unknown[0])},
            "newer_schema",
        )
    missing = ours - exported
    tenant_apps = _tenant_app_labels()
    older = sorted(m for m in missing if m[0] in tenant_apps)
    if older and mode != "new_schema":
        raise _refuse(
            _(
                "This export was made by an older version of the software: it lacks migration %(m)s. "
                "Restore it into a new schema: it is migrated forward there after loading."
            )
            % {"m": ".".join(older[0])},
            "older_schema",
        )
    return ([] if older else sorted(missing)), bool(older)


def export_targets(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """The migration targets that rebuild the export's schema version: per app, the exported migrations that
    no other exported migration of the app depends on."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    exported = {(str(app), str(name)) for app, name in manifest["migrations"]}
    parents = {p.key for node in exported for p in graph.node_map[node].parents if p.key[0] == node[0]}
    return sorted(node for node in exported if node not in parents)


def schema_migrate_to(schema: str, targets: list[tuple[str, str]] | None = None) -> None:
    """Apply migrations in `schema` up to `targets` (None: all), the way django-tenants migrates one schema
    (its own django_migrations table; shared-only apps' operations skipped by the router)."""
    from django.core.management.sql import emit_post_migrate_signal
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.recorder import MigrationRecorder

    connection.set_schema(schema, include_public=False)  # type: ignore[attr-defined]
    MigrationRecorder(connection).ensure_schema()
    connection.set_schema(schema)  # type: ignore[attr-defined]
    executor = MigrationExecutor(connection)
    goal = targets if targets is not None else executor.loader.graph.leaf_nodes()
    executor.migrate(goal, plan=executor.migration_plan(goal))
    if targets is None:  # content types and permissions of the models added since the export
        emit_post_migrate_signal(0, False, connection.alias)


def _check_identity(manifest: dict[str, Any], tenant: Tenant) -> None:
    info = manifest["tenant"]
    if info.get("id") != tenant.pk or info.get("slug") != tenant.slug:
        raise _refuse(
            _("This export belongs to workspace %(other)s, not %(slug)s: it cannot be restored here.")
            % {"other": info.get("slug") or info.get("id"), "slug": tenant.slug},
            "other_workspace",
        )


def _safe_rel(rel: str) -> PurePosixPath:
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise _refuse(_("The export names a file outside the workspace's folder."), "bad_manifest")
    return path


def _stage_files(archive: zipfile.ZipFile, manifest: dict[str, Any], staging: Path) -> int:
    """Extract every listed file into `staging` and check its sha256 (before anything is changed)."""
    count = 0
    for entry in manifest["files"]:
        rel = _safe_rel(str(entry.get("path", "")))
        target = staging.joinpath(*rel.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        try:
            with archive.open(FILES_PREFIX + rel.as_posix()) as src, target.open("wb") as dst:
                for chunk in iter(lambda: src.read(CHUNK), b""):
                    digest.update(chunk)
                    dst.write(chunk)
        except KeyError:
            raise _refuse(
                _("The export is incomplete: file %(f)s is missing.") % {"f": rel.as_posix()}, "bad_archive"
            ) from None
        if digest.hexdigest() != entry.get("sha256"):
            raise _refuse(
                _("The export is damaged: file %(f)s does not match its checksum.") % {"f": rel.as_posix()},
                "checksum",
            )
        count += 1
    return count


def _load_order(cursor: Any, schema: str, tables: list[str]) -> list[str]:
    """Tables ordered so that a referenced table is loaded before the tables that reference it (cycles and
    self references are left to the deferred constraints)."""
    cursor.execute(
        "SELECT src.relname, dst.relname FROM pg_constraint c "
        "JOIN pg_class src ON src.oid = c.conrelid JOIN pg_class dst ON dst.oid = c.confrelid "
        "JOIN pg_namespace n ON n.oid = src.relnamespace JOIN pg_namespace dn ON dn.oid = dst.relnamespace "
        "WHERE c.contype = 'f' AND n.nspname = %s AND dn.nspname = %s",
        [schema, schema],
    )
    needs: dict[str, set[str]] = {t: set() for t in tables}
    for src, dst in cursor.fetchall():
        if src in needs and dst in needs and src != dst:
            needs[src].add(dst)
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(tables):
        ready = sorted(t for t in tables if t not in done and needs[t] <= done)
        if not ready:  # a cycle: take the first remaining one
            ready = [next(t for t in sorted(tables) if t not in done)]
        for table in ready:
            order.append(table)
            done.add(table)
    return order


def _reset_sequences(cursor: Any, schema: str) -> None:
    cursor.execute(
        "SELECT c.relname, a.attname, "
        "pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE n.nspname = %s AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped "
        "AND pg_get_serial_sequence(format('%%I.%%I', n.nspname, c.relname), a.attname) IS NOT NULL",
        [schema],
    )
    for table, column, sequence in cursor.fetchall():
        target = f"{_q(schema)}.{_q(table)}"
        cursor.execute(
            f"SELECT setval(%s, coalesce(max({_q(column)}), 1), max({_q(column)}) IS NOT NULL) "  # noqa: S608
            f"FROM {target}",
            [sequence],
        )


def _load(
    *,
    archive: zipfile.ZipFile,
    manifest: dict[str, Any],
    schema: str,
    missing_migrations: list[tuple[str, str]],
    progress: Progress,
) -> int:
    """Empty `schema` and load the export into it, then compare every table (inside the caller's
    transaction). Returns the number of rows loaded."""
    from psycopg import sql

    expected: dict[str, dict[str, Any]] = manifest["tables"]
    total_rows = 0
    with connection.cursor() as cursor:
        present = schema_tables(cursor, schema)
        if set(present) != set(expected):
            odd = sorted(set(present) ^ set(expected))
            raise _refuse(
                _("The export's tables do not match this workspace's (first difference: %(t)s).")
                % {"t": odd[0]},
                "table_mismatch",
            )
        columns = _columns(cursor, schema)
        for table, info in expected.items():
            if set(columns[table]) != set(info["columns"]):
                raise _refuse(
                    _("The columns of table %(t)s differ from the export's.") % {"t": table}, "table_mismatch"
                )
        # Pending deferred checks from earlier in the transaction would forbid TRUNCATE: run them now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE " + ", ".join(f"{_q(schema)}.{_q(t)}" for t in present))
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        order = _load_order(cursor, schema, present)
        for index, table in enumerate(order):
            cols = list(expected[table]["columns"])
            query = sql.SQL("COPY {}.{} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
                sql.Identifier(schema), sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, cols))
            )
            try:
                member = archive.open(f"{table}.csv")
            except KeyError:
                raise _refuse(
                    _("The export is incomplete: table %(t)s is missing.") % {"t": table}, "bad_archive"
                ) from None
            with member, cursor.copy(query) as copy:
                for count, chunk in enumerate(iter(lambda: member.read(CHUNK), b"")):  # noqa: B023
                    copy.write(chunk)
                    if count % 32 == 31:  # a beat every 32 MB of a large table
                        progress("load", index, len(order))
            progress("load", index + 1, len(order))
        _reset_sequences(cursor, schema)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # a broken reference fails here, inside the load
        pks = _primary_keys(cursor, schema)
        for index, table in enumerate(order):
            info = expected[table]
            rows, digest = _table_stats(cursor, schema, table, list(info["columns"]), pks.get(table, []))
            if rows != info["rows"] or digest != info["md5"]:
                raise _refuse(
                    _(
                        "Table %(t)s differs after loading (%(rows)s rows, the export has %(expected)s, "
                        "or the checksum differs): nothing was changed."
                    )
                    % {"t": table, "rows": rows, "expected": info["rows"]},
                    "checksum",
                )
            total_rows += rows
            progress("verify", index + 1, len(order))
        # The manifest's migration list must be the loaded django_migrations table (it decided the checks).
        loaded = {(a, n) for a, n in _applied_migrations(cursor, schema)}
        if loaded != {(str(a), str(n)) for a, n in manifest["migrations"]}:
            raise _refuse(
                _("The export's manifest does not match its own migration records: it was altered."),
                "bad_manifest",
            )
        # Compared already: now record the shared-app migrations the export predates.
        for app, name in missing_migrations:
            cursor.execute(
                f"INSERT INTO {_q(schema)}.django_migrations (app, name, applied) VALUES (%s, %s, now())",  # noqa: S608
                [app, name],
            )
    return total_rows


def _place_files(staging: Path, schema: str) -> None:
    root = media_dir(schema)
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            target = root / path.relative_to(staging)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target) if _same_device(path, target.parent) else shutil.move(path, target)


def _same_device(a: Path, b: Path) -> bool:
    return a.stat().st_dev == b.stat().st_dev


def _noop(phase: str, done: int, total: int) -> None:
    return None


def workspace_restore(
    *,
    actor: Any,
    archive_path: Path | str,
    tenant: Tenant,
    mode: str,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore `tenant` from one of its exports (see the module docstring). Operators only. Raises
    ServiceError (nothing changed) on any refusal or difference."""
    import time

    from crm.tenants.provisioning import new_schema_name, schema_clone

    check_operator(actor)
    if mode not in MODES:
        raise _refuse(_("Choose how to restore: in place or into a new schema."), "bad_mode")
    progress = progress or _noop
    started = time.perf_counter()
    tenant = Tenant.objects.get(pk=tenant.pk)
    try:
        archive = zipfile.ZipFile(archive_path)
    except (OSError, zipfile.BadZipFile):
        raise _refuse(_("This file is not a readable zip archive."), "bad_archive") from None
    with archive, tempfile.TemporaryDirectory(dir=settings.MEDIA_ROOT if _media_ok() else None) as tmp:
        manifest = manifest_read(archive)
        _check_identity(manifest, tenant)
        missing, older = migrations_check(manifest, mode=mode)
        progress("files", 0, len(manifest["files"]))
        staging = Path(tmp) / "files"
        staging.mkdir()
        files = _stage_files(archive, manifest, staging)
        old_schema = tenant.schema_name
        target = old_schema if mode == "in_place" else new_schema_name("r")
        with transaction.atomic():
            # Exclusive: no two restores of one workspace at once (the lock ends with the transaction).
            list(Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list("pk", flat=True))
            if mode == "new_schema":
                progress("schema", 0, 1)
                if older:  # the export's own schema version, rebuilt from this code's migrations
                    with connection.cursor() as cursor:
                        cursor.execute(f"CREATE SCHEMA {_q(target)}")
                    schema_migrate_to(target, export_targets(manifest))
                    connection.set_schema_to_public()  # type: ignore[attr-defined]
                else:
                    schema_clone(target)
            rows = _load(
                archive=archive,
                manifest=manifest,
                schema=target,
                missing_migrations=missing,
                progress=progress,
            )
            if older:  # compared at the export's version; now brought up to this code's
                progress("migrate", 0, 1)
                schema_migrate_to(target)
                connection.set_schema_to_public()  # type: ignore[attr-defined]
                progress("migrate", 1, 1)
            if mode == "new_schema":
                Tenant.objects.filter(pk=tenant.pk).update(schema_name=target)
        # Files belong to the schema named in the export (documents' paths are stored in the rows).
        _place_files(staging, str(manifest["tenant"]["schema"]))
    if mode == "new_schema":
        _move_exports(old_schema, target)
    else:
        _cache_forget(target)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    result = RestoreResult(
        mode=mode,
        schema=target,
        old_schema=old_schema,
        tables=len(manifest["tables"]),
        rows=rows,
        files=files,
        seconds=time.perf_counter() - started,
        added_migrations=[f"{a}.{n}" for a, n in missing],
        migrated_forward=older,
    )
    log.warning("workspace %s restored (%s) into %s: %s", tenant.slug, mode, target, result.as_dict())
    return result


def _cache_forget(schema: str) -> None:
    """Drop the cached values of the restored schema (module sets, permissions, ...): every key carries the
    schema name first (django-tenants' key function). Best effort: with Redis down they expire anyway."""
    from django.core.cache import cache

    try:
        client = cache._cache.get_client(None, write=True)  # type: ignore[attr-defined]
        keys = list(client.scan_iter(match=f"{schema}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    except Exception:  # the cache is optional here
        log.warning("restore of %s: cached values not dropped (they expire within minutes)", schema)


def _media_ok() -> bool:
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return root.is_dir()


def _move_exports(old_schema: str, new_schema: str) -> None:
    """The tenant's exports are listed from the folder of its current schema: they follow it."""
    root = Path(settings.MEDIA_ROOT) / "exports"
    old, new = root / old_schema, root / new_schema
    if old.is_dir() and not new.exists():
        old.rename(new)


# --- the console's restore job --------------------------------------------------------------------------


def restore_request(*, actor: Any, tenant: Tenant, archive: str, mode: str, confirm: str) -> Any:
    """Operator: queue a restore of `tenant` from one of its own exports (by file name, looked up in its own
    folder), after typing the workspace's slug. Audited. Runs in a worker (`restore_run`)."""
    from crm.kernel.dispatch import enqueue
    from crm.platform.models import OperatorAudit
    from crm.tenants.models import RestoreJob

    check_operator(actor)
    if mode not in MODES:
        raise ServiceError(_("Choose how to restore: in place or into a new schema."), field="mode")
    if export_file(tenant, archive) is None:
        raise ServiceError(_("Choose one of this workspace's exports."), field="archive")
    if (confirm or "").strip() != (tenant.slug or ""):
        raise ServiceError(
            _("Type the workspace's name (%(slug)s) to confirm.") % {"slug": tenant.slug}, field="confirm"
        )
    with transaction.atomic():
        if RestoreJob.objects.filter(tenant=tenant, status__in=["queued", "running"]).exists():
            raise ServiceError(_("A restore of this workspace is already under way."), code="conflict")
        job = RestoreJob.objects.create(tenant=tenant, created_by=actor, archive=archive, mode=mode)
        OperatorAudit.objects.create(
            operator=actor,
            tenant=tenant,
            action="tenant.restore.request",
            detail={"job": job.pk, "archive": archive, "mode": mode, "schema": tenant.schema_name},
        )
        enqueue("crm.tenants.tasks.workspace_restore", args=[job.pk])
    return job


def throttled_progress(job: Any) -> Progress:
    """A progress callback for a public job row (restore, export): heartbeat and progress through
    `crm.platform.jobs.job_heartbeat`, at most once a second (each beat may open a side connection),
    always at a phase's end."""
    import time

    from crm.platform.jobs import job_heartbeat

    last = [0.0]

    def progress(phase: str, done: int, total: int) -> None:
        if done != total and time.monotonic() - last[0] < 1.0:
            return
        last[0] = time.monotonic()
        job_heartbeat(job, schema="public", phase=phase, done=done, total=total)

    return progress


def restore_run(*, job_id: int) -> Any:
    """Worker side: claim the job (queued -> running in one UPDATE; a second delivery finds nothing to do),
    restore with a heartbeat per table, record the outcome and audit it. Safe to run again after a killed
    worker: the interrupted transaction was rolled back with it."""
    from crm.platform.models import OperatorAudit
    from crm.tenants.models import RestoreJob

    now = timezone.now()
    if not RestoreJob.objects.filter(pk=job_id, status="queued").update(
        status="running", started_at=now, heartbeat_at=now, phase="", done=0, total=0, error=""
    ):
        return None
    job = RestoreJob.objects.select_related("tenant", "created_by").get(pk=job_id)
    progress = throttled_progress(job)

    path = export_file(job.tenant, job.archive)
    try:
        if path is None:
            raise ServiceError(
                _("The export %(f)s is no longer there.") % {"f": job.archive}, code="bad_archive"
            )
        result = workspace_restore(
            actor=job.created_by, archive_path=path, tenant=job.tenant, mode=job.mode, progress=progress
        )
    except Exception as exc:
        # A refusal, or anything unexpected (logged): the job says failed, nothing changed (rolled back).
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        if isinstance(exc, ServiceError):
            message = str(exc.message)
        else:
            log.exception("restore job %s failed", job.pk)
            message = _("The restore failed (%(error)s). Details are in the worker's log.") % {
                "error": type(exc).__name__
            }
        RestoreJob.objects.filter(pk=job.pk).update(
            status="failed", error=message, finished_at=timezone.now()
        )
        OperatorAudit.objects.create(
            operator=job.created_by,
            tenant=job.tenant,
            action="tenant.restore.failed",
            detail={"job": job.pk, "archive": job.archive, "mode": job.mode, "error": message},
        )
        return None
    RestoreJob.objects.filter(pk=job.pk).update(
        status="done",
        result=result.as_dict(),
        finished_at=timezone.now(),
        phase="done",
        done=result.tables,
        total=result.tables,
        heartbeat_at=timezone.now(),
    )
    OperatorAudit.objects.create(
        operator=job.created_by,
        tenant=job.tenant,
        action="tenant.restore",
        detail={"job": job.pk, "archive": job.archive, **result.as_dict()},
    )
    return result


def restore_jobs(*, actor: Any, tenant: Tenant) -> list[Any]:
    from crm.tenants.models import RestoreJob

    check_operator(actor)
    return list(RestoreJob.objects.filter(tenant=tenant).select_related("created_by")[:10])
