"""Billing (public schema): price list, one billing account per tenant, the module-day ledger, invoices
and the Stripe webhook inbox. Only `crm.billing.gateway` talks to Stripe; these rows are our own record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.platform.models import HeartbeatJob, JobStatus, TimeStampedModel

# Stripe and the ledger both round to the cent; more than a cent apart is a real difference.
LEDGER_TOLERANCE = Decimal("0.01")


class Price(TimeStampedModel):
    """A sellable module's monthly price from a date on. The row valid at a period's start prices the whole
    period, so a change affects new periods only."""

    module = models.CharField(_("module"), max_length=40)
    monthly_amount = models.DecimalField(_("monthly price"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    valid_from = models.DateField(_("valid from"))
    # Stripe Price created lazily for this row (Stripe prices are immutable, like our rows).
    stripe_price_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["module", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["module", "valid_from"], name="uniq_price_module_from")
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.monthly_amount} {self.currency} from {self.valid_from}"


class AccountStatus(models.TextChoices):
    TRIALING = "trialing", _("Trial")
    ACTIVE = "active", _("Active")
    PAST_DUE = "past_due", _("Past due")
    CANCELED = "canceled", _("Canceled")


class BillingAccount(TimeStampedModel):
    """A tenant's billing state: its Stripe customer and subscription (Stripe mode) and dunning dates."""

    tenant = models.OneToOneField("tenants.Tenant", on_delete=models.CASCADE, related_name="billing_account")
    status = models.CharField(max_length=20, choices=AccountStatus.choices, default=AccountStatus.TRIALING)
    stripe_customer_id = models.CharField(max_length=100, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=100, blank=True)
    stripe_subscription_status = models.CharField(max_length=30, blank=True)
    cancel_at_period_end = models.BooleanField(default=False)
    trial_ends_at = models.DateTimeField(null=True, blank=True)
    past_due_since = models.DateTimeField(null=True, blank=True)
    grace_ends_at = models.DateTimeField(null=True, blank=True)
    # Trial-end reminders already emailed, as days-before (e.g. [7, 1]); each goes out once.
    trial_reminders_sent = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["tenant_id"]

    def __str__(self) -> str:
        return f"{self.tenant} ({self.status})"

    @property
    def has_subscription(self) -> bool:
        return bool(self.stripe_subscription_id) and self.stripe_subscription_status not in ("canceled", "")


class SubscriptionItem(TimeStampedModel):
    """Mirror of one Stripe subscription item: which module it bills."""

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="items")
    module = models.CharField(max_length=40)
    stripe_item_id = models.CharField(max_length=100, unique=True)
    stripe_price_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["module"]
        constraints = [models.UniqueConstraint(fields=["account", "module"], name="uniq_subitem_module")]

    def __str__(self) -> str:
        return f"{self.account.tenant}:{self.module}"


class LedgerSpan(TimeStampedModel):
    """A stretch of time during which a module was billable for a tenant (enabled and not comped).

    Rebuilt from the tenant's ModuleChange history by `ledger.ledger_sync`, so replays converge. What a
    tenant owes for a period is derived from these spans: module-days x (monthly price / days in month).
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="ledger_spans")
    module = models.CharField(max_length=40)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)  # open span: still billable

    class Meta:
        ordering = ["tenant_id", "module", "started_at"]
        indexes = [models.Index(fields=["tenant", "module", "started_at"])]

    def __str__(self) -> str:
        return f"{self.tenant}:{self.module} {self.started_at:%Y-%m-%d}..{self.ended_at or ''}"


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")


class Invoice(TimeStampedModel):
    """An invoice: made from the ledger in offline mode (manual=True) or mirrored from Stripe.

    `ledger_total` is what our own ledger says the invoice should be, to flag Stripe mismatches.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="invoices")
    number = models.CharField(_("number"), max_length=60, unique=True)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))  # inclusive
    total = models.DecimalField(_("total"), max_digits=12, decimal_places=2, default=Decimal("0"))
    ledger_total = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    status = models.CharField(_("status"), max_length=20, choices=InvoiceStatus.choices, default="draft")
    manual = models.BooleanField(_("manual"), default=False)
    stripe_invoice_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    pdf_url = models.URLField(max_length=500, blank=True)
    hosted_url = models.URLField(max_length=500, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True)
    marked_paid_by = models.EmailField(blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            # One ledger invoice per tenant per period, however often the monthly task runs.
            models.UniqueConstraint(
                fields=["tenant", "period_start"], condition=Q(manual=True), name="uniq_manual_invoice_period"
            )
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def ledger_mismatch(self) -> bool:
        """A Stripe invoice whose total differs from what the ledger expects by more than a cent."""
        if self.manual or self.ledger_total is None:
            return False
        return abs(self.total - self.ledger_total) > LEDGER_TOLERANCE


class InvoiceLine(TimeStampedModel):
    """One line of an invoice. Ledger invoices: one module's billable days x daily rate, rounded to the cent.
    Stripe invoices: a mirror of one Stripe line (the advance charge for a period, or a proration credit or
    charge for a change), with what our ledger says that line should be (`expected_amount`).

    Periods are local dates in the tenant's time zone, end inclusive (as on Invoice).
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    module = models.CharField(_("module"), max_length=40)
    description = models.CharField(_("description"), max_length=200)
    days = models.PositiveIntegerField(_("days"), default=0)
    monthly_amount = models.DecimalField(max_digits=12, decimal_places=2)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="CNY")
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)  # inclusive
    proration = models.BooleanField(_("proration"), default=False)
    # Empty on ledger invoices; Stripe's line id on mirrored ones (a replayed webhook updates, never adds).
    stripe_line_id = models.CharField(max_length=100, blank=True)
    expected_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["invoice_id", "module", "period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "stripe_line_id"],
                condition=~Q(stripe_line_id=""),
                name="uniq_invoice_stripe_line",
            )
        ]

    def __str__(self) -> str:
        return f"{self.module} {self.amount}"

    @property
    def off_by(self) -> Decimal:
        """Stripe's amount minus the ledger's expectation (0 on ledger invoices)."""
        return Decimal("0") if self.expected_amount is None else self.amount - self.expected_amount


class MonthCheck(TimeStampedModel):
    """Stripe against the ledger for one closed calendar month of one tenant: the sum of every Stripe line
    whose period lies in the month (advance charge, then the proration lines that arrive on the next
    invoice) against the ledger's subtotal for the month. Both before discount (Stripe takes the coupon off
    whole invoices, which straddle two months). Rewritten by every invoice that carries lines of the month.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="month_checks")
    month = models.DateField(_("month"))  # first day
    stripe_amount = models.DecimalField(max_digits=12, decimal_places=2)
    ledger_amount = models.DecimalField(max_digits=12, decimal_places=2)
    # Stripe rounds each line and the ledger each module-month, so the two may part by half a cent per
    # line and per module: the tolerance grows with the lines.
    tolerance = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0.01"))
    currency = models.CharField(max_length=3, default="CNY")

    class Meta:
        ordering = ["-month", "tenant_id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month"], name="uniq_month_check")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m}"

    @property
    def mismatch(self) -> bool:
        return abs(self.stripe_amount - self.ledger_amount) > self.tolerance


