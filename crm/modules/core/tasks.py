"""Celery tasks of the core: thin wrappers calling one service, run inside a tenant schema."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="crm.modules.core.tasks.pool_sweep")
def pool_sweep() -> dict[str, int]:
    """Per-tenant beat task (the platform fan-out runs it in each tenant schema with core enabled)."""
    result = services.pool_sweep()
    return {"warned": len(result.warned), "returned": len(result.returned)}


@shared_task(name="crm.modules.core.tasks.task_reminders")
def task_reminders() -> int:
    """Per-tenant beat task: email reminders for tasks coming due (idempotent)."""
    return len(services.task_reminders_send())


@shared_task(name="crm.modules.core.tasks.import_run")
def import_run(job_id: int) -> str:
    """Run one spreadsheet import (idempotent: a job runs once)."""
    from .imports import import_run as run

    return run(job_id).status


@shared_task(name="crm.modules.core.tasks.import_cleanup")
def import_cleanup() -> int:
    """Per-tenant beat task: delete uploaded import files a week after the import finished."""
    from .imports import import_cleanup as cleanup

    return cleanup()
