"""Service writes: settings and SLA plans, agreements and entitlements, service orders (states, SLA, work
log, sign-off), return visits, and the daily renewal run. Every multi-row write is one transaction;
entitlement rows are locked while work is logged against them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.notices import notice_send
from crm.kernel.numbering import number_next, number_prefix
from crm.kernel.scope import can_edit
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Activity, Customer, customer_touch
from crm.modules.sales.public import Contract, Opportunity, Stage
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import check_perm, has_perm
from crm.tenants.accounts.models import User

from . import selectors
from .hours import add_business_hours
from .models import (
    Agreement,
    Entitlement,
    Priority,
    RenewalReminder,
    ReturnVisit,
    ServiceOrder,
    ServiceSettings,
    SlaPlan,
    WorkLog,
)

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MAX_HOURS = Decimal("24")
MAX_VALUE = Decimal("100000000000000")
VISIT_FOLLOW_UP_DAYS = 3
S = ServiceOrder.Status


def _require(actor: User, perm: str) -> None:
    check_perm(actor, perm, _("You are not allowed to do this."))


# --- settings ----------------------------------------------------------------------------------------

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def settings_update(
    *, actor: User, workdays: str, day_start: time, day_end: time, holidays: list[str] | str
) -> ServiceSettings:
    _require(actor, "service.settings")
    errors: dict[str, list[str]] = {}
    days = "".join(sorted({c for c in workdays if c in "1234567"}))
    if not days or len(days) != len(set(workdays.replace(",", "").replace(" ", ""))):
        errors["workdays"] = [_("Choose working days as digits 1 (Monday) to 7 (Sunday).")]
    if day_end <= day_start:
        errors["day_end"] = [_("The day must end after it starts.")]
    items = (
        holidays.replace(",", " ").split()
        if isinstance(holidays, str)
        else [str(h).strip() for h in holidays]
    )
    parsed: list[str] = []
    for item in items:
        try:
            if not _DATE.match(item):
                raise ValueError(item)
            parsed.append(date.fromisoformat(item).isoformat())
        except ValueError:
            errors["holidays"] = [_("Holidays are dates like 2026-10-01.")]
            break
    if errors:
        raise ServiceError(_("Please correct the business hours."), fields=errors)
    row = selectors.service_settings()
    row.workdays, row.day_start, row.day_end = days, day_start, day_end
    row.holidays = sorted(set(parsed))
    row.save()
    return row


PLAN_FIELDS = tuple(f"{p}_{k}" for p in Priority.values for k in ("response", "resolution"))


def sla_plan_save(*, actor: User, name: str, hours: dict[str, int], plan: SlaPlan | None = None) -> SlaPlan:
    _require(actor, "service.settings")
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [_("Name is required.")]
    elif SlaPlan.objects.filter(name=name).exclude(pk=plan.pk if plan else 0).exists():
        errors["name"] = [_("A plan with this name exists.")]
    for key in PLAN_FIELDS:
        value = hours.get(key)
        if value is None or not 1 <= int(value) <= 2000:
            errors[key] = [_("Between 1 and 2000 hours.")]
    for p in Priority.values:
        if not errors and int(hours[f"{p}_resolution"]) < int(hours[f"{p}_response"]):
            errors[f"{p}_resolution"] = [_("Resolution cannot come before the response.")]
    if errors:
        raise ServiceError(_("Please correct the SLA plan."), fields=errors)
    plan = plan or SlaPlan()
    plan.name = name
    for key in PLAN_FIELDS:
        setattr(plan, key, int(hours[key]))
    plan.save()
    return plan


# --- agreements --------------------------------------------------------------------------------------


@dataclass
class EntitlementInput:
    description: str
    sold: Decimal
    unit: str = Entitlement.Unit.HOURS


def _check_entitlement(line: EntitlementInput, errors: dict[str, list[str]], prefix: str = "") -> None:
    if not (line.description or "").strip():
        errors[f"{prefix}description"] = [_("Describe what was sold.")]
    if line.unit not in Entitlement.Unit.values:
        errors[f"{prefix}unit"] = [_("Choose hours or visits.")]
    if line.sold is None or line.sold <= 0 or line.sold >= Decimal("100000000"):
        errors[f"{prefix}sold"] = [_("Sold must be more than zero.")]


def agreement_create(
    *,
    actor: User,
    customer: Customer,
    title: str,
    start_date: date,
    end_date: date,
    value: Decimal = ZERO,
    auto_renew: bool = False,
    renewal_notice_days: int = 30,
    sla_plan: SlaPlan | None = None,
    contract: Contract | None = None,
    notes: str = "",
    entitlements: list[EntitlementInput] | None = None,
    owner: User | None = None,
) -> Agreement:
    _require(actor, "service.agreement_edit")
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = [_("Title is required.")]
    if not start_date or not end_date or end_date < start_date:
        errors["end_date"] = [_("The term must end on or after its start.")]
    if value is None or value < 0 or value >= MAX_VALUE:
        errors["value"] = [_("Must not be negative.")]
    if not 0 <= renewal_notice_days <= 365:
        errors["renewal_notice_days"] = [_("Between 0 and 365 days.")]
    if contract is not None and contract.customer_id != customer.pk:
        errors["contract"] = [_("The sales contract belongs to another customer.")]
    for i, line in enumerate(entitlements or []):
        _check_entitlement(line, errors, prefix=f"entitlements.{i}." if len(entitlements or []) > 1 else "")
    if errors:
        raise ServiceError(_("Please correct the agreement."), fields=errors)
    owner = owner or customer.owner or actor
    with transaction.atomic():
        agreement = Agreement.objects.create(
            number=number_next(doc_type="service.agreement", prefix=number_prefix("service.agreement", "FW")),
            title=title[:200],
            customer=customer,
            contract=contract,
            owner=owner,
            start_date=start_date,
            end_date=end_date,
            value=value.quantize(CENT),
            auto_renew=auto_renew,
            renewal_notice_days=renewal_notice_days,
            sla_plan=sla_plan,
            notes=notes,
        )
        Entitlement.objects.bulk_create(
            Entitlement(
                agreement=agreement, description=ln.description.strip()[:200], unit=ln.unit, sold=ln.sold
            )
            for ln in entitlements or []
        )
    return agreement


def _check_agreement_edit(actor: User, agreement: Agreement) -> None:
    _require(actor, "service.agreement_edit")
    if not can_edit(actor, agreement):
        raise PermissionDenied(_("You are not allowed to change this agreement."))


def entitlement_add(*, actor: User, agreement: Agreement, line: EntitlementInput) -> Entitlement:
    _check_agreement_edit(actor, agreement)
    errors: dict[str, list[str]] = {}
    _check_entitlement(line, errors)
    if errors:
        raise ServiceError(_("Please correct the entitlement."), fields=errors)
    return Entitlement.objects.create(
        agreement=agreement, description=line.description.strip()[:200], unit=line.unit, sold=line.sold
    )


def agreement_cancel(*, actor: User, agreement: Agreement) -> Agreement:
    _check_agreement_edit(actor, agreement)
    if agreement.status != Agreement.Status.ACTIVE:
        raise ServiceError(_("Only an active agreement can be cancelled."), code="conflict")
    agreement.status = Agreement.Status.CANCELLED
    agreement.save(update_fields=["status", "updated_at"])
    return agreement


# --- orders ------------------------------------------------------------------------------------------


def _plan_for(agreement: Agreement | None) -> SlaPlan:
    if agreement is not None and agreement.sla_plan_id:
        return agreement.sla_plan  # type: ignore[return-value]
    return SlaPlan.objects.order_by("id").first() or SlaPlan(name="default")


def sla_due(opened_at: datetime, priority: str, agreement: Agreement | None) -> tuple[datetime, datetime]:
    """(response due, resolution due) in the workspace's business hours."""
    response, resolution = _plan_for(agreement).hours(priority)
    cal = selectors.calendar()
    return add_business_hours(opened_at, response, cal), add_business_hours(opened_at, resolution, cal)


