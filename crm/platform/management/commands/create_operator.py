"""Create a platform operator (public schema) for the operator console."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from crm.platform.console.services import operator_create
from crm.platform.errors import ServiceError


class Command(BaseCommand):
    help = "Create a platform operator account for the operator console (/console/)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--password", help="Prompted for when omitted (keeps it out of shell history).")

    def handle(self, *args: Any, **options: Any) -> None:
        password = options["password"]
        if not password:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            user = operator_create(email=options["email"], name=options["name"], password=password)
        except ServiceError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.fields.items())
            raise CommandError(problems or str(exc.message)) from None
        self.stdout.write(self.style.SUCCESS(f"Operator {user.email} created. Log in at /console/login/."))
