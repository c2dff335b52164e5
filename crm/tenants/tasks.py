"""Celery tasks for tenancy. Thin: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="crm.tenants.tasks.refill_pool", ignore_result=True)
def refill_pool() -> int:
    from crm.tenants.provisioning import pool_refill

    return pool_refill()


@shared_task(
    name="crm.tenants.tasks.workspace_restore", ignore_result=True, acks_late=True, reject_on_worker_lost=True
)
def workspace_restore(job_id: int) -> None:
    """An operator's restore of one workspace (crm.tenants.backup.restore_request)."""
    from crm.tenants.backup import restore_run

    restore_run(job_id=job_id)


@shared_task(
    name="crm.tenants.tasks.migration_run", ignore_result=True, acks_late=True, reject_on_worker_lost=True
)
def migration_run(run_id: int) -> None:
    """A `migrate_tenants` run whose process died, requeued by the jobs sweeper: what is still behind."""
    from crm.tenants.migration_runs import migration_run_resume

    migration_run_resume(run_id)
