"""Migrate the tenant schemas that need it: template and spare pool first, then the rest in parallel."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from crm.tenants.migration_runs import migration_run_execute, migration_run_start
from crm.tenants.migrator import SchemaResult


class Command(BaseCommand):
    help = (
        "Apply pending migrations to every tenant schema (the public schema first needs "
        "`migrate_schemas --shared`). Current schemas are skipped; a failed schema is reported and the "
        "others go on; exits 1 when any failed."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--workers", type=int, default=2, help="parallel processes (default 2)")
        parser.add_argument("--schema", action="append", help="only this schema (repeat for several)")

    def handle(self, *args: Any, **options: Any) -> None:
        verbose = int(options["verbosity"]) >= 1

        def progress(res: SchemaResult, done: int, total: int) -> None:
            if verbose or not res.ok:
                state = "ok" if res.ok else f"FAILED {res.error}"
                self.stdout.write(f"[{done}/{total}] {res.schema} {state} ({res.seconds * 1000:.0f} ms)")

        # Recorded as a run with a heartbeat (console; resumed by the jobs sweeper if this process dies).
        run = migration_run_start(schemas=options["schema"], workers=options["workers"])
        report = migration_run_execute(run, progress=progress)
        if report is None:
            run.status, run.finished_at = run.Status.FAILED, timezone.now()
            run.error = "another migrate_tenants was running"
            run.save(update_fields=["status", "finished_at", "error", "updated_at"])
            raise CommandError("another migrate_tenants is running on this database; wait for it to finish")
        self.stdout.write(
            f"migrated {len(report.migrated) - len(report.failed)}, current {len(report.skipped)}, "
            f"failed {len(report.failed)} in {report.seconds:.1f}s"
        )
        if report.failed:
            retry = " ".join(f"--schema {r.schema}" for r in report.failed)
            raise CommandError(f"failed schemas; retry with: manage.py migrate_tenants {retry}")
