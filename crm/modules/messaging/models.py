"""Messaging data (tenant schema): editable care templates, care settings and the outbound message log.

An OutboundMessage row is written before anything is sent; its unique `idempotency_key` (one per member,
event and occurrence and channel) is what guarantees a care message goes out at most once."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.platform.models import TimeStampedModel


class Channel(models.TextChoices):
    SMS = "sms", _("SMS")
    EMAIL = "email", _("Email")


class EventKind(models.TextChoices):
    BIRTHDAY = "birthday", _("Birthday")
    TIER_UPGRADE = "tier_upgrade", _("Tier upgrade")
    POINTS_EXPIRING = "points_expiring", _("Points about to expire")
    MEMBERSHIP_EXPIRING = "membership_expiring", _("Membership about to expire")


class MessageTemplate(TimeStampedModel):
    """The tenant's text for one event kind on one channel (Django template syntax, plain text)."""

    kind = models.CharField(_("event"), max_length=30, choices=EventKind.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    subject = models.CharField(_("subject"), max_length=200, blank=True)  # email only
    body = models.TextField(_("text"))
    is_active = models.BooleanField(_("send"), default=True)

    class Meta:
        ordering = ["kind", "channel"]
        verbose_name = _("message template")
        constraints = [models.UniqueConstraint(fields=["kind", "channel"], name="messaging_template_unique")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.channel}"


class CareSettings(TimeStampedModel):
    """The tenant's care settings: one row (pk=1). `cursors` remembers how far incremental scans got
    (e.g. the last tier change already considered)."""

    points_notice_days = models.PositiveSmallIntegerField(
        _("warn about expiring points (days ahead)"), default=30
    )
    membership_notice_days = models.PositiveSmallIntegerField(
        _("warn about expiring memberships (days ahead)"), default=30
    )
    cursors = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("care settings")

    def __str__(self) -> str:
        return f"care settings {self.points_notice_days}/{self.membership_notice_days}"


class OutboundMessage(TimeStampedModel):
    """One SMS or email to one recipient. Inserted first (queued), then sent; a failed row is retried in
    place, never duplicated."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"))
    kind = models.CharField(_("event"), max_length=30, choices=EventKind.choices)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_id = models.CharField(_("provider message id"), max_length=100, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("outbound message")

    def __str__(self) -> str:
        return f"{self.channel} {self.recipient} {self.status}"
