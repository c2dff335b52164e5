"""Retail periodic tasks (run per tenant inside its schema by the platform's beat fan-out)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="crm.modules.retail.tasks.points_expire")
def points_expire() -> int:
    # Idempotent: a retry or a second run finds nothing left to expire.
    return services.points_expire()


@shared_task(name="crm.modules.retail.tasks.care")
def care() -> dict[str, int]:
    """The daily care run: today's CareRun row, claimed and run here; a second delivery the same day finds
    it claimed or done and does nothing (every message also has a unique idempotency key)."""
    from . import care as member_care

    run = member_care.care_run_start()
    finished = member_care.care_run_execute(run_id=run.pk)
    return dict(finished.counts) if finished is not None else {}


@shared_task(name="crm.modules.retail.tasks.care_resume", ignore_result=True)
def care_resume(run_id: int) -> None:
    """One care run again (requeued by the jobs sweeper after its worker stopped, or retried by the owner)."""
    from . import care as member_care

    member_care.care_run_execute(run_id=run_id)
