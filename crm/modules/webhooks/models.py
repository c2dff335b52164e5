"""Outbound webhooks: endpoints an owner registers in the workspace, and one delivery row per event and
endpoint. Both live in the tenant schema, so a delivery can only ever reach an endpoint of the same
workspace."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.platform.models import TimeStampedModel


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(24)


class Endpoint(TimeStampedModel):
    """A URL of the owner's that receives signed POSTs for the events it subscribed to."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    events = models.JSONField(_("events"), default=list)  # event names, see public.event_names()
    secret = models.CharField(_("signing secret"), max_length=80, default=new_secret)
    is_active = models.BooleanField(_("active"), default=True)
    # Failed attempts in a row; at WEBHOOK_DISABLE_AFTER the endpoint is switched off (disabled_reason).
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class Delivery(TimeStampedModel):
    """One event for one endpoint, attempted until it is acknowledged with a 2xx or the attempts run out."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(_("event"), max_length=80)
    event_id = models.CharField(max_length=40, db_index=True)  # the same for every endpoint of one event
    payload = models.JSONField(default=dict)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker that is sending holds the row until then (no long transaction around the HTTP call).
    claimed_until = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(_("response"), null=True, blank=True)
    response_body = models.TextField(blank=True)  # the first 2,000 characters
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="webhooks_due_idx")]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint_id} ({self.status})"
