"""Restore one workspace from one of its exports (runbook: deploy/docs/runbook.md, "Restore one workspace").

    manage.py workspace_restore <slug> <zip> --mode in_place|new_schema --operator ops@example.com

The zip may be any path (an export copied back from off-site storage). Runs in this process, prints the
phases, and is audited under the operator given (an active platform operator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from crm.platform.errors import ServiceError
from crm.tenants import backup
from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant


class Command(BaseCommand):
    help = "Restore one workspace from its export zip, in place or into a new schema (operators)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("slug")
        parser.add_argument("archive")
        parser.add_argument("--mode", choices=backup.MODES, required=True)
        parser.add_argument("--operator", required=True, help="email of the platform operator doing this")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.db import connection

        from crm.platform.models import OperatorAudit

        connection.set_schema_to_public()  # type: ignore[attr-defined]
        tenant = Tenant.objects.filter(slug=options["slug"]).first()
        if tenant is None:
            raise CommandError(f"no workspace {options['slug']!r}")
        actor = User.objects.filter(email__iexact=options["operator"]).first()
        if actor is None:
            raise CommandError(f"no user {options['operator']!r}")
        archive = Path(options["archive"])
        if not archive.is_file():
            raise CommandError(f"no file {archive}")

        def progress(phase: str, done: int, total: int) -> None:
            if done in (0, total) or done % 20 == 0:
                self.stdout.write(f"{phase}: {done}/{total}")

        try:
            result = backup.workspace_restore(
                actor=actor, archive_path=archive, tenant=tenant, mode=options["mode"], progress=progress
            )
        except ServiceError as exc:
            raise CommandError(str(exc.message)) from None
        OperatorAudit.objects.create(
            operator=actor,
            tenant=tenant,
            action="tenant.restore",
            detail={"archive": archive.name, **result.as_dict()},
        )
        self.stdout.write(self.style.SUCCESS(f"restored: {result.as_dict()}"))
        if result.mode == "new_schema":
            self.stdout.write(f"the previous schema {result.old_schema} is kept; drop it once checked")
