"""Activities (visits, calls), manager comments, tasks."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import Role, has_perm
from crm.tenants.accounts.models import User

from .. import selectors
from ..models import (
    Activity,
    ActivityComment,
    Customer,
    Task,
)

# --- activities and tasks ---------------------------------------------------------------------------------


def activity_create(
    *,
    actor: User,
    customer: Customer,
    kind: str = Activity.Kind.VISIT,
    purpose: str = "",
    result: str = "",
    next_step: str = "",
    next_step_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> Activity:
    """Log a follow-up. It resets the customer's pool clock; a next step with a date becomes a task for the
    actor, so the rep never re-types it."""
    if not selectors.customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not log activities for this customer."))
    if kind not in Activity.Kind.values:
        raise ServiceError(_("Choose a valid option."), field="kind")
    if not (purpose.strip() or result.strip()):
        raise ServiceError(_("Say what the follow-up was about or what came out of it."), field="result")
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise ServiceError(
            _("A follow-up cannot be in the future; plan it as a next step."), field="occurred_at"
        )
    if next_step_at is not None and not next_step.strip():
        raise ServiceError(_("Describe the next step."), field="next_step")
    with transaction.atomic():
        activity = Activity.objects.create(
            customer=customer,
            author=actor,
            kind=kind,
            purpose=purpose.strip()[:255],
            result=result.strip(),
            next_step=next_step.strip()[:255],
            next_step_at=next_step_at,
            occurred_at=occurred_at,
        )
        if customer.last_activity_at is None or occurred_at > customer.last_activity_at:
            customer.last_activity_at = occurred_at
        customer.pool_warned_at = None
        if customer.stage == Customer.Stage.LEAD and kind in (Activity.Kind.VISIT, Activity.Kind.MEETING):
            customer.stage = Customer.Stage.PROSPECT  # met in person: the lead is qualified
        customer.save(update_fields=["last_activity_at", "pool_warned_at", "stage", "updated_at"])
        if next_step_at is not None:
            Task.objects.create(
                title=activity.next_step,
                due_at=next_step_at,
                owner=actor,
                customer=customer,
                activity=activity,
            )
    return activity


def activity_comment(*, actor: User, activity: Activity, body: str) -> ActivityComment:
    """A manager's reply to a rep's activity (批复); the author may answer in the same thread."""
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("Write a comment."), field="body")
    if actor.pk != activity.author_id and not has_perm(actor, "core.comment_activities"):
        raise PermissionDenied(_("Only managers can comment on a colleague's follow-up."))
    if not selectors.customers_visible(actor).filter(pk=activity.customer_id).exists():
        raise PermissionDenied(_("You may not see this customer."))
    return ActivityComment.objects.create(activity=activity, author=actor, body=body)


def task_create(
    *, actor: User, title: str, due_at: datetime, owner: User | None = None, customer: Customer | None = None
) -> Task:
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("Enter a title."), field="title")
    owner = owner or actor
    if (
        owner.pk != actor.pk
        and owner.pk not in selectors.team_user_ids(actor)
        and actor.role not in (Role.OWNER, Role.ADMIN)
    ):
        raise PermissionDenied(_("You can assign tasks only to yourself and your team."))
    if customer is not None and not selectors.customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not see this customer."))
    return Task.objects.create(title=title[:255], due_at=due_at, owner=owner, customer=customer)


def task_complete(*, actor: User, task: Task, done: bool = True) -> Task:
    if (
        task.owner_id != actor.pk
        and task.owner_id not in selectors.team_user_ids(actor)
        and actor.role not in (Role.OWNER, Role.ADMIN)
    ):
        raise PermissionDenied(_("This is not your task."))
    task.done_at = timezone.now() if done else None
    task.save(update_fields=["done_at", "updated_at"])
    return task
