"""Durable dispatch (crm.kernel.dispatch) and the stalled-job sweeper (crm.platform.jobs), in process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.kernel.dispatch import dispatch_sweep, enqueue
from crm.modules.core import imports
from crm.modules.core.models import Customer, ImportJob
from crm.platform.errors import ServiceError
from crm.platform.jobs import job_retry, jobs_sweep, jobs_sweep_schema
from crm.platform.models import PendingDispatch

CSV = "客户名称,手机\n甲公司,13900000001\n乙公司,13900000002\n".encode()


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _queued(alpha, capture) -> ImportJob:
    owner = alpha.users["owner"]
    job = imports.import_upload(actor=owner, kind="customers", filename="x.csv", data=CSV)
    with capture(execute=False):
        imports.import_start(actor=owner, job=job, mapping=job.mapping, key="phone")
    return job


def test_enqueue_writes_a_row_sent_on_commit(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        job = imports.import_upload(actor=alpha.users["owner"], kind="customers", filename="x.csv", data=CSV)
        with django_capture_on_commit_callbacks(execute=True):
            imports.import_start(actor=alpha.users["owner"], job=job, mapping=job.mapping, key="phone")
        row = PendingDispatch.objects.get(task_name="crm.modules.core.tasks.import_run")
        assert (row.args, row.schema) == ([job.pk], alpha.schema)
        assert row.sent_at is not None and row.attempts == 1
        job.refresh_from_db()
        assert job.status == "done" and Customer.objects.filter(name__in=["甲公司", "乙公司"]).count() == 2


def test_sweep_resends_only_due_unsent_rows_oldest_first(alpha):
    with schema_context(alpha.schema):
        ids = [enqueue("crm.platform.tasks.event_dispatch", args=[10_000_000 + i]) for i in range(3)]
    # Not yet due (the on-commit send normally wins), then due: all sent, in id order, once.
    PendingDispatch.objects.exclude(pk__in=ids).update(sent_at=timezone.now())  # the session's own rows
    assert dispatch_sweep()["due"] == 0
    later = timezone.now() + timedelta(minutes=1)
    assert dispatch_sweep(now=later, batch=2) == {"sent": 2, "failed": 0, "due": 2}
    sent = list(
        PendingDispatch.objects.filter(pk__in=ids, sent_at__isnull=False).values_list("pk", flat=True)
    )
    assert sent == ids[:2]
    assert dispatch_sweep(now=later) == {"sent": 1, "failed": 0, "due": 1}
    assert dispatch_sweep(now=later)["due"] == 0


def test_stalled_job_is_requeued_then_failed_and_retried(alpha, settings, django_capture_on_commit_callbacks):
    settings.CRM_JOB_STALE_SECONDS = 120
    with schema_context(alpha.schema):
        job = _queued(alpha, django_capture_on_commit_callbacks)
        old = timezone.now() - timedelta(minutes=5)
        ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=old, started_at=old)
        # A fresh heartbeat is left alone.
        assert jobs_sweep_schema(now=old + timedelta(seconds=60)) == {"requeued": 0, "failed": 0}
        assert jobs_sweep_schema() == {"requeued": 1, "failed": 0}
        job.refresh_from_db()
        assert (job.status, job.attempts, job.recovery) == ("queued", 1, "resumed")
        assert PendingDispatch.objects.filter(task_name="crm.modules.core.tasks.import_run").count() == 2
        page = alpha.client("owner").get(f"/import/{job.pk}/")
        assert 'data-testid="import-resumed"' in page.content.decode()

        # Third stall with 3 attempts used: failed with the reason, retry offered.
        ImportJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=old, attempts=3)
    assert jobs_sweep()["failed"] >= 1  # every tenant schema
    with schema_context(alpha.schema):
        job.refresh_from_db()
        assert (job.status, job.recovery) == ("failed", "gave_up")
        assert "4" in job.recovery_reason
        body = alpha.client("owner").get(f"/import/{job.pk}/").content.decode()
        assert 'data-testid="import-interrupted"' in body and 'data-testid="import-retry"' in body

        with pytest.raises(ServiceError):
            job_retry(actor=alpha.users["manager"], job=job)  # someone else's job
        client = alpha.client("owner")
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/import/{job.pk}/retry/")
        assert response.status_code == 302
        job.refresh_from_db()
        assert (job.status, job.created_count, job.attempts, job.recovery) == ("done", 2, 0, "")
        assert Customer.objects.filter(name__in=["甲公司", "乙公司"]).count() == 2
        with pytest.raises(ServiceError):
            job_retry(actor=alpha.users["owner"], job=job)  # nothing to retry now


def test_redelivered_import_runs_once(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        job = _queued(alpha, django_capture_on_commit_callbacks)
        assert imports.import_run(job.pk).status == "done"
        ImportJob.objects.filter(pk=job.pk).update(status="running")  # as if another worker held it
        imports.import_run(job.pk)  # a second delivery: the claim fails, nothing is written
        assert Customer.objects.filter(name__in=["甲公司", "乙公司"]).count() == 2


def test_domain_event_runs_in_process_and_its_row_is_settled(alpha, django_capture_on_commit_callbacks):
    from crm.platform import events
    from crm.platform.models import DomainEvent

    calls: list[int] = []

    def flaky(event: DomainEvent) -> None:
        calls.append(event.pk)
        if len(calls) == 1:
            raise RuntimeError("subscriber down")

    events.subscribe("faults.test", flaky)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ok = events.publish("faults.test", tenant=alpha.tenant, payload={})
        # First run in process failed: the row went to a worker (eager here), which ran it again.
        assert calls == [ok.pk, ok.pk]
        ok.refresh_from_db()
        assert ok.processed_at is not None
        with django_capture_on_commit_callbacks(execute=True):
            second = events.publish("faults.test", tenant=alpha.tenant, payload={})
        assert calls == [ok.pk, ok.pk, second.pk]  # in process only, once
        rows = PendingDispatch.objects.filter(task_name=events.EVENT_TASK, args__in=[[ok.pk], [second.pk]])
        assert rows.count() == 2 and not rows.filter(sent_at__isnull=True).exists()
    finally:
        events._subscribers["faults.test"].remove(flaky)
