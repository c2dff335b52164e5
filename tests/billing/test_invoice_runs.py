"""The monthly invoice run as a job with a heartbeat (issue 14, item 3): a run whose worker died is requeued
by the jobs sweeper and invoices each workspace once; one that keeps dying fails with the reason and an
operator runs it again from the console; a second delivery after completion does nothing. The console also
lists a workspace's export jobs (status, progress, tries, error), for operators only."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.billing import services
from crm.billing.ledger import ledger_sync_all
from crm.billing.models import Invoice, InvoiceRun
from crm.platform.jobs import jobs_sweep
from crm.tenants.accounts.models import User
from crm.tenants.models import LIVE_STATUSES, ExportJob, Tenant, TenantStatus
from tests.billing.conftest import history

SH = ZoneInfo("Asia/Shanghai")
OCTOBER = date(2026, 10, 1)
NOVEMBER_2ND = date(2026, 11, 2)
pytestmark = pytest.mark.django_db


@pytest.fixture
def owing(alpha: Any, beta: Any, offline: Any) -> list[Tenant]:
    """alpha and beta: trial over long ago, project on since 15 September: each owes October."""
    tenants = []
    for fixture in (alpha, beta):
        tenant = fixture.tenant
        tenant.trial_ends_at = datetime(2026, 1, 1, tzinfo=SH)
        tenant.status = TenantStatus.ACTIVE
        tenant.save()
        history(tenant, "project", [(datetime(2026, 9, 15, 12, tzinfo=SH), "enable")])
        ledger_sync_all(tenant=tenant)
        tenants.append(tenant)
    return tenants


def _console(user: Any, language: str = "en") -> Client:
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE=language)
    with schema_context("public"):  # console accounts live there (a workspace client may have left its own)
        client.force_login(user, backend="crm.tenants.accounts.backends.EmailBackend")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def _killed_after_first(tenants: list[Tenant], *, attempts: int = 0) -> InvoiceRun:
    """What a worker killed mid-run leaves: the run claimed, the first workspace invoiced, the heartbeat
    stopped an hour ago."""
    run = services.invoice_run_start(period_start=OCTOBER)
    old = timezone.now() - timedelta(hours=1)
    InvoiceRun.objects.filter(pk=run.pk).update(
        status="running", started_at=old, heartbeat_at=old, attempts=attempts
    )
    assert services.invoice_generate(tenant=tenants[0], period_start=OCTOBER) is not None
    run.refresh_from_db()
    return run


def test_a_run_whose_worker_died_is_resumed_and_invoices_each_workspace_once(
    owing: list[Tenant], operator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # Given: a run killed after invoicing alpha.
    run = _killed_after_first(owing)
    first = Invoice.objects.get(tenant=owing[0], period_start=OCTOBER, manual=True)

    # When: the jobs sweeper finds its stopped heartbeat (the requeued task runs in process here).
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["requeued"] == 1

    # Then: done on the second attempt; alpha still has its one invoice, beta got its own.
    run.refresh_from_db()
    live = Tenant.objects.filter(status__in=LIVE_STATUSES).count()
    assert (run.status, run.recovery, run.attempts) == ("done", "resumed", 1)
    assert (run.total, run.done, run.invoiced) == (live, live, 2)
    invoices = Invoice.objects.filter(period_start=OCTOBER, manual=True)
    assert sorted(invoices.values_list("tenant_id", flat=True)) == sorted(t.pk for t in owing)
    assert invoices.get(tenant=owing[0]).pk == first.pk

    # A second delivery of the hourly task, or of the requeued one, does nothing.
    assert services.invoices_generate_monthly(today=NOVEMBER_2ND) == 0
    assert services.invoice_run_execute(run_id=run.pk) is None
    assert invoices.count() == 2 and InvoiceRun.objects.count() == 1

    page = _console(operator).get("/console/billing/").content.decode()
    assert 'data-testid="invoice-run" data-status="done"' in page
    assert "Interrupted, resumed" in page and "2026-10" in page


def test_a_run_that_keeps_dying_fails_with_the_reason_and_an_operator_runs_it_again(
    owing: list[Tenant], operator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    run = _killed_after_first(owing, attempts=settings.CRM_JOB_MAX_ATTEMPTS)
    assert jobs_sweep()["failed"] == 1
    run.refresh_from_db()
    assert (run.status, run.recovery) == ("failed", "gave_up")

    # The console shows the reason in the operator's language and a retry button.
    page = _console(operator, "zh-hans").get("/console/billing/").content.decode()
    assert 'data-testid="invoice-run" data-status="failed"' in page
    assert "运行此任务的后台进程停止了（已尝试 4 次）。" in page and "已中断，失败" in page
    assert 'data-testid="invoice-run-retry"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = _console(operator).post(f"/console/billing/invoice-runs/{run.pk}/retry/")
    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.status, run.attempts, run.invoiced) == ("done", 0, 2)
    assert Invoice.objects.filter(period_start=OCTOBER, manual=True).count() == 2


def test_console_invoice_runs_and_export_jobs_are_refused_to_non_operators(
    owing: list[Tenant], operator: Any, alpha: Any, beta: Any
) -> None:
    # Given: a failed invoice run, and alpha's export jobs (one resumed and done, one given up); beta's.
    run = InvoiceRun.objects.create(period_start=OCTOBER, status="failed", error="boom")
    ExportJob.objects.create(
        tenant=alpha.tenant, status="done", done=12, total=12, attempts=1, recovery="resumed", file="a.zip"
    )
    ExportJob.objects.create(tenant=alpha.tenant, status="failed", attempts=3, recovery="gave_up")
    ExportJob.objects.create(tenant=beta.tenant, status="failed", error="beta-export-error")

    # When / then: an operator sees alpha's jobs on alpha's page, not beta's.
    page = _console(operator).get(f"/console/billing/tenants/{alpha.tenant.pk}/").content.decode()
    assert page.count('data-testid="export-job"') == 2
    assert 'data-status="done"' in page and "12 / 12" in page and "Interrupted, resumed" in page
    assert "The worker running this job stopped (4 attempts)." in page
    assert "beta-export-error" not in page

    # Nobody else: not logged in, a public account that is no operator, a workspace owner on its host.
    someone = User.objects.create_user("someone@platform.example.com", "pw-123456789", role="sales")
    for url in ("/console/billing/", f"/console/billing/tenants/{alpha.tenant.pk}/"):
        assert Client(HTTP_HOST="localhost").get(url).status_code == 302  # to the console login
        assert _console(someone).get(url).status_code == 403
        assert alpha.client("owner").get(url).status_code == 404  # no console on a workspace host
    retry = f"/console/billing/invoice-runs/{run.pk}/retry/"
    assert _console(someone).post(retry).status_code == 403
    with pytest.raises(services.ServiceError):
        services.invoice_run_retry(actor=alpha.users["owner"], run=run)
    run.refresh_from_db()
    assert run.status == "failed"


def test_a_workspace_live_again_after_the_run_is_billed_at_the_next_beat(
    owing: list[Tenant], django_capture_on_commit_callbacks: Any
) -> None:
    # Given: beta is closed when October's run goes, so only alpha is invoiced.
    beta = owing[1]
    beta.status = TenantStatus.CLOSED
    beta.save()
    assert services.invoices_generate_monthly(today=NOVEMBER_2ND) == 1
    run = InvoiceRun.objects.get(period_start=OCTOBER)
    assert run.status == "done"
    # When: an operator reopens it and the hourly beat fires again.
    beta.status = TenantStatus.ACTIVE
    beta.save()
    assert services.invoices_generate_monthly(today=NOVEMBER_2ND) == 1
    # Then: beta has its October invoice, alpha still one, and the run is done again.
    invoices = Invoice.objects.filter(period_start=OCTOBER, manual=True)
    assert sorted(invoices.values_list("tenant_id", flat=True)) == sorted(t.pk for t in owing)
    run.refresh_from_db()
    assert run.status == "done" and InvoiceRun.objects.count() == 1
