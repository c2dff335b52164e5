"""The daily care run as a job with a heartbeat (issue 14, item 3): a run whose worker died is requeued by
the jobs sweeper and completes once; one that keeps dying fails with the reason and the owner retries it;
a second delivery after completion does nothing; another workspace's run is never shown."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.messaging.models import OutboundMessage
from crm.modules.messaging.providers import DefaultProvider
from crm.modules.messaging.tests.fake_yunpian import FakeYunpian, fake_yunpian
from crm.modules.retail import care, tasks
from crm.modules.retail.models import CareRun, Member
from crm.platform.errors import PermissionDenied
from crm.platform.jobs import jobs_sweep

from .factories import Shop

SHANGHAI = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


@pytest.fixture
def yunpian(settings: Any) -> Iterator[FakeYunpian]:
    with fake_yunpian() as fake:
        settings.SMS_API_URL, settings.SMS_API_KEY, settings.SMS_SIGN_NAME = fake.url, "k", "阿尔法"
        yield fake


class WorkerKilled(BaseException):
    """What a SIGKILL does to the task: nothing of ours catches it (not an Exception)."""


class DiesAfter:
    """The SMS and email gateway, with the worker killed after `n` messages went out."""

    def __init__(self, n: int) -> None:
        self.n, self.inner = n, DefaultProvider()

    def _tick(self) -> None:
        if self.n == 0:
            raise WorkerKilled
        self.n -= 1

    def send_sms(self, to: str, body: str) -> str:
        self._tick()
        return self.inner.send_sms(to, body)

    def send_email(self, to: str, subject: str, body: str) -> str:
        self._tick()
        return self.inner.send_email(to, subject, body)


def _today() -> date:
    return timezone.localtime(timezone.now(), SHANGHAI).date()


def _birthdays(shop: Shop, n: int) -> None:
    """`n` members with a birthday today, each reachable by SMS and email (2n messages)."""
    born = _today().replace(year=1990)
    Member.objects.bulk_create(
        Member(
            name=f"寿星{i}",
            member_no=f"BD{i:04d}",
            phone=f"1390000{i:04d}",
            email=f"bd{i}@example.com",
            birthday=born,
            store=shop.store,
        )
        for i in range(n)
    )


def _stall(run: CareRun, *, attempts: int = 0) -> None:
    old = timezone.now() - timedelta(hours=1)
    CareRun.objects.filter(pk=run.pk).update(
        status="running", started_at=old, heartbeat_at=old, attempts=attempts
    )


def _killed_run(n_sent: int) -> CareRun:
    """Today's run, its worker killed after `n_sent` messages: left running, its heartbeat stopping."""
    run = care.care_run_start()
    with pytest.raises(WorkerKilled):
        care.care_run_execute(run_id=run.pk, provider=DiesAfter(n_sent))  # type: ignore[arg-type]
    run.refresh_from_db()
    assert run.status == "running"
    return run


def test_a_run_whose_worker_died_is_resumed_and_sends_each_message_once(
    alpha: Any, shop: Shop, yunpian: FakeYunpian, django_capture_on_commit_callbacks: Any
) -> None:
    # Given: 150 birthdays today (300 messages) and a worker killed after 130 of them went out, having
    # beaten its heartbeat at 100.
    _birthdays(shop, 150)
    run = _killed_run(130)
    assert (run.total, run.done, run.sent) == (300, 100, 100)  # the progress of the last beat
    assert OutboundMessage.objects.filter(status="sent").count() == 130
    _stall(run)

    # When: the jobs sweeper finds the stopped heartbeat (its requeue runs in process here).
    with schema_context("public"), django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep()["requeued"] == 1

    # Then: the run completed on its second attempt, and every message went out exactly once.
    with schema_context(alpha.schema):
        run.refresh_from_db()
        assert (run.status, run.recovery, run.attempts) == ("done", "resumed", 1)
        assert (run.total, run.done, run.sent, run.undelivered) == (300, 300, 300, 0)
        assert OutboundMessage.objects.count() == 300
        assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
        sms = [r["form"]["mobile"] for r in yunpian.requests]
        assert len(sms) == 150 and len(set(sms)) == 150
        emails = [m.to[0] for m in mail.outbox]
        assert len(emails) == 150 and len(set(emails)) == 150
        page = alpha.client("owner", language="en").get("/retail/care/").content.decode()
        assert 'data-testid="care-run-resumed"' in page and "Sent 300 of 300 messages." in page

        # A late second delivery of the daily task, or of the requeued one, does nothing.
        assert tasks.care.apply(throw=True).get() == {}
        assert care.care_run_execute(run_id=run.pk) is None
        assert OutboundMessage.objects.count() == 300 and len(yunpian.requests) == 150
        assert CareRun.objects.count() == 1


