"""Weekly reports (销售周报) and task reminders."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import Role, has_perm
from crm.tenants.accounts.models import User

from .. import selectors
from ..models import (
    Activity,
    Customer,
    Task,
    WeeklyReport,
)

# --- weekly report (销售周报) and reminders --------------------------------------------------------------


def week_start_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_report_generate(*, actor: User, week_start: date | None = None) -> WeeklyReport:
    """The actor's report for a week, pre-filled from that week's activities so nothing is typed twice.
    A draft is refreshed (its summary rebuilt only while the rep has not edited it); a submitted one is
    returned unchanged."""
    week_start = week_start_of(week_start or timezone.localdate())
    start = timezone.make_aware(datetime.combine(week_start, time.min))
    end = start + timedelta(days=7)
    activities = list(
        Activity.objects.filter(author=actor, occurred_at__gte=start, occurred_at__lt=end)
        .select_related("customer")
        .order_by("occurred_at")
    )
    lines = []
    for a in activities:
        when = timezone.localtime(a.occurred_at).strftime("%m-%d")
        text = "; ".join(x for x in (a.purpose, a.result) if x)
        step = f" → {a.next_step}" if a.next_step else ""
        lines.append(f"{when} {a.get_kind_display()} {a.customer.name}: {text}{step}")
    plan_lines = [
        f"{timezone.localtime(t.due_at).strftime('%m-%d')} {t.title}"
        + (f" ({t.customer.name})" if t.customer else "")
        for t in Task.objects.filter(owner=actor, done_at__isnull=True, due_at__lt=end + timedelta(days=7))
        .select_related("customer")
        .order_by("due_at")[:30]
    ]
    stats = {
        "activities": len(activities),
        "customers": len({a.customer_id for a in activities}),
        "by_kind": {k: sum(1 for a in activities if a.kind == k) for k in Activity.Kind.values},
        "new_customers": Customer.objects.filter(
            created_by=actor, created_at__gte=start, created_at__lt=end
        ).count(),
    }
    with transaction.atomic():
        report, created = WeeklyReport.objects.select_for_update(of=("self",)).get_or_create(
            author=actor,
            week_start=week_start,
            defaults={"summary": "\n".join(lines), "plan": "\n".join(plan_lines), "stats": stats},
        )
        if not created and report.status == WeeklyReport.Status.DRAFT:
            report.stats = stats
            if not report.summary.strip():
                report.summary = "\n".join(lines)
            if not report.plan.strip():
                report.plan = "\n".join(plan_lines)
            report.save()
    return report


def weekly_report_update(
    *, actor: User, report: WeeklyReport, summary: str, plan: str, suggestions: str
) -> WeeklyReport:
    if report.author_id != actor.pk:
        raise PermissionDenied(_("Only the author can edit a weekly report."))
    if report.status != WeeklyReport.Status.DRAFT:
        raise ServiceError(_("This report was already submitted."), code="submitted")
    report.summary, report.plan, report.suggestions = summary.strip(), plan.strip(), suggestions.strip()
    report.save(update_fields=["summary", "plan", "suggestions", "updated_at"])
    return report


def _managers_of(user: User) -> list[User]:
    """The manager of the user's team and of every team above it (nearest first)."""
    managers: list[User] = []
    team = user.team
    seen: set[int] = set()
    while team is not None and team.pk not in seen:
        seen.add(team.pk)
        if team.manager is not None and team.manager.pk != user.pk and team.manager.is_active:
            managers.append(team.manager)
        team = team.parent
    return managers


def weekly_report_submit(*, actor: User, report: WeeklyReport) -> WeeklyReport:
    """Submit to the manager (emailed on commit); the report is read-only afterwards."""
    if report.author_id != actor.pk:
        raise PermissionDenied(_("Only the author can submit a weekly report."))
    if report.status != WeeklyReport.Status.DRAFT:
        raise ServiceError(_("This report was already submitted."), code="submitted")
    if not (report.summary.strip() or report.plan.strip()):
        raise ServiceError(_("Write what you did or what you plan before submitting."), field="summary")
    with transaction.atomic():
        report.status, report.submitted_at = WeeklyReport.Status.SUBMITTED, timezone.now()
        report.save(update_fields=["status", "submitted_at", "updated_at"])
        managers = _managers_of(actor)[:1]
        if managers:
            subject = _("Weekly report of %(name)s, week of %(week)s") % {
                "name": actor.name,
                "week": report.week_start.isoformat(),
            }
            body = "\n\n".join([report.summary, report.plan, report.suggestions])
            transaction.on_commit(
                partial(
                    send_mail,
                    subject,
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    [managers[0].email],
                    fail_silently=True,
                )
            )
    return report


def weekly_report_comment(*, actor: User, report: WeeklyReport, comment: str) -> WeeklyReport:
    """The manager's reply to a submitted report."""
    allowed = actor.role in (Role.OWNER, Role.ADMIN) or (
        has_perm(actor, "core.comment_activities")
        and report.author_id != actor.pk
        and report.author_id in selectors.team_user_ids(actor)
    )
    if not allowed:
        raise PermissionDenied(_("Only the author's manager can comment."))
    if report.status != WeeklyReport.Status.SUBMITTED:
        raise ServiceError(_("The report has not been submitted yet."))
    report.manager_comment = comment.strip()
    report.save(update_fields=["manager_comment", "updated_at"])
    return report


def task_reminders_send(*, now: datetime | None = None, ahead: timedelta = timedelta(hours=1)) -> list[int]:
    """Email each owner about open tasks due within `ahead` (or overdue) once; in-app, the same tasks head
    the dashboard and the task list. Idempotent through Task.reminder_sent_at."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Task.objects.select_for_update(of=("self",))
            .filter(
                done_at__isnull=True,
                reminder_sent_at__isnull=True,
                due_at__lte=now + ahead,
                owner__is_active=True,
            )
            .select_related("owner", "customer")
            .order_by("owner_id", "due_at")
        )
        by_owner: dict[int, list[Task]] = {}
        for t in due:
            by_owner.setdefault(t.owner_id, []).append(t)
        for tasks in by_owner.values():
            lines = [
                f"- {timezone.localtime(t.due_at).strftime('%Y-%m-%d %H:%M')} {t.title}"
                + (f" ({t.customer.name})" if t.customer else "")
                for t in tasks
            ]
            subject = _("Reminder: %(n)d tasks due") % {"n": len(tasks)}
            transaction.on_commit(
                partial(
                    send_mail,
                    subject,
                    "\n".join(lines),
                    settings.DEFAULT_FROM_EMAIL,
                    [tasks[0].owner.email],
                    fail_silently=True,
                )
            )
        Task.objects.filter(pk__in=[t.pk for t in due]).update(reminder_sent_at=now)
    return [t.pk for t in due]
