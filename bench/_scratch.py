"""A throw-away tenant schema for benchmark sections: cloned from the (migrated) template, dropped after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import schema_context

from crm.tenants import provisioning


@contextmanager
def scratch_schema(prefix: str) -> Iterator[str]:
    """Inside a fresh clone of the template schema (its name is yielded); the schema is dropped afterwards."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    provisioning.template_ensure()
    name = provisioning.new_schema_name(prefix)
    with transaction.atomic():
        provisioning.schema_clone(name)
    try:
        with schema_context(name):
            yield name
    finally:
        connection.set_schema_to_public()  # type: ignore[attr-defined]
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
