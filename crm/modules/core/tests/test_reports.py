"""Weekly report (pre-filled, edited, submitted, commented) and task reminders (sent once)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core import selectors, services
from crm.modules.core.models import Task, WeeklyReport
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import customer


def test_weekly_report_prefilled_edited_submitted(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        u = alpha.users
        c = customer(u["sales"], "甲公司")
        services.activity_create(
            actor=u["sales"],
            customer=c,
            purpose="介绍新品",
            result="要报价",
            next_step="发报价",
            next_step_at=timezone.now() + timedelta(days=2),
        )
        last_week = timezone.now() - timedelta(days=8)
        services.activity_create(actor=u["sales"], customer=c, result="上周的事", occurred_at=last_week)
        report = services.weekly_report_generate(actor=u["sales"])
        assert (
            "甲公司" in report.summary and "介绍新品" in report.summary and "上周的事" not in report.summary
        )
        assert "发报价" in report.plan and report.stats["activities"] == 1
        # Generating again returns the same draft and keeps the rep's edits.
        services.weekly_report_update(
            actor=u["sales"], report=report, summary="我改过了", plan="下周计划", suggestions=""
        )
        again = services.weekly_report_generate(actor=u["sales"])
        assert again.pk == report.pk and again.summary == "我改过了"
        with pytest.raises(PermissionDenied):
            services.weekly_report_submit(actor=u["sales2"], report=report)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            services.weekly_report_submit(actor=u["sales"], report=again)
        assert mail.outbox[0].to == [u["manager"].email]
        with pytest.raises(ServiceError):
            services.weekly_report_update(
                actor=u["sales"], report=again, summary="x", plan="", suggestions=""
            )
        # The manager sees and answers it; a colleague outside the team does not see it.
        assert list(selectors.weekly_reports_visible(u["manager"])) == [again]
        assert not selectors.weekly_reports_visible(u["sales2"]).exists()
        services.weekly_report_comment(actor=u["manager"], report=again, comment="很好，继续跟进")
        with pytest.raises(PermissionDenied):
            services.weekly_report_comment(actor=u["sales2"], report=again, comment="x")
        assert WeeklyReport.objects.get().manager_comment == "很好，继续跟进"


def test_weekly_report_pages(alpha):
    rep = alpha.client("sales")
    response = rep.post("/reports/weekly/")
    assert response.status_code == 302
    url = response["Location"]
    assert 'data-testid="weekly-form"' in rep.get(url).content.decode()
    assert rep.post(url, {"action": "submit", "summary": "拜访三家", "plan": "报价"}).status_code == 302
    with schema_context(alpha.schema):
        assert WeeklyReport.objects.get().status == "submitted"
    manager = alpha.client("manager")
    assert "拜访三家" in manager.get(url).content.decode()
    assert alpha.client("sales2").get(url).status_code == 404


def test_task_reminders_sent_once(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        u = alpha.users
        now = timezone.now()
        soon = Task.objects.create(title="回电话", due_at=now + timedelta(minutes=30), owner=u["sales"])
        Task.objects.create(title="下周的事", due_at=now + timedelta(days=7), owner=u["sales"])
        Task.objects.create(title="已完成", due_at=now, owner=u["sales"], done_at=now)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            assert services.task_reminders_send(now=now) == [soon.pk]
        assert len(mail.outbox) == 1 and "回电话" in mail.outbox[0].body
        assert services.task_reminders_send(now=now) == []
