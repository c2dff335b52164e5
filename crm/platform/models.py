"""Platform kernel models (public schema): timestamps base, domain-event outbox, operator audit."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    """Base for every model: created/updated timestamps (timezone-aware)."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


class DomainEvent(TimeStampedModel):
    """An outbox row per domain event (e.g. module enabled), consumed by billing and other subscribers."""

    name = models.CharField(max_length=100, db_index=True)
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="events", null=True)
    payload = models.JSONField(default=dict)
    processed_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk}"


class ImpersonationSession(TimeStampedModel):
    """An operator acting as a tenant user for support: who, whom, why, from when to when."""

    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="impersonations")
    target_user_id = models.BigIntegerField()
    target_email = models.EmailField()
    reason = models.TextField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    token_used = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.operator} as {self.target_email}@{self.tenant}"


class OperatorAudit(TimeStampedModel):
    """What an operator did in the console (suspend, comp a module, impersonate...)."""

    operator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, null=True, related_name="+")
    action = models.CharField(max_length=60)
    detail = models.JSONField(default=dict)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.operator} {self.action}"


class IdempotencyRecord(models.Model):
    """The first response to an API POST sent with an `Idempotency-Key`, kept 24 hours so that a retry with
    the same key replays it instead of acting twice. Keyed by workspace schema, caller and key: one caller's
    key never answers for another caller or another workspace (crm/api/idempotency.py)."""

    schema_name = models.CharField(max_length=63)
    principal = models.CharField(max_length=64)  # sha256 of the API key header, or "user:<id>"
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)  # method, path and body: a different request is refused
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null while the first is running
    content_type = models.CharField(max_length=100, blank=True)
    body = models.BinaryField(default=bytes)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["schema_name", "principal", "key"], name="uniq_idempotency_key")
        ]

    def __str__(self) -> str:
        return f"{self.schema_name}:{self.key}"


class PendingDispatch(TimeStampedModel):
    """A task dispatch written in the same transaction as the change that queues it (crm.kernel.dispatch).

    Sent to the broker on commit; when the broker is away the row stays pending and the sweeper
    (crm.platform.tasks.dispatch_sweep) resends it with backoff. `sent_at` set: delivered to the broker.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    schema = models.CharField(max_length=63)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["sent_at", "next_attempt_at"], name="platform_pd_pending")]

    def __str__(self) -> str:
        return f"{self.task_name} @{self.schema} #{self.pk}"


class JobStatus(models.TextChoices):
    """The states of a heartbeat job row (crm.platform.jobs: the sweeper and `job_requeue` use them)."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class HeartbeatJob(models.Model):
    """Fields for a long job that can be interrupted (crm.platform.jobs): the running task beats
    `heartbeat_at`; the jobs sweeper requeues a job whose beat stopped (`attempts` counts requeues) and
    finally fails it. `recovery` tells the user what happened: resumed after an interruption, or gave up."""

    class Recovery(models.TextChoices):
        NONE = "", _("None")
        RESUMED = "resumed", _("Interrupted, resumed")
        GAVE_UP = "gave_up", _("Interrupted, failed")

    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    recovery = models.CharField(max_length=10, choices=Recovery.choices, default="", blank=True)
    recovery_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        abstract = True
