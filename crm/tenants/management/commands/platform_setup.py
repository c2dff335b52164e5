"""Migrate every schema, make sure the template schema exists and fill the pool of spare schemas."""

import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from crm.tenants import provisioning
from crm.tenants.migrator import migrate_tenants


class Command(BaseCommand):
    help = "Migrate public + tenant schemas, ensure the template schema, refill the spare-schema pool."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-pool", action="store_true", help="do not clone spare schemas")

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        provisioning.public_ensure()  # the public site and console are routed through this row
        provisioning.template_ensure()
        # Template and pool first, the rest in parallel, current schemas skipped (crm/tenants/migrator.py).
        report = migrate_tenants(workers=2)
        if report.failed:
            failed = ", ".join(f"{r.schema}: {r.error}" for r in report.failed)
            raise CommandError(f"migrations failed for {failed}")
        from crm.billing.ledger import ledger_backfill, prices_seed

        prices_seed()  # a price row per sellable module that has none (idempotent)
        ledger_backfill()  # billing's module-day ledger from the module history (idempotent)
        added = 0 if options["no_pool"] else provisioning.pool_refill()
        self.stdout.write(f"platform ready in {time.perf_counter() - started:.1f}s (pool +{added})")
