"""Service delivery (服务型): service agreements with term, SLA plan and entitlements, service orders (工单)
with SLA due times in the workspace's business hours, work logs that consume entitlements, customer sign-off
and return visits (回访). The money side (contract, instalments, receipts) stays in the sales capability: an
agreement may point at the sales Contract that carries it."""

from __future__ import annotations

from datetime import time
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.platform.models import TimeStampedModel

ZERO = Decimal("0.00")


class ServiceSettings(TimeStampedModel):
    """The workspace's business hours (one row, created on first read): SLA clocks run only inside them."""

    # ISO weekdays that are working days, as digits ("12345" = Monday to Friday).
    workdays = models.CharField(_("working days"), max_length=7, default="12345")
    day_start = models.TimeField(_("day starts"), default=time(9, 0))
    day_end = models.TimeField(_("day ends"), default=time(18, 0))
    # ISO dates ("2026-10-01") on which the clock does not run.
    holidays = models.JSONField(_("holidays"), default=list, blank=True)

    class Meta:
        verbose_name = _("service settings")

    def __str__(self) -> str:
        return "service settings"


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


class SlaPlan(TimeStampedModel):
    """Response and resolution times in business hours, per priority."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    low_response = models.PositiveSmallIntegerField(_("low: response hours"), default=16)
    low_resolution = models.PositiveSmallIntegerField(_("low: resolution hours"), default=72)
    normal_response = models.PositiveSmallIntegerField(_("normal: response hours"), default=8)
    normal_resolution = models.PositiveSmallIntegerField(_("normal: resolution hours"), default=40)
    high_response = models.PositiveSmallIntegerField(_("high: response hours"), default=4)
    high_resolution = models.PositiveSmallIntegerField(_("high: resolution hours"), default=16)
    urgent_response = models.PositiveSmallIntegerField(_("urgent: response hours"), default=1)
    urgent_resolution = models.PositiveSmallIntegerField(_("urgent: resolution hours"), default=4)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("SLA plan")
        verbose_name_plural = _("SLA plans")

    def __str__(self) -> str:
        return self.name

    def hours(self, priority: str) -> tuple[int, int]:
        """(response hours, resolution hours) for a priority."""
        return getattr(self, f"{priority}_response"), getattr(self, f"{priority}_resolution")


class Agreement(TimeStampedModel):
    """A service agreement (服务合同) on a customer for a term; the sales Contract, when linked, carries the
    money."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        ENDED = "ended", _("Ended")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.CharField(_("number"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=200)
    customer = models.ForeignKey(
        "core.Customer",
        on_delete=models.PROTECT,
        related_name="service_agreements",
        verbose_name=_("customer"),
    )
    contract = models.ForeignKey(
        "sales.Contract",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_agreements",
        verbose_name=_("sales contract"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), db_index=True)
    auto_renew = models.BooleanField(_("auto-renew"), default=False)
    renewal_notice_days = models.PositiveSmallIntegerField(_("renewal notice (days)"), default=30)
    sla_plan = models.ForeignKey(
        SlaPlan,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("SLA plan"),
    )
    value = models.DecimalField(_("value"), max_digits=16, decimal_places=2, default=ZERO)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        ordering = ["end_date", "id"]
        verbose_name = _("service agreement")
        verbose_name_plural = _("service agreements")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")), name="service_agreement_term"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"


class Entitlement(TimeStampedModel):
    """One line of an agreement: hours or visits sold; `used` follows the work log."""

    class Unit(models.TextChoices):
        HOURS = "hours", _("Hours")
        VISITS = "visits", _("Visits")

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="entitlements")
    description = models.CharField(_("description"), max_length=200)
    unit = models.CharField(_("unit"), max_length=6, choices=Unit.choices, default=Unit.HOURS)
    sold = models.DecimalField(_("sold"), max_digits=10, decimal_places=2)
    used = models.DecimalField(_("used"), max_digits=10, decimal_places=2, default=ZERO)

    class Meta:
        ordering = ["agreement", "id"]
        verbose_name = _("entitlement")
        verbose_name_plural = _("entitlements")
        constraints = [
            models.CheckConstraint(condition=models.Q(sold__gte=0), name="service_entitlement_sold"),
            models.CheckConstraint(condition=models.Q(used__gte=0), name="service_entitlement_used"),
        ]

    def __str__(self) -> str:
        return self.description

    @property
    def left(self) -> Decimal:
        return self.sold - self.used