def test_the_daily_task_runs_once_a_day(alpha: Any, shop: Shop, yunpian: FakeYunpian) -> None:
    _birthdays(shop, 2)
    first = tasks.care.apply(throw=True).get()
    second = tasks.care.apply(throw=True).get()
    assert first == {"birthday": 4} and second == {}
    (run,) = CareRun.objects.all()
    assert (run.status, run.run_on, run.sent, run.total) == ("done", _today(), 4, 4)
    assert OutboundMessage.objects.count() == 4 and len(yunpian.requests) == 2


def test_a_run_that_keeps_dying_fails_with_the_reason_and_the_owner_retries(
    alpha: Any, shop: Shop, yunpian: FakeYunpian, django_capture_on_commit_callbacks: Any
) -> None:
    # Given: a run killed after 3 messages, with every attempt used.
    _birthdays(shop, 3)
    run = _killed_run(3)
    _stall(run, attempts=settings.CRM_JOB_MAX_ATTEMPTS)

    # When: the sweeper finds it again.
    with schema_context("public"):
        assert jobs_sweep()["failed"] == 1

    # Then: failed, with the reason in the reader's language, and a retry for the owner only.
    with schema_context(alpha.schema):
        run.refresh_from_db()
        assert (run.status, run.recovery) == ("failed", "gave_up")
        owner = alpha.client("owner", language="zh-hans")
        page = owner.get("/retail/care/").content.decode()
        assert 'data-testid="care-run-failed"' in page
        assert "运行此任务的后台进程停止了（已尝试 4 次）。" in page
        assert 'data-testid="care-run-retry"' in page
        manager_page = alpha.client("manager").get("/retail/care/").content.decode()
        assert 'data-testid="care-run-failed"' in manager_page
        assert 'data-testid="care-run-retry"' not in manager_page
        with pytest.raises(PermissionDenied):
            care.care_run_retry(actor=alpha.users["manager"], run=run)
        assert alpha.client("clerk").get("/retail/care/").status_code == 403

        # The owner retries: the run completes, and the 3 messages sent before are not sent again.
        with django_capture_on_commit_callbacks(execute=True):
            response = owner.post(f"/retail/care/runs/{run.pk}/retry/")
        assert response.status_code == 302
        run.refresh_from_db()
        assert (run.status, run.attempts, run.recovery, run.sent, run.total) == ("done", 0, "", 6, 6)
        assert OutboundMessage.objects.count() == 6
        assert len(yunpian.requests) + len(mail.outbox) == 6
        # Nothing left to retry.
        again = alpha.client("owner", language="en").post(f"/retail/care/runs/{run.pk}/retry/", follow=True)
        assert "Only a failed care run can be retried." in again.content.decode()
        run.refresh_from_db()
        assert run.status == "done"


def test_another_workspaces_care_run_is_not_shown_nor_retried(alpha: Any, beta: Any) -> None:
    # Given: beta's care run failed; alpha has none.
    with schema_context(beta.schema):
        run = CareRun.objects.create(
            run_on=_today(), planned_for=timezone.now(), status="failed", error="beta-only-error"
        )
    with schema_context(alpha.schema):
        assert not CareRun.objects.exists()
    owner = alpha.client("owner", language="en")

    # When / then: alpha's care page shows no run, and beta's run id is nothing on alpha's host.
    page = owner.get("/retail/care/").content.decode()
    assert "No care run yet" in page and "beta-only-error" not in page
    assert owner.post(f"/retail/care/runs/{run.pk}/retry/").status_code == 404
    with schema_context(beta.schema):
        run.refresh_from_db()
        assert run.status == "failed"
    beta_page = beta.client("owner", language="en").get("/retail/care/").content.decode()
    assert "beta-only-error" in beta_page
