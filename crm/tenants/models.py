"""Tenancy (public schema): tenants, their domains, module enablement and its change log, and the platform's
billing terms (trial length, grace period)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin

from crm.platform.models import HeartbeatJob, JobStatus, TimeStampedModel


class TenantStatus(models.TextChoices):
    TEMPLATE = "template", _("Template")
    POOL = "pool", _("Spare (pool)")
    TRIAL = "trial", _("Trial")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    SUSPENDED = "suspended", _("Suspended")
    CLOSED = "closed", _("Closed")
    PLATFORM = "platform", _("Platform (public schema)")


LIVE_STATUSES = (TenantStatus.TRIAL, TenantStatus.ACTIVE, TenantStatus.PAST_DUE, TenantStatus.SUSPENDED)


class Tenant(TenantMixin, TimeStampedModel):
    """A customer company with its own schema. Template and pool rows are schemas waiting to be used."""

    slug = models.SlugField(_("workspace"), max_length=40, unique=True, null=True, blank=True)
    name = models.CharField(_("company name"), max_length=200, blank=True)
    status = models.CharField(
        max_length=20, choices=TenantStatus.choices, default=TenantStatus.TRIAL, db_index=True
    )
    sales_modes = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    default_language = models.CharField(max_length=10, default="zh-hans")
    time_zone = models.CharField(max_length=60, default="Asia/Shanghai")
    currency = models.CharField(max_length=3, default="CNY")
    owner_email = models.EmailField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=200, blank=True)
    suspended_by_billing = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)

    # Schemas are created by crm.tenants.provisioning (clone of the template), never on save.
    auto_create_schema = False
    auto_drop_schema = True

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name or self.schema_name

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_read_only(self) -> bool:
        return self.status == TenantStatus.SUSPENDED


class Domain(DomainMixin):
    """A host name routed to a tenant (`<slug>.<base domain>`)."""

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class TenantModule(TimeStampedModel):
    """One module's state for one tenant. Rows are never deleted: disabling keeps data and history."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="modules")
    module = models.CharField(max_length=40)
    enabled = models.BooleanField(default=False)
    comp = models.BooleanField(_("complimentary"), default=False)

    class Meta:
        ordering = ["module"]
        constraints = [models.UniqueConstraint(fields=["tenant", "module"], name="uniq_tenant_module")]

    def __str__(self) -> str:
        return f"{self.tenant}:{self.module}={'on' if self.enabled else 'off'}"


class ModuleChange(TimeStampedModel):
    """Audit of every enable/disable: who (tenant user or operator), when, what. Billing reads this."""

    class Action(models.TextChoices):
        ENABLE = "enable", _("Enabled")
        DISABLE = "disable", _("Disabled")
        COMP_ON = "comp_on", _("Complimentary on")
        COMP_OFF = "comp_off", _("Complimentary off")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="module_changes")
    module = models.CharField(max_length=40)
    action = models.CharField(max_length=20, choices=Action.choices)
    actor_email = models.EmailField(blank=True)
    actor_kind = models.CharField(max_length=20, default="user")  # user | operator | system
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant}:{self.module} {self.action}"


class BillingTerms(TimeStampedModel):
    """The platform's trial length and payment grace period, set by operators in the console.

    Kept as a history (never updated in place): the newest row is in force. A workspace gets the trial length
    in force when it signs up, and an overdue invoice the grace period in force when it fell due, so a change
    never shortens or lengthens what someone was already given.
    """

    trial_days = models.PositiveSmallIntegerField(_("free trial (days)"))
    grace_days = models.PositiveSmallIntegerField(_("grace period after a missed payment (days)"))
    set_by = models.EmailField(_("set by"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"trial {self.trial_days}d, grace {self.grace_days}d"


class RestoreJob(HeartbeatJob, TimeStampedModel):
    """An operator's restore of one workspace from one of its exports (crm.tenants.backup), run by a worker
    with a heartbeat; the console shows its phase and progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed: nothing changed")

    class Mode(models.TextChoices):
        IN_PLACE = "in_place", _("In place (replace all data of the workspace)")
        NEW_SCHEMA = "new_schema", _("Into a new schema (the current one is kept)")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="restores")
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    archive = models.CharField(max_length=200)  # a file name in the tenant's own export folder
    mode = models.CharField(max_length=20, choices=Mode.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=20, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"restore {self.tenant_id} {self.archive} {self.status}"


class ExportJob(HeartbeatJob, TimeStampedModel):
    """An owner's full export of the workspace (crm.tenants.backup), made by a worker with a heartbeat: the
    export page shows its progress; a job whose worker stopped is resumed by the jobs sweeper and at last
    failed with the reason, and the owner asks again."""

    Status = JobStatus

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="export_jobs")
    requested_by = models.CharField(max_length=254, blank=True)  # the owner's e-mail (users live per schema)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    phase = models.CharField(max_length=20, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    file = models.CharField(max_length=200, blank=True)  # a file name in the tenant's own export folder
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "status"], name="tenants_export_tenant_status")]

    def __str__(self) -> str:
        return f"export {self.tenant_id} {self.status}"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)


class MigrationRun(HeartbeatJob, TimeStampedModel):
    """One run of `manage.py migrate_tenants` (crm.tenants.migration_runs): progress per schema with a
    heartbeat, so that the console shows how far a release got; a run whose process died is resumed by the
    jobs sweeper (only the schemas still behind are migrated) and failed after the last attempt."""

    Status = JobStatus

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    schemas = models.JSONField(default=list, blank=True)  # the schemas asked for; empty: every tenant
    workers = models.PositiveSmallIntegerField(default=2)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    migrated = models.PositiveIntegerField(default=0)
    current = models.PositiveIntegerField(default=0)  # schemas found up to date
    failed_schemas = models.JSONField(default=list, blank=True)  # [[schema, error], ...]
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"migration run {self.pk} {self.status}"