class RenewalReminder(TimeStampedModel):
    """The renewal opportunity made for one term of an agreement (one per agreement and end date)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="renewals")
    term_end = models.DateField()
    opportunity = models.ForeignKey(
        "sales.Opportunity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agreement", "term_end"], name="service_renewal_once_per_term")
        ]


class ServiceOrder(TimeStampedModel):
    """A service order (工单): `owner` is the customer's rep (data scope), `assignee` the technician."""

    class Status(models.TextChoices):
        NEW = "new", _("New")
        ASSIGNED = "assigned", _("Assigned")
        IN_PROGRESS = "in_progress", _("In progress")
        WAITING = "waiting", _("Waiting for customer")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    OPEN_STATES = ("new", "assigned", "in_progress", "waiting")

    number = models.CharField(_("number"), max_length=40, unique=True)
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="service_orders", verbose_name=_("customer")
    )
    agreement = models.ForeignKey(
        Agreement,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="orders",
        verbose_name=_("agreement"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("assignee"),
    )
    priority = models.CharField(
        _("priority"), max_length=6, choices=Priority.choices, default=Priority.NORMAL
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.NEW, db_index=True
    )
    opened_at = models.DateTimeField(_("opened"), db_index=True)
    response_due = models.DateTimeField(_("response due"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True, db_index=True)
    responded_at = models.DateTimeField(_("responded"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, db_index=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    # Stored at resolution: resolved by the resolution due time.
    sla_met = models.BooleanField(_("SLA met"), null=True, blank=True)
    reopened = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    hours_logged = models.DecimalField(_("hours logged"), max_digits=10, decimal_places=2, default=ZERO)
    signed_by = models.CharField(_("signed by"), max_length=100, blank=True)
    signed_at = models.DateTimeField(_("signed"), null=True, blank=True)
    satisfaction_note = models.CharField(_("satisfaction note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        verbose_name = _("service order")
        verbose_name_plural = _("service orders")
        indexes = [models.Index(fields=["assignee", "status"], name="service_order_assignee")]

    def __str__(self) -> str:
        return f"{self.number} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATES


class WorkLog(TimeStampedModel):
    """Hours worked on an order; consumes the entitlement unless recorded as billable overage."""

    order = models.ForeignKey(ServiceOrder, on_delete=models.CASCADE, related_name="work_logs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entitlement = models.ForeignKey(
        Entitlement, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_logs"
    )
    work_date = models.DateField(_("date"))
    hours = models.DecimalField(_("hours"), max_digits=6, decimal_places=2)
    # Hours taken from the entitlement / hours beyond it, billed separately.
    consumed = models.DecimalField(_("from entitlement"), max_digits=6, decimal_places=2, default=ZERO)
    overage = models.DecimalField(_("billable overage"), max_digits=6, decimal_places=2, default=ZERO)
    # An on-site visit: also takes one visit from the agreement's visits line, when it has one.
    on_site = models.BooleanField(_("on-site visit"), default=False)
    note = models.CharField(_("note"), max_length=500, blank=True)
    client_token = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        ordering = ["-work_date", "-id"]
        verbose_name = _("work log entry")
        verbose_name_plural = _("work log")
        constraints = [models.CheckConstraint(condition=models.Q(hours__gt=0), name="service_worklog_hours")]


class ReturnVisit(TimeStampedModel):
    """A return visit (回访) after a resolved order or on a schedule; done when scored."""

    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, related_name="service_visits", verbose_name=_("customer")
    )
    order = models.ForeignKey(
        ServiceOrder, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )
    agreement = models.ForeignKey(
        Agreement, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("owner")
    )
    scheduled_on = models.DateField(_("scheduled on"), db_index=True)
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    score = models.PositiveSmallIntegerField(_("satisfaction (1-5)"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    follow_up = models.CharField(_("follow-up"), max_length=300, blank=True)
    activity_id = models.BigIntegerField(null=True, blank=True)  # the core Activity logged for it

    class Meta:
        ordering = ["done_at", "scheduled_on", "id"]
        verbose_name = _("return visit")
        verbose_name_plural = _("return visits")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                name="service_visit_score",
            )
        ]
