"""Long jobs that survive a killed worker (models with crm.platform.models.HeartbeatJob fields).

The running task calls `job_heartbeat(job)` every few thousand rows. `jobs_sweep()` (beat, every minute)
finds running jobs of every tenant whose heartbeat is older than CRM_JOB_STALE_SECONDS: it requeues each
up to CRM_JOB_MAX_ATTEMPTS times ("interrupted, resumed"), then marks it failed with the reason
("failed, retry"); `job_retry()` is the user's retry button. The job's task must claim the row
(queued -> running in one UPDATE) and be idempotent: a requeued import re-runs from the start in one
transaction, and the interrupted run's transaction was rolled back with the worker.

Job models and their task are listed in settings.CRM_HEARTBEAT_JOBS ({"app.Model": "task name"}); each has
`status` with "queued" / "running" / "failed", `created_by` and `finished_at`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context

from crm.platform.errors import PermissionDenied, ServiceError

log = logging.getLogger(__name__)

STALE_REASON = gettext_lazy("The worker running this job stopped (%(n)d attempts).")


def _in_transaction() -> bool:
    # The test harness wraps each test in an atomic block marked _from_testcase: not a real transaction.
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def job_heartbeat(job: Any, *, schema: str | None = None, **fields: Any) -> None:
    """Record that `job` is alive, with any progress `fields` (e.g. phase, done, total), visible to other
    connections at once, even mid-transaction. `schema`: where the job's table is (default: the current
    schema; "public" for the public job rows of restores and exports).

    Inside the job's own transaction the beat goes through a short-lived second connection in autocommit:
    written in that transaction it would stay invisible to the sweeper until the job commits. Opening it
    costs a few milliseconds, once per few thousand rows."""
    now = timezone.now()
    values = {"heartbeat_at": now, **fields}
    for name, value in values.items():
        setattr(job, name, value)
    model = type(job)
    if not _in_transaction():
        model.objects.filter(pk=job.pk).update(**values)
        return
    side = connections.create_connection("default")
    try:
        side.set_schema(schema or connection.schema_name)  # type: ignore[attr-defined]
        with side.cursor() as cur:
            quote = side.ops.quote_name
            table = quote(model._meta.db_table)  # a model's own table and column names, quoted
            assignments = ", ".join(f"{quote(model._meta.get_field(n).column)} = %s" for n in values)
            cur.execute(
                f"UPDATE {table} SET {assignments} WHERE id = %s",  # noqa: S608
                [*values.values(), job.pk],
            )
    finally:
        side.close()


def _job_models(setting: str = "CRM_HEARTBEAT_JOBS") -> list[tuple[Any, str]]:
    return [(apps.get_model(label), task) for label, task in getattr(settings, setting, {}).items()]


def jobs_sweep_schema(*, now: Any = None, setting: str = "CRM_HEARTBEAT_JOBS") -> dict[str, int]:
    """Requeue or fail the stalled jobs of the current schema (tenant job models; with
    setting="CRM_PUBLIC_HEARTBEAT_JOBS", the public schema's, e.g. workspace restores)."""
    from crm.kernel.dispatch import enqueue

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CRM_JOB_STALE_SECONDS)
    requeued = failed = 0
    for model, task_name in _job_models(setting):
        stalled = model.objects.filter(status="running").filter(
            Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
        )
        for job in stalled.order_by("id"):
            with transaction.atomic():
                if job.attempts < settings.CRM_JOB_MAX_ATTEMPTS:
                    # Conditional on the old beat: a job that woke up meanwhile is left alone.
                    if model.objects.filter(
                        pk=job.pk, status="running", heartbeat_at=job.heartbeat_at
                    ).update(
                        status="queued", attempts=F("attempts") + 1, recovery="resumed", heartbeat_at=now
                    ):
                        enqueue(task_name, args=[job.pk])
                        requeued += 1
                        log.warning(
                            "job %s #%s stalled: requeued (attempt %s)",
                            model.__name__,
                            job.pk,
                            job.attempts + 1,
                        )
                else:
                    reason = str(STALE_REASON % {"n": job.attempts + 1})
                    if model.objects.filter(
                        pk=job.pk, status="running", heartbeat_at=job.heartbeat_at
                    ).update(status="failed", recovery="gave_up", recovery_reason=reason, finished_at=now):
                        failed += 1
                        log.error(
                            "job %s #%s stalled %s times: marked failed",
                            model.__name__,
                            job.pk,
                            job.attempts + 1,
                        )
    return {"requeued": requeued, "failed": failed}


def jobs_sweep(*, now: Any = None) -> dict[str, int]:
    """`jobs_sweep_schema` in every tenant schema (suspended ones too: their jobs must not hang)."""
    from crm.tenants.models import Tenant

    total = {"requeued": 0, "failed": 0}
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            total = jobs_sweep_schema(now=now, setting="CRM_PUBLIC_HEARTBEAT_JOBS")
    except Exception:
        log.exception("jobs sweep failed in public")
    for schema in Tenant.objects.exclude(schema_name="public").values_list("schema_name", flat=True):
        with schema_context(schema):
            try:
                with transaction.atomic():  # one schema's failure must not abort the others
                    result = jobs_sweep_schema(now=now)
            except Exception:
                log.exception("jobs sweep failed in %s", schema)
                continue
        for key, value in result.items():
            total[key] += value
    return total


def job_requeue(job: Any, task_name: str, *, match: dict[str, Any] | None = None, **clear: Any) -> bool:
    """Queue a failed job again from the start (attempts and recovery reset, `clear` fields set too) in one
    conditional UPDATE, and dispatch its task on commit. False, with nothing written, when the job is not
    failed (or does not `match`): a concurrent retry got there first. Callers check their permission."""
    from crm.kernel.dispatch import enqueue

    model = type(job)
    with transaction.atomic():
        if not model.objects.filter(pk=job.pk, status="failed", **(match or {})).update(
            status="queued",
            attempts=0,
            recovery="",
            recovery_reason="",
            finished_at=None,
            heartbeat_at=None,
            **clear,
        ):
            return False
        enqueue(task_name, args=[job.pk])
    job.refresh_from_db()
    return True


def job_failure_reason(job: Any) -> str:
    """Why a job failed, in the reader's language: the sweeper's reason is rendered now (it was written in
    the worker's), any other failure is the error the job recorded. Empty unless the job failed."""
    if job.status != "failed":
        return ""
    return str(STALE_REASON % {"n": job.attempts + 1}) if job.recovery == "gave_up" else job.error


def job_retry(*, actor: Any, job: Any) -> Any:
    """The user's retry of a job the sweeper gave up on: queued again from the start (idempotent)."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("This job belongs to someone else."))
    if job.status != "failed" or job.recovery != "gave_up":
        raise ServiceError(_("Only an interrupted job can be retried."), code="conflict")
    task_name = settings.CRM_HEARTBEAT_JOBS[type(job)._meta.label]
    if not job_requeue(job, task_name, match={"recovery": "gave_up"}):
        raise ServiceError(_("Only an interrupted job can be retried."), code="conflict")
    return job
