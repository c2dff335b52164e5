"""Migrate the tenant schemas that need it: template and spare pool first, then the rest in parallel."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.tenants.migrator import SchemaResult, migrate_tenants


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

        report = migrate_tenants(workers=options["workers"], schemas=options["schema"], progress=progress)
        self.stdout.write(
            f"migrated {len(report.migrated) - len(report.failed)}, current {len(report.skipped)}, "
            f"failed {len(report.failed)} in {report.seconds:.1f}s"
        )
        if report.failed:
            retry = " ".join(f"--schema {r.schema}" for r in report.failed)
            raise CommandError(f"failed schemas; retry with: manage.py migrate_tenants {retry}")
