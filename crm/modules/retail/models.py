"""Retail and member data (tenant schema): stores, clerks, tiers, points rules, members, sales and the points
ledger. A member's `points_balance` is a cache of the ledger sum, kept in step by the services under a row
lock on the member."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.platform.models import HeartbeatJob, JobStatus, TimeStampedModel


class Store(TimeStampedModel):
    """A shop (门店) where clerks record members' purchases."""

    name = models.CharField(_("name"), max_length=100)
    code = models.CharField(_("code"), max_length=30, unique=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")

    def __str__(self) -> str:
        return self.name


class StoreClerk(TimeStampedModel):
    """A clerk's assignment to a store; a clerk records sales only at stores they are assigned to."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="retail_stores")

    class Meta:
        ordering = ["store_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["store", "user"], name="retail_storeclerk_unique")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.store_id}"


class Tier(TimeStampedModel):
    """A member tier (普通/银卡/金卡), reached when total spend or the points balance crosses the threshold.

    Rank orders the tiers (lowest first)."""

    class Basis(models.TextChoices):
        SPEND = "spend", _("Total spend")
        POINTS = "points", _("Points balance")

    name = models.CharField(_("name"), max_length=50, unique=True)
    rank = models.PositiveSmallIntegerField(_("rank"), unique=True)
    basis = models.CharField(_("basis"), max_length=10, choices=Basis.choices, default=Basis.SPEND)
    threshold = models.DecimalField(_("threshold"), max_digits=14, decimal_places=2, default=Decimal("0"))
    discount_percent = models.DecimalField(
        _("discount %"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    points_multiplier = models.DecimalField(
        _("points multiplier"), max_digits=5, decimal_places=2, default=Decimal("1")
    )
    # Months a renewal adds for members of this tier; empty: the points rule's default.
    validity_months = models.PositiveSmallIntegerField(_("validity (months)"), null=True, blank=True)

    class Meta:
        ordering = ["rank"]
        verbose_name = _("tier")

    def __str__(self) -> str:
        return self.name


class PointsRule(TimeStampedModel):
    """The tenant's points rule: one row (pk=1)."""

    class Rounding(models.TextChoices):
        DOWN = "down", _("Round down")
        HALF_UP = "half_up", _("Round half up")

    points_per_rmb = models.DecimalField(
        _("points per RMB"), max_digits=8, decimal_places=4, default=Decimal("1")
    )
    rounding = models.CharField(_("rounding"), max_length=10, choices=Rounding.choices, default=Rounding.DOWN)
    expiry_months = models.PositiveSmallIntegerField(_("points expire after (months)"), default=24)
    redemption_value = models.DecimalField(
        _("value of one point (RMB)"), max_digits=8, decimal_places=4, default=Decimal("0.01")
    )
    membership_months = models.PositiveSmallIntegerField(_("membership validity (months)"), default=12)
    downgrade_at_renewal = models.BooleanField(_("downgrade tiers at renewal"), default=False)

    class Meta:
        ordering = ["id"]
        verbose_name = _("points rule")

    def __str__(self) -> str:
        return f"{self.points_per_rmb}/RMB"


class Member(TimeStampedModel):
    """A member (会员). Clerks find one only by exact name AND member number (index below)."""

    name = models.CharField(_("name"), max_length=100)
    member_no = models.CharField(_("member number"), max_length=40, unique=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    email = models.EmailField(_("email"), blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="members")
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    opt_out_sms = models.BooleanField(_("no SMS"), default=False)
    opt_out_email = models.BooleanField(_("no email"), default=False)
    points_balance = models.IntegerField(_("points balance"), default=0)  # cache of the ledger sum
    total_spend = models.DecimalField(_("total spend"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    # Spend that no longer counts towards an upgrade: set when a renewal downgrades the member, so that the
    # next sale does not lift them straight back on the lifetime total the downgrade just looked past.
    tier_spend_base = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("registered at"),
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("member")
        # The clerk lookup is an equality match on both columns (member_no alone is unique already).
        indexes = [models.Index(fields=["member_no", "name"], name="retail_member_lookup")]

    def __str__(self) -> str:
        return f"{self.name} ({self.member_no})"


class TierChange(TimeStampedModel):
    """Why a member's tier changed: the rule and the value that crossed it."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, null=True, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("reason"), max_length=200)
    sale = models.ForeignKey("Sale", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_tier_id}->{self.to_tier_id}"


class Sale(TimeStampedModel):
    """One purchase by a member at a store, recorded by a clerk. Voiding keeps the row and reverses points."""

    member = models.ForeignKey(Member, on_delete=models.PROTECT, related_name="sales")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="sales")
    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    points = models.IntegerField(_("points earned"), default=0)
    # The member's tier when the sale was recorded (results by tier must not move when a member changes
    # tier later). Empty for a member without a tier.
    tier = models.ForeignKey(
        Tier, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("tier")
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.CharField(_("void reason"), max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("sale")
        indexes = [models.Index(fields=["member", "-id"], name="retail_sale_member")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.amount} {self.currency}"


class SaleLine(TimeStampedModel):
    """A catalogue item on a sale (product from the core catalogue, or a free description)."""

    sale = models.ForeignKey(Sale, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(
        "core.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.description


class PointsEntry(TimeStampedModel):
    """One change of a member's points (signed). The member's balance equals the sum of these."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        VOID = "void", _("Sale voided")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Adjustment")
        IMPORT = "import", _("Imported")

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="points_entries")
    sale = models.ForeignKey(
        Sale, null=True, blank=True, on_delete=models.PROTECT, related_name="points_entries"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    # For earn/import entries: when the points lapse (redemptions consume the oldest points first).
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("points entry")
        indexes = [models.Index(fields=["member", "-id"], name="retail_points_member")]

    def __str__(self) -> str:
        return f"{self.kind} {self.points:+d}"


class Renewal(TimeStampedModel):
    """One membership renewal: who extended it, from which expiry date to which, and any tier change it
    made (downgrade at renewal)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="renewals")
    renewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    previous_valid_until = models.DateField(_("previous expiry"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"))
    months = models.PositiveSmallIntegerField(_("months"))
    tier_change = models.ForeignKey(
        TierChange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        verbose_name = _("renewal")

    def __str__(self) -> str:
        return f"{self.member_id} -> {self.valid_until}"


class CareRun(HeartbeatJob, TimeStampedModel):
    """One day's member care run (crm.modules.retail.care): claimed by one worker, with a heartbeat and
    progress per batch; the jobs sweeper (crm.platform.jobs) requeues a run whose worker stopped and at last
    fails it. One row per tenant-local day: a second delivery of the daily task finds it and does nothing.
    A requeued run plans the same messages again (same `planned_for`): their idempotency keys make the
    messages already sent come back as sent, never go out twice."""

    Status = JobStatus

    run_on = models.DateField(_("day"), unique=True)
    planned_for = models.DateTimeField()  # the moment the run plans for (every attempt uses it)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)  # messages planned
    done = models.PositiveIntegerField(default=0)  # messages handed to messaging so far
    sent = models.PositiveIntegerField(default=0)  # of those, sent (now or by an earlier attempt)
    undelivered = models.PositiveIntegerField(default=0)  # of those, failed at the provider
    counts = models.JSONField(default=dict, blank=True)  # per event kind, as care_run returns them
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-run_on", "-id"]
        verbose_name = _("care run")

    def __str__(self) -> str:
        return f"care {self.run_on} {self.status}"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