def _check_assignee(assignee: User | None) -> None:
    if assignee is not None and (not assignee.is_active or not has_perm(assignee, "service.order_work")):
        raise ServiceError(_("This user cannot work on service orders."), field="assignee")


def order_create(
    *,
    actor: User,
    customer: Customer,
    subject: str,
    priority: str = Priority.NORMAL,
    description: str = "",
    agreement: Agreement | None = None,
    assignee: User | None = None,
    opened_at: datetime | None = None,
) -> ServiceOrder:
    _require(actor, "service.order_create")
    errors: dict[str, list[str]] = {}
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = [_("Subject is required.")]
    if priority not in Priority.values:
        errors["priority"] = [_("Choose a priority.")]
    if agreement is not None:
        if agreement.customer_id != customer.pk:
            errors["agreement"] = [_("The agreement belongs to another customer.")]
        elif agreement.status != Agreement.Status.ACTIVE:
            errors["agreement"] = [_("The agreement is not active.")]
    if errors:
        raise ServiceError(_("Please correct the service order."), fields=errors)
    if assignee is not None:
        _require(actor, "service.order_assign")
        _check_assignee(assignee)
    opened_at = opened_at or timezone.now()
    response_due, resolution_due = sla_due(opened_at, priority, agreement)
    with transaction.atomic():
        order = ServiceOrder.objects.create(
            number=number_next(doc_type="service.order", prefix=number_prefix("service.order", "GD")),
            customer=customer,
            agreement=agreement,
            owner=customer.owner or actor,
            assignee=assignee,
            priority=priority,
            subject=subject[:200],
            description=description,
            status=S.ASSIGNED if assignee else S.NEW,
            opened_at=opened_at,
            response_due=response_due,
            resolution_due=resolution_due,
            created_by=actor,
        )
    if assignee is not None and assignee.pk != actor.pk:
        _notify_assignee(order)
    return order


