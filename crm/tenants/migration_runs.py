"""Runs of `migrate_tenants` as heartbeat jobs (issue 14: migrations of tenants survive a killed process).

The command records a `MigrationRun` and beats it after every schema (done of total). If the process dies
(a deploy job killed, a node lost), the beat stops; the jobs sweeper requeues the run as the
`migration_run` Celery task, which migrates what is still behind (schemas already current are skipped in
one query) and, after the last attempt, fails it with the reason. One migrator at a time: a session
advisory lock is held for the whole run, so a requeued task that finds the original still alive (a
single schema slower than the stale limit) leaves it alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, connections
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.jobs import job_heartbeat

from .migrator import MigrateReport, SchemaResult, migrate_tenants
from .models import MigrationRun

log = logging.getLogger(__name__)
LOCK_KEY = 0x6D696772  # "migr": one tenant migrator at a time on this database


@contextmanager
def migrator_lock() -> Iterator[bool]:
    """Held for a whole run on a connection of its own (the migrator closes the default connection before
    it forks its workers; session level: released if the process dies). Yields False when another
    migrator holds it."""
    side = connections.create_connection("default")
    try:
        with side.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
            row = cur.fetchone()
        yield bool(row and row[0])
    finally:
        side.close()  # ends the session: the lock goes with it


def migration_run_start(*, schemas: Iterable[str] | None = None, workers: int = 2) -> MigrationRun:
    """The command's own run: recorded as running at once (the command is the worker)."""
    now = timezone.now()
    return MigrationRun.objects.create(
        status=MigrationRun.Status.RUNNING,
        schemas=sorted(schemas or []),
        workers=workers,
        started_at=now,
        heartbeat_at=now,
    )


def migration_run_execute(
    run: MigrationRun,
    progress: Callable[[SchemaResult, int, int], None] | None = None,
    workers: int | None = None,
) -> MigrateReport | None:
    """Migrate with a heartbeat after every schema, then record the outcome. None when another migrator
    is running (the row is left to it). `workers`: instead of the run's (a Celery worker's process may not
    fork a pool: 1)."""
    with migrator_lock() as got:
        if not got:
            log.warning("migration run %s: another migrator holds the lock; left to it", run.pk)
            return None

        def beat(res: SchemaResult, done: int, total: int) -> None:
            job_heartbeat(run, schema="public", done=done, total=total)
            if progress is not None:
                progress(res, done, total)

        try:
            report = migrate_tenants(
                workers=run.workers if workers is None else workers,
                schemas=run.schemas or None,
                progress=beat,
            )
        except Exception as exc:
            log.exception("migration run %s failed", run.pk)
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            MigrationRun.objects.filter(pk=run.pk).update(
                status=MigrationRun.Status.FAILED,
                finished_at=timezone.now(),
                error=_("The migration run failed (%(error)s); run migrate_tenants again.")
                % {"error": type(exc).__name__},
            )
            raise
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    failed = [[r.schema, r.error[:300]] for r in report.failed]
    MigrationRun.objects.filter(pk=run.pk).update(
        status=MigrationRun.Status.FAILED if failed else MigrationRun.Status.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        migrated=len(report.migrated) - len(report.failed),
        current=len(report.skipped),
        failed_schemas=failed,
        error=_("%(n)d schemas failed; run migrate_tenants again for them.") % {"n": len(failed)}
        if failed
        else "",
    )
    run.refresh_from_db()
    return report


def migration_run_resume(run_id: int) -> MigrateReport | None:
    """The sweeper's requeue (Celery task): claim the queued run, then run it. A second delivery finds
    nothing to claim."""
    now = timezone.now()
    if not MigrationRun.objects.filter(pk=run_id, status=MigrationRun.Status.QUEUED).update(
        status=MigrationRun.Status.RUNNING, heartbeat_at=now
    ):
        return None
    return migration_run_execute(MigrationRun.objects.get(pk=run_id), workers=1)


def migration_runs_recent(limit: int = 5) -> list[MigrationRun]:
    return list(MigrationRun.objects.order_by("-id")[:limit])
