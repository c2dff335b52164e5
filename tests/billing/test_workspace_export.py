"""The owner can always take the workspace's data out (issue 13, section 3): a full export from the billing
pages, made by a worker, also while an operator has suspended the workspace; nobody else can, and no
other workspace's file is ever served."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.billing import services
from crm.modules.core import services as core
from crm.tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def test_the_owner_exports_while_suspended_and_gets_every_table(
    alpha: Any, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(alpha.schema):
        core.customer_create(actor=alpha.users["owner"], name="导出测试有限公司")
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status="suspended", suspended_by_billing=False)
    owner = alpha.client("owner", language="en")

    suspended = owner.get("/customers/")
    assert suspended.status_code == 403
    assert "/billing/export/" in suspended.content.decode()  # the page says how to get the data out
    assert owner.get("/billing/export/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/billing/export/", follow=True)
    assert "being prepared" in response.content.decode()

    page = owner.get("/billing/export/").content.decode()
    names = [p.name for p in services.tenant_exports(tenant=alpha.tenant)]
    assert len(names) == 1 and names[0] in page
    download = owner.get(f"/billing/export/{names[0]}")
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))  # type: ignore[attr-defined]
    assert "core_customer.csv" in archive.namelist()
    assert "导出测试有限公司" in archive.read("core_customer.csv").decode()


def test_a_second_request_while_one_is_pending_is_refused(alpha: Any, media: Any) -> None:
    owner = alpha.users["owner"]
    services.tenant_export_request(actor=owner, tenant=alpha.tenant)  # queued (eager: on commit)
    with pytest.raises(services.ServiceError):
        services.tenant_export_request(actor=owner, tenant=alpha.tenant)


def test_only_the_owner_exports_and_never_another_workspaces_file(
    alpha: Any, beta: Any, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for role in ("admin", "manager", "sales", "finance"):
        assert alpha.client(role).get("/billing/export/").status_code == 403, role
    with django_capture_on_commit_callbacks(execute=True):
        beta.client("owner").post("/billing/export/")
    beta_file = services.tenant_exports(tenant=beta.tenant)[0].name
    assert alpha.client("owner").get(f"/billing/export/{beta_file}").status_code == 404
    assert alpha.client("owner").get("/billing/export/..%2F..%2Fetc%2Fpasswd").status_code == 404


def _stall(job: Any, *, attempts: int = 0) -> None:
    """What a worker killed mid-export leaves: the job running, its heartbeat stopped, a half zip."""
    from datetime import timedelta

    from django.utils import timezone

    old = timezone.now() - timedelta(hours=1)
    type(job).objects.filter(pk=job.pk).update(
        status="running", started_at=old, heartbeat_at=old, attempts=attempts, phase="tables", done=3
    )


def test_an_export_whose_worker_died_is_resumed_and_written_once(
    alpha: Any, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from crm.platform.jobs import jobs_sweep
    from crm.tenants.models import ExportJob

    job = services.tenant_export_request(actor=alpha.users["owner"], tenant=alpha.tenant)  # not sent
    _stall(job)
    half = services._export_dir(alpha.tenant) / "interrupted.part"
    half.parent.mkdir(parents=True, exist_ok=True)
    half.write_bytes(b"PK half a zip")
    owner = alpha.client("owner", language="en")
    assert 'data-status="running"' in owner.get("/billing/export/").content.decode()  # progress, polling
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["requeued"] == 1
    job.refresh_from_db()
    assert (job.status, job.recovery, job.attempts) == ("done", "resumed", 1)
    assert not half.exists()
    names = [p.name for p in services.tenant_exports(tenant=alpha.tenant)]
    assert names == [job.file]
    assert job.total > 10 and job.done == job.total  # the tables and files the worker reported
    # A late second delivery of the same message finds the job claimed and writes nothing more.
    assert services.tenant_export_run(job_id=job.pk) is None
    assert len(services.tenant_exports(tenant=alpha.tenant)) == 1
    assert ExportJob.objects.filter(tenant=alpha.tenant).count() == 1


def test_an_export_that_keeps_dying_fails_with_the_reason_and_the_owner_asks_again(
    alpha: Any, beta: Any, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django.conf import settings

    from crm.platform.jobs import jobs_sweep

    job = services.tenant_export_request(actor=alpha.users["owner"], tenant=alpha.tenant)
    _stall(job, attempts=settings.CRM_JOB_MAX_ATTEMPTS)
    other = services.tenant_export_request(actor=beta.users["owner"], tenant=beta.tenant)
    assert jobs_sweep()["failed"] == 1
    job.refresh_from_db()
    assert (job.status, job.recovery) == ("failed", "gave_up")
    owner = alpha.client("owner", language="zh-hans")
    page = owner.get("/billing/export/").content.decode()
    assert 'data-testid="export-failed"' in page and "hx-trigger" not in page  # no endless polling
    assert "已放弃" in page  # the reason, in the owner's language
    assert "export-pending" not in page  # beta's queued export is not alpha's
    with django_capture_on_commit_callbacks(execute=True):
        owner.post("/billing/export/")
    assert len(services.tenant_exports(tenant=alpha.tenant)) == 1
    other.refresh_from_db()
    assert other.status == "queued" and services.tenant_exports(tenant=beta.tenant) == []