def _notify_assignee(order: ServiceOrder) -> None:
    if order.assignee is not None:
        notice_send(
            user=order.assignee,
            title=_("Service order %(number)s assigned to you: %(subject)s")
            % {"number": order.number, "subject": order.subject},
            url=reverse("service:order_detail", args=[order.pk]),
        )


def _check_work(actor: User, order: ServiceOrder) -> None:
    """Work on an order: its assignee, its owner (the rep), or their managers / admins."""
    _require(actor, "service.order_work")
    if not (can_edit(actor, order, owner_field="assignee") or can_edit(actor, order, owner_field="owner")):
        raise PermissionDenied(_("You are not allowed to work on this order."))


# action -> (from states, to state)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "assign": ((S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING), S.ASSIGNED),
    "start": ((S.NEW, S.ASSIGNED, S.WAITING), S.IN_PROGRESS),
    "wait": ((S.ASSIGNED, S.IN_PROGRESS), S.WAITING),
    "resolve": ((S.NEW, S.ASSIGNED, S.IN_PROGRESS, S.WAITING), S.RESOLVED),
    "close": ((S.RESOLVED,), S.CLOSED),
    "reopen": ((S.RESOLVED, S.CLOSED), S.IN_PROGRESS),
}


def order_actions(actor: User, order: ServiceOrder) -> list[str]:
    """The actions the actor may take on the order now."""
    allowed = [a for a, (sources, _to) in TRANSITIONS.items() if order.status in sources]
    if not has_perm(actor, "service.order_assign"):
        allowed = [a for a in allowed if a != "assign"]
    return allowed


def order_transition(
    *, actor: User, order: ServiceOrder, action: str, assignee: User | None = None, at: datetime | None = None
) -> ServiceOrder:
    if action not in TRANSITIONS:
        raise ServiceError(_("Unknown action."), field="action")
    if action == "assign":
        _require(actor, "service.order_assign")
        if assignee is None:
            raise ServiceError(_("Choose who works on the order."), field="assignee")
        _check_assignee(assignee)
    _check_work(actor, order)
    now = at or timezone.now()
    with transaction.atomic():
        locked = ServiceOrder.objects.select_for_update().get(pk=order.pk)
        sources, target = TRANSITIONS[action]
        if locked.status not in sources:
            raise ServiceError(
                _("This order is %(status)s: it cannot do that now.")
                % {"status": locked.get_status_display()},
                code="conflict",
            )
        locked.status = target
        if action == "assign":
            locked.assignee = assignee
        if action in ("start", "wait", "resolve") and locked.responded_at is None:
            locked.responded_at = now
        if action == "resolve":
            locked.resolved_at = now
            locked.sla_met = locked.resolution_due is None or now <= locked.resolution_due
            _schedule_visit(locked, now)
        if action == "close":
            locked.closed_at = now
        if action == "reopen":
            locked.reopened += 1
            locked.resolved_at = locked.closed_at = locked.signed_at = None
            locked.sla_met = None
            locked.signed_by = locked.satisfaction_note = ""
        locked.save()
    if action == "assign" and assignee is not None and assignee.pk != actor.pk:
        _notify_assignee(locked)
    return locked


def _schedule_visit(order: ServiceOrder, now: datetime) -> None:
    """A return visit a few days after the resolution, for the customer's rep (once per order)."""
    if ReturnVisit.objects.filter(order=order, done_at__isnull=True).exists():
        return
    ReturnVisit.objects.create(
        customer_id=order.customer_id,
        order=order,
        agreement_id=order.agreement_id,
        owner_id=order.owner_id,
        scheduled_on=timezone.localdate(now) + timedelta(days=VISIT_FOLLOW_UP_DAYS),
    )