class WebhookEvent(TimeStampedModel):
    """A verified Stripe event, stored once (Stripe delivers at least once) and processed by a task."""

    stripe_id = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.stripe_id}"


class TenantDiscount(TimeStampedModel):
    """One entry in a tenant's discount history: a percent off its invoices from `valid_from` on, set by an
    operator (with a reason; every change is also audited).

    Like prices, a change affects new periods only: a new row starts on the first day of a month (the next
    one unless the operator picks another) and the row it replaces gets `ends_on` the day before, so an
    invoice not yet generated for a month already under way keeps the percent that month started with.
    Rows are never deleted; removing the discount is a row with percent 0. A row applies to each monthly
    period that ends on or after `valid_from` and starts on or before `ends_on` (no end date: until
    changed); a row replaced before it started ends before it begins and applies to nothing. In Stripe
    mode the percent is also a coupon on the tenant's subscription.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.CASCADE, related_name="discounts")
    percent = models.DecimalField(_("discount (%)"), max_digits=5, decimal_places=2)
    reason = models.CharField(_("reason"), max_length=200)
    valid_from = models.DateField(_("valid from"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    set_by = models.EmailField(_("set by"), blank=True)
    stripe_coupon_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["tenant_id", "-valid_from", "-id"]
        indexes = [models.Index(fields=["tenant", "valid_from"], name="billing_discount_tenant_from")]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.percent}% from {self.valid_from}"

    def applies_to(self, first: date, last: date) -> bool:
        """Whether the discount covers the period [first, last] (inclusive)."""
        return (
            self.percent > 0 and self.valid_from <= last and (self.ends_on is None or self.ends_on >= first)
        )

    @property
    def cancelled(self) -> bool:
        """Replaced before it started: it never applied to any period."""
        return self.ends_on is not None and self.ends_on < self.valid_from


class StubCharge(TimeStampedModel):
    """The pending invoice items made once for a subscription's stub (from the start of its first month
    to the first anchor, see `ledger.stub_lines`). The row is our proof they exist: a replayed or
    reordered checkout webhook finds it and creates nothing (Stripe's idempotency keys only last a day).
    """

    account = models.ForeignKey(BillingAccount, on_delete=models.CASCADE, related_name="stub_charges")
    stripe_subscription_id = models.CharField(max_length=100, unique=True)
    started_at = models.DateTimeField()
    first_anchor = models.DateTimeField()
    # [{"module", "start", "end", "amount", "invoice_item"}], as sent (amounts as strings).
    items = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.stripe_subscription_id} stub"


class InvoiceRun(HeartbeatJob, TimeStampedModel):
    """The monthly ledger-invoice run for one period (crm.billing.services.invoices_generate_monthly),
    claimed by one worker, with a heartbeat and progress per batch of tenants; the jobs sweeper requeues a
    run whose worker stopped and at last fails it. One row per period: the hourly beat finds it done and
    does nothing; a requeued run skips the tenants already invoiced (one invoice per tenant and period)."""

    Status = JobStatus

    period_start = models.DateField(_("period start"), unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)  # live tenants to invoice
    done = models.PositiveIntegerField(default=0)  # tenants handled so far
    invoiced = models.PositiveIntegerField(default=0)  # ledger invoices of the period (all attempts)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-period_start", "-id"]

    def __str__(self) -> str:
        return f"invoices {self.period_start:%Y-%m} {self.status}"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