def _entitlement_for(order: ServiceOrder, unit: str) -> Entitlement | None:
    """The agreement's line of `unit` that work is taken from, locked: the first with something left, else
    the first one."""
    if order.agreement_id is None:
        return None
    lines = list(
        Entitlement.objects.select_for_update()
        .filter(agreement_id=order.agreement_id, unit=unit)
        .order_by("id")
    )
    return next((e for e in lines if e.left > 0), lines[0] if lines else None)


def worklog_add(
    *,
    actor: User,
    order: ServiceOrder,
    hours: Decimal,
    note: str = "",
    work_date: date | None = None,
    billable_overage: bool = False,
    on_site: bool = False,
    client_token: str | None = None,
) -> WorkLog:
    """Log hours on an order. They are taken from the agreement's hours left; more than is left is refused
    unless `billable_overage` (the rest is then recorded as overage). An on-site visit also takes one visit
    from a visits line, when the agreement has one. A retry with the same `client_token` records once."""
    _check_work(actor, order)
    if client_token:
        existing = WorkLog.objects.filter(client_token=client_token, order=order).first()
        if existing is not None:
            return existing
    errors: dict[str, list[str]] = {}
    if hours is None or hours <= 0 or hours > MAX_HOURS:
        errors["hours"] = [_("Between 0.01 and 24 hours.")]
    elif hours.quantize(CENT) != hours:
        errors["hours"] = [_("At most two decimals.")]
    today = tenant_today()
    work_date = work_date or today
    if work_date > today:
        errors["work_date"] = [_("Work cannot be logged in the future.")]
    if errors:
        raise ServiceError(_("Please correct the work log."), fields=errors)
    with transaction.atomic():
        locked = ServiceOrder.objects.select_for_update().get(pk=order.pk)
        if locked.status == S.CLOSED:
            raise ServiceError(_("The order is closed: reopen it to log work."), code="conflict")
        line = _entitlement_for(locked, Entitlement.Unit.HOURS)
        left = max(line.left, ZERO) if line else ZERO
        consumed = min(hours, left)
        overage = hours - consumed
        if overage > 0 and not billable_overage:
            raise ServiceError(
                _("Only %(left)s hours are left on the agreement: choose billable overage to log more.")
                % {"left": left},
                field="hours",
                code="entitlement_exceeded",
            )
        visit_line = _entitlement_for(locked, Entitlement.Unit.VISITS) if on_site else None
        if visit_line is not None and visit_line.left < 1 and not billable_overage:
            raise ServiceError(
                _("No visits are left on the agreement: choose billable overage to record this visit."),
                field="on_site",
                code="entitlement_exceeded",
            )
        try:
            with transaction.atomic():
                log = WorkLog.objects.create(
                    order=locked,
                    user=actor,
                    entitlement=line if consumed > 0 else None,
                    work_date=work_date,
                    hours=hours,
                    consumed=consumed,
                    overage=overage,
                    on_site=on_site,
                    note=(note or "")[:500],
                    client_token=client_token or None,
                )
        except IntegrityError:
            raise ServiceError(_("This entry was already recorded."), code="conflict") from None
        if consumed > 0 and line is not None:
            Entitlement.objects.filter(pk=line.pk).update(used=F("used") + consumed)
        if visit_line is not None and visit_line.left >= 1:
            Entitlement.objects.filter(pk=visit_line.pk).update(used=F("used") + 1)
        updates: dict[str, Any] = {"hours_logged": F("hours_logged") + hours, "updated_at": timezone.now()}
        if locked.status in (S.NEW, S.ASSIGNED):
            updates["status"] = S.IN_PROGRESS
        if locked.responded_at is None:
            updates["responded_at"] = timezone.now()
        ServiceOrder.objects.filter(pk=locked.pk).update(**updates)
    return log


def order_signoff(*, actor: User, order: ServiceOrder, name: str, note: str = "") -> ServiceOrder:
    """The customer signs the resolved order off (a typed name): the order is closed."""
    _check_work(actor, order)
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Type the name of the person signing."), field="name")
    with transaction.atomic():
        locked = ServiceOrder.objects.select_for_update().get(pk=order.pk)
        if locked.status != S.RESOLVED:
            raise ServiceError(_("Only a resolved order can be signed off."), code="conflict")
        now = timezone.now()
        locked.signed_by, locked.signed_at = name[:100], now
        locked.satisfaction_note = (note or "").strip()[:500]
        locked.status, locked.closed_at = S.CLOSED, now
        locked.save()
    return locked


# --- return visits -----------------------------------------------------------------------------------


def visit_create(
    *,
    actor: User,
    customer: Customer,
    scheduled_on: date,
    order: ServiceOrder | None = None,
    agreement: Agreement | None = None,
) -> ReturnVisit:
    _require(actor, "service.visit_edit")
    if order is not None and order.customer_id != customer.pk:
        raise ServiceError(_("The order belongs to another customer."), field="order")
    if agreement is not None and agreement.customer_id != customer.pk:
        raise ServiceError(_("The agreement belongs to another customer."), field="agreement")
    return ReturnVisit.objects.create(
        customer=customer,
        order=order,
        agreement=agreement,
        owner=customer.owner or actor,
        scheduled_on=scheduled_on,
    )


def visit_complete(
    *, actor: User, visit: ReturnVisit, score: int, comment: str = "", follow_up: str = ""
) -> ReturnVisit:
    """Record the visit's outcome; it is also a core activity on the customer (a follow-up for the pool)."""
    _require(actor, "service.visit_edit")
    if not can_edit(actor, visit):
        raise PermissionDenied(_("You are not allowed to record this visit."))
    if score is None or not 1 <= int(score) <= 5:
        raise ServiceError(_("Score from 1 to 5."), field="score")
    with transaction.atomic():
        locked = ReturnVisit.objects.select_for_update().get(pk=visit.pk)
        if locked.done_at is not None:
            raise ServiceError(_("This visit is already recorded."), code="conflict")
        now = timezone.now()
        activity = Activity.objects.create(
            customer_id=locked.customer_id,
            author=actor,
            kind=Activity.Kind.CALL,
            purpose=_("Return visit (satisfaction %(score)s/5)") % {"score": score},
            result=comment,
            next_step=(follow_up or "")[:255],
            occurred_at=now,
        )
        locked.done_at, locked.score = now, int(score)
        locked.comment, locked.follow_up = comment, (follow_up or "")[:300]
        locked.activity_id = activity.pk
        locked.save()
        customer_touch(customer_id=locked.customer_id, at=now, source="service.visit")
    return locked


# --- renewals ----------------------------------------------------------------------------------------


def renewals_run(*, today: date | None = None) -> dict[str, int]:
    """Daily: for every active agreement whose end is within its notice days, a renewal opportunity (once
    per term) owned by the customer's owner, who is notified; agreements past their end roll over to the
    next term when they auto-renew, else end. Idempotent."""
    today = today or tenant_today()
    counts = {"opportunities": 0, "renewed": 0, "ended": 0}
    stage = Stage.objects.filter(kind=Stage.Kind.OPEN, is_active=True).order_by("position", "id").first()
    due = (
        Agreement.objects.filter(status=Agreement.Status.ACTIVE, end_date__gte=today)
        .exclude(renewals__term_end=F("end_date"))
        .select_related("customer", "owner")
    )
    for agreement in due:
        if agreement.end_date - timedelta(days=agreement.renewal_notice_days) > today or stage is None:
            continue
        if _renewal_create(agreement, stage):
            counts["opportunities"] += 1
    for agreement in Agreement.objects.filter(status=Agreement.Status.ACTIVE, end_date__lt=today):
        if agreement.auto_renew:
            length = agreement.end_date - agreement.start_date
            agreement.start_date = agreement.end_date + timedelta(days=1)
            agreement.end_date = agreement.start_date + length
            counts["renewed"] += 1
        else:
            agreement.status = Agreement.Status.ENDED
            counts["ended"] += 1
        agreement.save(update_fields=["start_date", "end_date", "status", "updated_at"])
    return counts


def _renewal_create(agreement: Agreement, stage: Stage) -> bool:
    owner = agreement.customer.owner or agreement.owner
    with transaction.atomic():
        reminder, created = RenewalReminder.objects.get_or_create(
            agreement=agreement, term_end=agreement.end_date
        )
        if not created:
            return False
        opportunity = Opportunity.objects.create(
            name=(_("Renewal: %(title)s") % {"title": agreement.title})[:200],
            customer=agreement.customer,
            owner=owner,
            stage=stage,
            probability=stage.probability,
            amount=agreement.value,
            currency=agreement.currency,
            expected_close=agreement.end_date,
            source="renewal",
            notes=_("Renewal of service agreement %(number)s") % {"number": agreement.number},
            stage_changed_at=timezone.now(),
        )
        reminder.opportunity = opportunity
        reminder.save(update_fields=["opportunity", "updated_at"])
        notice_send(
            user=owner,
            title=_("Agreement %(number)s ends on %(end)s: renewal opportunity created")
            % {"number": agreement.number, "end": agreement.end_date.isoformat()},
            url=reverse("service:agreement_detail", args=[agreement.pk]),
        )
    return True
