"""Billing writes: accounts, price list, ledger invoices, dunning, Stripe checkout/portal/items, and
applying Stripe objects (fetched fresh, so replays and out-of-order webhooks converge)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.billing import gateway
from crm.billing.ledger import (
    CENT,
    ExpectedLine,
    Line,
    Span,
    anchor_config,
    billable_mask,
    billed_days,
    charged,
    discount_amount,
    discount_in_force,
    discount_percent_for,
    discount_upcoming,
    invoice_expectation,
    ledger_sync,
    line_amount,
    local_midnight,
    month_bounds,
    next_local_midnight,
    next_month,
    period_total,
    price_for,
    stub_lines,
    tenant_tz,
)
from crm.billing.models import (
    AccountStatus,
    BillingAccount,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceStatus,
    LedgerSpan,
    MonthCheck,
    Price,
    StubCharge,
    SubscriptionItem,
    TenantDiscount,
)
from crm.platform.errors import ServiceError
from crm.platform.jobs import job_heartbeat, job_requeue
from crm.platform.permissions import check_operator, check_perm
from crm.platform.registry import registry
from crm.tenants import backup
from crm.tenants.models import LIVE_STATUSES, ExportJob, Tenant, TenantModule, TenantStatus
from crm.tenants.selectors import billing_terms
from crm.tenants.services import tenant_reactivate, tenant_set_status, tenant_suspend, tenant_url

log = logging.getLogger(__name__)


# --- accounts and prices -------------------------------------------------------------------------------


def account_get(*, tenant: Tenant) -> BillingAccount:
    """The tenant's billing account, created on first use (trial state copied from the tenant)."""
    account, _created = BillingAccount.objects.get_or_create(
        tenant=tenant,
        defaults={
            "trial_ends_at": tenant.trial_ends_at,
            "status": AccountStatus.TRIALING if tenant.status == TenantStatus.TRIAL else AccountStatus.ACTIVE,
        },
    )
    return account


def price_set(
    *,
    actor: Any,
    module: str,
    monthly_amount: Decimal,
    currency: str = "CNY",
    valid_from: date,
    today: date | None = None,
) -> Price:
    """Operator: a new monthly price for a module from the first day of a future month on."""
    check_operator(actor)
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    if module not in registry or not registry.get(module).sellable:
        errors["module"] = [_("Unknown module.")]
    if monthly_amount is None or monthly_amount <= 0 or monthly_amount.as_tuple().exponent < -2:  # type: ignore[operator]
        errors["monthly_amount"] = [_("Enter a positive amount with at most two decimals.")]
    if len(currency) != 3 or not currency.isalpha():
        errors["currency"] = [_("Enter a three-letter currency code.")]
    if valid_from.day != 1 or valid_from <= today:
        # Prices change for whole periods only: the current month keeps the price it started with.
        errors["valid_from"] = [_("A new price starts on the first day of a future month.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    price, _created = Price.objects.update_or_create(
        module=module,
        valid_from=valid_from,
        defaults={"monthly_amount": monthly_amount, "currency": currency.upper(), "stripe_price_id": ""},
    )
    return price


def billable_modules(tenant: Tenant) -> list[str]:
    """The tenant's modules that cost money now (the Stripe items, next month's total): enabled, not
    comped, and available (a module that is coming soon is not charged, see `not_charged_modules`)."""
    rows = TenantModule.objects.filter(tenant=tenant, enabled=True, comp=False).values_list(
        "module", flat=True
    )
    return sorted(m for m in rows if charged(m))


def not_charged_modules(tenant: Tenant) -> list[str]:
    """The tenant's enabled, not comped modules that are not charged because they are coming soon (what
    the billing page explains)."""
    rows = TenantModule.objects.filter(tenant=tenant, enabled=True, comp=False).values_list(
        "module", flat=True
    )
    return sorted(m for m in rows if m in registry and registry.get(m).sellable and not charged(m))


# --- the ledger as invoices (offline mode and tenants without a Stripe subscription) ------------------


def _pct(percent: Decimal) -> str:
    """20.00 -> "20", 12.50 -> "12.5" (Decimal.normalize would give "2E+1")."""
    text = f"{percent:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# The module slot of an invoice's discount line (no module has this slug: slugs are lowercase words).
DISCOUNT_LINE = "-discount"


def _invoice_number(tenant: Tenant, first: date) -> str:
    return f"M{first:%Y%m}-{tenant.pk:06d}"


def invoice_generate(*, tenant: Tenant, period_start: date) -> Invoice | None:
    """The manual invoice of one tenant for one finished month, made from the ledger. Idempotent: a second
    run returns the same invoice. None when nothing is owed or Stripe bills this tenant."""
    first, last = month_bounds(period_start)
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account_get(tenant=tenant).pk)
        existing = Invoice.objects.filter(tenant=tenant, period_start=first, manual=True).first()
        if existing is not None:
            return existing
        if account.has_subscription or account.status == AccountStatus.CANCELED:
            return None
        owed = period_total(tenant, first, billable_from=tenant.trial_ends_at)
        lines = owed.lines
        if not lines:
            return None
        currency, total = owed.currency, owed.total
        tz = tenant_tz(tenant)
        due_at = datetime.combine(last + timedelta(days=1 + settings.BILLING_DUE_DAYS), time.min, tzinfo=tz)
        invoice = Invoice.objects.create(
            tenant=tenant,
            number=_invoice_number(tenant, first),
            period_start=first,
            period_end=last,
            total=total,
            ledger_total=total,
            currency=currency,
            status=InvoiceStatus.OPEN,
            manual=True,
            due_at=due_at,
        )
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                module=ln.module,
                description=str(registry.get(ln.module).name),
                days=ln.days,
                monthly_amount=ln.monthly_amount,
                amount=ln.amount,
                currency=ln.currency,
            )
            for ln in lines
        )
        if owed.discount:
            InvoiceLine.objects.create(
                invoice=invoice,
                module=DISCOUNT_LINE,
                description=_("Discount %(percent)s%%") % {"percent": _pct(owed.discount_percent)},
                days=0,
                monthly_amount=Decimal("0"),
                amount=-owed.discount,
                currency=currency,
            )
    return invoice


# Tenants invoiced between two heartbeats of the monthly invoice run.
INVOICE_BATCH = 20
INVOICE_RUN_TASK = "crm.billing.tasks.invoice_run"


def invoices_generate_monthly(*, today: date | None = None) -> int:
    """Invoice last month for every live tenant (run hourly by beat) as the period's InvoiceRun: the first
    delivery makes and runs it; later ones find it claimed or done and do nothing. Returns how many
    invoices this call made."""
    today = today or timezone.localdate()
    previous = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    run = invoice_run_start(period_start=previous)
    _invoice_run_reopen(run)
    return invoice_run_execute(run_id=run.pk) or 0


def _invoice_run_reopen(run: InvoiceRun) -> None:
    """A finished run goes again (at the next hourly beat) while a live workspace has no invoice for the
    period: one that became live again after the run (a suspension lifted, a payment recorded) is still
    billed, as when every beat re-ran the month. Workspaces already invoiced are skipped by the run."""
    if run.status != InvoiceRun.Status.DONE:
        return
    invoiced = Invoice.objects.filter(tenant=OuterRef("pk"), period_start=run.period_start, manual=True)
    unbilled = Tenant.objects.filter(status__in=LIVE_STATUSES).filter(~Exists(invoiced)).exists()
    if unbilled:
        InvoiceRun.objects.filter(pk=run.pk, status=InvoiceRun.Status.DONE).update(
            status=InvoiceRun.Status.QUEUED
        )


def invoice_run_start(*, period_start: date) -> InvoiceRun:
    """The invoice run of one period, made on first use; the same row afterwards, whatever its status."""
    run, _created = InvoiceRun.objects.get_or_create(period_start=period_start)
    return run


def _period_invoices(period_start: date) -> int:
    return Invoice.objects.filter(period_start=period_start, manual=True).count()


def invoice_run_execute(*, run_id: int) -> int | None:
    """Worker side: claim the run (queued -> running in one UPDATE; a second delivery finds nothing to
    claim: None), invoice each live tenant with a heartbeat and progress every INVOICE_BATCH tenants,
    then record the outcome. Requeued by the jobs sweeper when its worker stopped: `invoice_generate`
    returns the invoice a first attempt already made, so no tenant is invoiced twice. Returns how many
    invoices this attempt made."""
    now = timezone.now()
    if not InvoiceRun.objects.filter(pk=run_id, status=InvoiceRun.Status.QUEUED).update(
        status=InvoiceRun.Status.RUNNING, started_at=now, heartbeat_at=now, done=0, error=""
    ):
        return None
    run = InvoiceRun.objects.get(pk=run_id)
    period = run.period_start
    tenants = list(Tenant.objects.filter(status__in=LIVE_STATUSES).order_by("id"))
    made = 0
    try:
        for number, tenant in enumerate(tenants, start=1):
            before = Invoice.objects.filter(tenant=tenant, period_start=period, manual=True).exists()
            invoice = invoice_generate(tenant=tenant, period_start=period)
            made += int(invoice is not None and not before)
            if number % INVOICE_BATCH == 0:
                job_heartbeat(run, total=len(tenants), done=number, invoiced=_period_invoices(period))
    except Exception as exc:
        log.exception("invoice run %s failed", run.pk)
        InvoiceRun.objects.filter(pk=run.pk).update(
            status=InvoiceRun.Status.FAILED,
            finished_at=timezone.now(),
            total=len(tenants),
            invoiced=_period_invoices(period),
            error=_("The invoice run failed (%(error)s). Retry it; details are in the worker's log.")
            % {"error": type(exc).__name__},
        )
        return made
    InvoiceRun.objects.filter(pk=run.pk).update(
        status=InvoiceRun.Status.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        total=len(tenants),
        done=len(tenants),
        invoiced=_period_invoices(period),
    )
    return made


def invoice_run_retry(*, actor: Any, run: InvoiceRun) -> InvoiceRun:
    """Operator: run a failed invoice run again (queued for a worker; tenants already invoiced are
    skipped)."""
    check_operator(actor)
    if not job_requeue(run, INVOICE_RUN_TASK, error=""):
        raise ServiceError(_("Only a failed invoice run can be retried."), code="conflict")
    return run


def invoice_mark_paid(*, actor: Any, invoice: Invoice, now: datetime | None = None) -> Invoice:
    """Operator: record the payment of a manual invoice; the workspace is restored at once."""
    check_operator(actor)
    with transaction.atomic():
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if not invoice.manual:
            raise ServiceError(_("Stripe invoices are paid through Stripe."), code="not_manual")
        if invoice.status != InvoiceStatus.OPEN:
            raise ServiceError(_("Only an open invoice can be marked paid."), code="not_open")
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = now or timezone.now()
        invoice.marked_paid_by = actor.email
        invoice.save(update_fields=["status", "paid_at", "marked_paid_by", "updated_at"])
    standing_refresh(tenant=invoice.tenant, now=now)
    return invoice


# --- dunning ----------------------------------------------------------------------------------------


def standing_refresh(*, tenant: Tenant, now: datetime | None = None) -> str:
    """Put the tenant where its invoices say: past_due while an invoice is overdue (full use), suspended
    read-only once the grace period is over, restored as soon as nothing is overdue. Returns the status."""
    now = now or timezone.now()
    with transaction.atomic():
        tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
        account = BillingAccount.objects.select_for_update().get(pk=account_get(tenant=tenant).pk)
        overdue = (
            Invoice.objects.filter(tenant=tenant, status=InvoiceStatus.OPEN, due_at__lte=now)
            .order_by("due_at")
            .first()
        )
        if tenant.status not in LIVE_STATUSES:
            return str(tenant.status)
        if account.status == AccountStatus.CANCELED:
            # The subscription ended: read-only, every record kept, until a new subscription or an operator
            # closes the workspace after the retention period (with an export).
            if tenant.status != TenantStatus.SUSPENDED:
                tenant_suspend(tenant=tenant, reason="subscription ended", by_billing=True)
        elif overdue is not None:
            assert overdue.due_at is not None
            account.status = AccountStatus.PAST_DUE
            account.past_due_since = overdue.due_at
            # The grace in force when the invoice fell due: later changes to the terms do not move it.
            grace = billing_terms(at=overdue.due_at).grace_days
            account.grace_ends_at = overdue.due_at + timedelta(days=grace)
            account.save(update_fields=["status", "past_due_since", "grace_ends_at", "updated_at"])
            if now >= account.grace_ends_at:
                if tenant.status != TenantStatus.SUSPENDED:
                    tenant_suspend(tenant=tenant, reason=f"overdue invoice {overdue.number}", by_billing=True)
            elif tenant.status in (TenantStatus.TRIAL, TenantStatus.ACTIVE):
                tenant_set_status(
                    tenant=tenant, status=TenantStatus.PAST_DUE, by="billing", reason=overdue.number
                )
        else:
            if account.status == AccountStatus.PAST_DUE:
                account.status = AccountStatus.ACTIVE
            account.past_due_since = account.grace_ends_at = None
            account.save(update_fields=["status", "past_due_since", "grace_ends_at", "updated_at"])
            if tenant.status == TenantStatus.SUSPENDED and tenant.suspended_by_billing:
                tenant_reactivate(tenant=tenant)
            elif tenant.status == TenantStatus.PAST_DUE:
                tenant_set_status(tenant=tenant, status=TenantStatus.ACTIVE, by="billing", reason="paid")
        return str(tenant.status)


TRIAL_REMINDER_DAYS = (7, 1)


def _mailer(subject: str, body: str, to: list[str]) -> Callable[[], None]:
    def send() -> None:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to)

    return send


def trial_reminders_send(*, now: datetime | None = None) -> int:
    """Email the owner 7 days and 1 day before the trial ends (each once) unless a card is on file."""
    now = now or timezone.now()
    sent = 0
    horizon = now + timedelta(days=max(TRIAL_REMINDER_DAYS))
    trials = Tenant.objects.filter(
        status=TenantStatus.TRIAL, trial_ends_at__gt=now, trial_ends_at__lte=horizon
    )
    for tenant in trials.order_by("id"):
        assert tenant.trial_ends_at is not None
        left = tenant.trial_ends_at - now
        due = [d for d in TRIAL_REMINDER_DAYS if left <= timedelta(days=d)]
        with transaction.atomic():
            account = BillingAccount.objects.select_for_update().get(pk=account_get(tenant=tenant).pk)
            if account.has_subscription or not due or min(due) in account.trial_reminders_sent:
                continue
            # One email even when both thresholds passed at once (e.g. the task was down for a week).
            account.trial_reminders_sent = sorted({*account.trial_reminders_sent, *due})
            account.save(update_fields=["trial_reminders_sent", "updated_at"])
            days = max(1, left.days + (1 if left.seconds else 0))
            body = render_to_string(
                "billing/trial_reminder_email.txt",
                {
                    "tenant": tenant,
                    "days": days,
                    "ends": tenant.trial_ends_at,
                    "url": tenant_url(tenant, "/billing/"),
                },
            )
            subject = _("Your free trial ends in %(days)s days") % {"days": days}
            transaction.on_commit(_mailer(subject, body, [tenant.owner_email]))
            sent += 1
    return sent


def dunning_run(*, now: datetime | None = None) -> int:
    """Daily: trial reminders, end finished trials, then refresh every live tenant's standing. Returns
    tenants checked."""
    now = now or timezone.now()
    trial_reminders_send(now=now)
    for tenant in Tenant.objects.filter(status=TenantStatus.TRIAL, trial_ends_at__lte=now).order_by("id"):
        tenant_set_status(tenant=tenant, status=TenantStatus.ACTIVE, by="billing", reason="trial ended")
    count = 0
    for tenant in Tenant.objects.filter(status__in=LIVE_STATUSES).order_by("id"):
        standing_refresh(tenant=tenant, now=now)
        count += 1
    return count


# --- estimates ------------------------------------------------------------------------------------


def module_change_preview(
    *, tenant: Tenant, module: str, enable: bool, now: datetime | None = None
) -> dict[str, Any]:
    """What turning `module` on (or off) now changes: this month (prorated by days, negative when it
    saves money) and the monthly total from next month. Nothing is written."""
    if module not in registry or not registry.get(module).sellable:
        raise ServiceError(
            _("This module cannot be switched on or off."), code="not_toggleable", field="module"
        )
    if enable and not registry.get(module).available:
        raise ServiceError(
            _("%(name)s is coming soon: it cannot be turned on yet.") % {"name": registry.get(module).name},
            code="unavailable",
            field="module",
        )
    now = now or timezone.now()
    tz = tenant_tz(tenant)
    first, last = month_bounds(now.astimezone(tz).date())
    dim = (last - first).days + 1
    spans = [Span(s.started_at, s.ended_at) for s in LedgerSpan.objects.filter(tenant=tenant, module=module)]
    after = list(spans)
    row = TenantModule.objects.filter(tenant=tenant, module=module).first()
    comp = bool(row and row.comp)
    if not comp:
        if enable and not any(s.end is None for s in spans):
            after.append(Span(now, None))
        elif not enable:
            after = [Span(s.start, now if s.end is None else s.end) for s in spans]
    monthly, currency = price_for(module, first)
    not_before = tenant.trial_ends_at

    def cost(items: list[Span]) -> Decimal:
        if not charged(module):
            return Decimal("0.00")  # coming soon: not billed, so turning it off saves nothing
        days = billed_days(items, first=first, last=last, tz=tz, not_before=not_before)
        return line_amount(monthly_amount=monthly, days=days, days_in_month=dim)

    chosen = set(billable_modules(tenant))
    if not comp:
        chosen = chosen | {module} if enable else chosen - {module}
    following = next_month(first)
    next_total = sum((price_for(m, following)[0] for m in chosen), Decimal("0"))
    # The tenant's discount (if any) takes its percent off the change and off next month's total.
    delta = cost(after) - cost(spans)
    delta -= discount_amount(subtotal=delta, percent=discount_percent_for(tenant, first))
    next_total -= discount_amount(subtotal=next_total, percent=discount_percent_for(tenant, following))
    return {
        "module": module,
        "enable": enable,
        "currency": currency,
        "this_month": delta,
        "monthly_from_next_month": next_total,
        "next_month_starts": following,
    }


def estimate_current(*, tenant: Tenant, now: datetime | None = None) -> dict[str, Any]:
    """This month's invoice if nothing changes until its end (ledger view)."""
    now = now or timezone.now()
    first, last = month_bounds(now.astimezone(tenant_tz(tenant)).date())
    owed = period_total(tenant, first, billable_from=tenant.trial_ends_at)
    lines: list[Line] = owed.lines
    return {
        "period_start": first,
        "period_end": last,
        "lines": [
            {
                "name": registry.get(ln.module).name,
                "days": ln.days,
                "amount": ln.amount,
                "currency": ln.currency,
                "module": ln.module,
            }
            for ln in lines
        ],
        "subtotal": owed.subtotal,
        "discount_percent": owed.discount_percent,
        "discount_percent_text": _pct(owed.discount_percent),
        "discount": owed.discount,
        "total": owed.total,
        "currency": owed.currency,
        "not_charged": [registry.name_of(m) for m in not_charged_modules(tenant)],
    }


def stripe_upcoming(*, tenant: Tenant) -> dict[str, Any] | None:
    """Stripe's own preview of the next invoice, or None (offline, no subscription, Stripe unreachable):
    the page then shows the ledger estimate alone."""
    account = account_get(tenant=tenant)
    if not gateway.enabled() or not account.has_subscription:
        return None
    try:
        total, currency = gateway.upcoming_total(
            customer=account.stripe_customer_id, subscription_id=account.stripe_subscription_id
        )
    except gateway.GatewayError:
        return None
    return {"total": total, "currency": currency}


# --- module events -------------------------------------------------------------------------------------


def on_module_event(event: Any) -> None:
    """Subscriber for module.enabled/disabled/comp_on/comp_off: rebuild the ledger, then (Stripe mode)
    bring the subscription items in line in a task queued on commit."""
    tenant = event.tenant
    if tenant is None:
        return
    ledger_sync(tenant=tenant, module=event.payload["module"])
    if gateway.enabled() and account_get(tenant=tenant).has_subscription:
        from crm.billing.tasks import sync_subscription_items
        from crm.kernel.dispatch import enqueue

        enqueue(sync_subscription_items.name, args=[tenant.pk])


# --- Stripe -----------------------------------------------------------------------------------------


def _require_stripe() -> None:
    if not gateway.enabled():
        raise ServiceError(_("Online payment is not configured; invoices are sent manually."), code="offline")


def stripe_price_id(*, price: Price) -> str:
    if not price.stripe_price_id:
        price.stripe_price_id = gateway.price_create(
            module=price.module,
            name=str(registry.get(price.module).name),
            monthly_amount=price.monthly_amount,
            currency=price.currency,
        )
        price.save(update_fields=["stripe_price_id", "updated_at"])
    return price.stripe_price_id


def _current_price(module: str) -> Price:
    today = timezone.localdate()
    row = Price.objects.filter(module=module, valid_from__lte=today).order_by("-valid_from").first()
    if row is None:
        manifest = registry.get(module)
        row, _created = Price.objects.get_or_create(
            module=module,
            valid_from=date(2000, 1, 1),
            defaults={"monthly_amount": manifest.monthly_price, "currency": manifest.currency},
        )
    return row


def customer_ensure(*, tenant: Tenant) -> BillingAccount:
    account = account_get(tenant=tenant)
    if not account.stripe_customer_id:
        account.stripe_customer_id = gateway.customer_create(
            name=tenant.name, email=tenant.owner_email, tenant_id=tenant.pk, schema=tenant.schema_name
        )
        account.save(update_fields=["stripe_customer_id", "updated_at"])
    return account


def _checkout_anchor_config(tenant: Tenant, now: datetime) -> dict[str, int]:
    """Stripe's monthly anchor for 00:00 on the 1st, tenant time (see `ledger.anchor_config`)."""
    return anchor_config(tenant_tz(tenant), now.astimezone(tenant_tz(tenant)).year)


def _stripe_discount_apply_checkout(*, discount: TenantDiscount, tenant: Tenant, today: date) -> str:
    """The coupon for a discount set before the tenant subscribed (made once, kept on the discount)."""
    if discount.ends_on is not None and discount.ends_on < today:
        return ""
    if not discount.stripe_coupon_id:
        discount.stripe_coupon_id = gateway.coupon_create(
            percent_off=discount.percent,
            name=f"{tenant.slug or tenant.pk} {_pct(discount.percent)}%",
            tenant_id=tenant.pk,
            duration_in_months=_months_through(today, discount.ends_on) if discount.ends_on else None,
        )
        discount.save(update_fields=["stripe_coupon_id", "updated_at"])
    return discount.stripe_coupon_id


def checkout_start(
    *, actor: Any, tenant: Tenant, success_url: str, cancel_url: str, now: datetime | None = None
) -> str:
    """Owner: a Stripe Checkout session (subscription mode, one line per billable module), anchored on the
    1st of the month (a monthly anchor config, not a timestamp) so Stripe's periods are our calendar
    months; the stub before the first anchor is free in Stripe and billed by the ledger's pending items.
    Returns its URL. The tenant becomes active on checkout.session.completed, never on the browser's
    return."""
    now = now or timezone.now()
    check_perm(actor, "billing.manage")
    _require_stripe()
    modules = billable_modules(tenant)
    if not modules:
        raise ServiceError(_("Turn on at least one paid module first."), code="nothing_to_buy")
    if account_get(tenant=tenant).has_subscription:
        raise ServiceError(_("This workspace already has a subscription."), code="subscribed")
    try:
        account = customer_ensure(tenant=tenant)
        prices = [stripe_price_id(price=_current_price(m)) for m in modules]
        discount = discount_upcoming(tenant, timezone.localdate())
        coupon = ""
        if discount is not None and discount.percent > 0:
            # A discount given before the card was added starts with the subscription.
            today = timezone.localdate()
            coupon = _stripe_discount_apply_checkout(discount=discount, tenant=tenant, today=today)
        # No trial in Stripe: trial days are the ledger's business (the stub items, see stub_items_create).
        session = gateway.checkout_session_create(
            customer=account.stripe_customer_id,
            price_ids=prices,
            success_url=success_url,
            cancel_url=cancel_url,
            tenant_id=tenant.pk,
            anchor_config=_checkout_anchor_config(tenant, now),
            coupon=coupon,
        )
    except gateway.GatewayError:
        log.exception("checkout for tenant %s failed", tenant.pk)
        raise ServiceError(
            _("The payment service is not reachable. Please try again later."), code="gateway"
        ) from None
    return str(session["url"])


def portal_start(*, actor: Any, tenant: Tenant, return_url: str) -> str:
    check_perm(actor, "billing.manage")
    _require_stripe()
    account = account_get(tenant=tenant)
    if not account.stripe_customer_id:
        raise ServiceError(_("Add a card first."), code="no_customer")
    try:
        return gateway.portal_session_create(customer=account.stripe_customer_id, return_url=return_url)
    except gateway.GatewayError:
        raise ServiceError(
            _("The payment service is not reachable. Please try again later."), code="gateway"
        ) from None


def _current_period(subscription: dict[str, Any] | None) -> tuple[datetime, datetime] | None:
    """The subscription's current period (on its items since API 2025-03-31; on the subscription before)."""
    if not subscription:
        return None
    items = (subscription.get("items") or {}).get("data") or []
    source = items[0] if items else subscription
    start, end = source.get("current_period_start"), source.get("current_period_end")
    if not start or not end:
        return None
    return datetime.fromtimestamp(int(start), UTC), datetime.fromtimestamp(int(end), UTC)


def proration_date(
    *, tenant: Tenant, module: str, adding: bool, now: datetime, period: tuple[datetime, datetime] | None
) -> datetime:
    """When Stripe should consider the item added or removed, so that its prorated lines are exactly the
    ledger's days (both bill a local day whole if the module was billable at any moment of it):

    - added: 00:00 of the day the module became billable (charged from then), but not before the end of
      what was already billed for it (off and on again the same day: that day is billed once);
    - removed: 00:00 after the last billable day (that day stays billed; the credit starts the next day).

    Taken from the ledger, not from the clock, so a sync retried hours later still prorates from the day
    of the change. Kept inside Stripe's current period (a change from before it is in the advance charge).
    """
    tz = tenant_tz(tenant)
    spans = [
        Span(row.started_at, row.ended_at)
        for row in LedgerSpan.objects.filter(tenant=tenant, module=module).order_by("started_at")
    ]
    not_before = tenant.trial_ends_at
    if adding:
        open_spans = [s for s in spans if s.end is None]
        began = open_spans[-1].start if open_spans else now
        if not_before is not None and began < not_before:
            began = not_before  # trial time is free; the day the trial ends is billed
        at = local_midnight(began, tz)
        billed = billable_mask([s for s in spans if s.end is not None], tz, not_before=not_before)
        ends = [hi for _lo, hi in billed if hi is not None]
        if ends and max(ends) > at:
            at = max(ends)
    else:
        closed = [s.end for s in spans if s.end is not None]
        at = next_local_midnight((max(closed) if closed else now) - timedelta(microseconds=1), tz)
    if period is not None:
        at = min(max(at, period[0]), period[1])
    return at


def subscription_items_sync(*, tenant: Tenant, now: datetime | None = None) -> None:
    """Make the Stripe subscription's items match the billable modules (adds/removes with proration from
    the day boundaries of the ledger, see `proration_date`). Diff-based, so running it twice changes
    nothing the second time."""
    now = now or timezone.now()
    account = account_get(tenant=tenant)
    if not gateway.enabled() or not account.has_subscription:
        return
    wanted = set(billable_modules(tenant))
    have = {item.module: item for item in account.items.all()}
    if wanted == set(have):
        return
    period = _current_period(gateway.subscription_retrieve(account.stripe_subscription_id))
    for module in sorted(wanted - set(have)):
        price_id = stripe_price_id(price=_current_price(module))
        at = proration_date(tenant=tenant, module=module, adding=True, now=now, period=period)
        item_id = gateway.subscription_item_add(
            subscription_id=account.stripe_subscription_id,
            price_id=price_id,
            module=module,
            proration_date=int(at.timestamp()),
        )
        SubscriptionItem.objects.update_or_create(
            account=account, module=module, defaults={"stripe_item_id": item_id, "stripe_price_id": price_id}
        )
    for module in sorted(set(have) - wanted):
        at = proration_date(tenant=tenant, module=module, adding=False, now=now, period=period)
        gateway.subscription_item_remove(have[module].stripe_item_id, proration_date=int(at.timestamp()))
        have[module].delete()


def subscriptions_sync_unavailable() -> int:
    """Remove the Stripe items of modules that are not available (coming soon) from every subscription
    that still has one (a subscription made before the module was marked unbuilt), and add those that
    became available. Daily from beat; a diff per tenant, so a repeat changes nothing. Returns tenants
    synced."""
    if not gateway.enabled():
        return 0
    accounts = BillingAccount.objects.exclude(stripe_subscription_id="").select_related("tenant")
    count = 0
    for account in accounts:
        if not account.has_subscription:
            continue
        have = set(account.items.values_list("module", flat=True))
        if have != set(billable_modules(account.tenant)):
            try:
                subscription_items_sync(tenant=account.tenant)
            except gateway.GatewayError:
                log.warning("stripe items sync failed for tenant %s; retried tomorrow", account.tenant_id)
                continue
            count += 1
    return count


_SUB_STATUS = {
    "active": AccountStatus.ACTIVE,
    "trialing": AccountStatus.ACTIVE,
    "past_due": AccountStatus.PAST_DUE,
    "unpaid": AccountStatus.PAST_DUE,
    "canceled": AccountStatus.CANCELED,
    "incomplete_expired": AccountStatus.CANCELED,
}


def subscription_apply(
    *, account: BillingAccount, subscription: dict[str, Any] | None, subscription_id: str
) -> None:
    """Mirror a subscription as Stripe has it now (None: Stripe deleted it)."""
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        if account.stripe_subscription_id and account.stripe_subscription_id != subscription_id:
            current = account.stripe_subscription_status not in ("canceled", "incomplete_expired", "")
            if current:
                return  # an old subscription's news never overrides the live one
        status = "canceled" if subscription is None else str(subscription.get("status", ""))
        account.stripe_subscription_id = subscription_id
        account.stripe_subscription_status = status
        account.cancel_at_period_end = bool(subscription and subscription.get("cancel_at_period_end"))
        if status in _SUB_STATUS and status not in ("past_due", "unpaid"):
            # past_due comes from our own invoices (standing_refresh), not from the subscription status
            account.status = _SUB_STATUS[status]
        account.save()
        if subscription is not None and status not in ("canceled", "incomplete_expired"):
            items = subscription.get("items", {}).get("data", [])
            seen = []
            for item in items:
                module = (item.get("metadata") or {}).get("module") or _module_for_price(item.get("price"))
                if not module:
                    continue
                seen.append(item["id"])
                SubscriptionItem.objects.update_or_create(
                    account=account,
                    module=module,
                    defaults={
                        "stripe_item_id": item["id"],
                        "stripe_price_id": (item.get("price") or {}).get("id", ""),
                    },
                )
            account.items.exclude(stripe_item_id__in=seen).delete()
            tenant = account.tenant
            if status in ("active", "trialing") and tenant.status == TenantStatus.TRIAL:
                tenant_set_status(
                    tenant=tenant,
                    status=TenantStatus.ACTIVE,
                    by="stripe",
                    reason="subscription",
                    # The Stripe subscription started now, whatever an earlier activation said.
                    fields={"activated_at": timezone.now()},
                )
        else:
            account.items.all().delete()
    standing_refresh(tenant=account.tenant)


def stub_items_create(*, account: BillingAccount, subscription: dict[str, Any]) -> StubCharge | None:
    """On checkout.session.completed: the ledger's stub charges and trial credits (`ledger.stub_lines`) as
    Stripe pending invoice items, pulled into the first anchored invoice. Once per subscription: the
    StubCharge row says they exist (replayed or reordered webhooks create nothing). Stripe is called while
    the account row is locked and the row is written only after every item, so a failure part-way is
    retried whole and the idempotency keys (subscription + module + period) return the items made."""
    sub_id = str(subscription["id"])
    start_ts, anchor_ts = subscription.get("start_date"), subscription.get("billing_cycle_anchor")
    if not start_ts or not anchor_ts or int(anchor_ts) <= int(start_ts):
        return None
    tenant = account.tenant
    tz = tenant_tz(tenant)
    start = datetime.fromtimestamp(int(start_ts), UTC)
    anchor = _anchor_day_start(datetime.fromtimestamp(int(anchor_ts), UTC), tz)
    with transaction.atomic():
        account = BillingAccount.objects.select_for_update().get(pk=account.pk)
        existing = StubCharge.objects.filter(stripe_subscription_id=sub_id).first()
        if existing is not None:
            return existing
        modules = set(LedgerSpan.objects.filter(tenant=tenant).values_list("module", flat=True))
        made = []
        for line in stub_lines(tenant, start=start, anchor=anchor, modules=modules):
            lo, hi = int(line.start.timestamp()), int(line.end.timestamp())
            first_day, last_day = line.start.astimezone(tz).date(), _inclusive_end(line.start, line.end, tz)
            words = (
                _("%(module)s, %(start)s to %(end)s")
                if line.amount > 0
                else _("%(module)s, trial days %(start)s to %(end)s")
            )
            item_id = gateway.invoice_item_create(
                customer=account.stripe_customer_id,
                subscription=sub_id,
                amount=line.amount,
                currency=line.currency,
                description=words
                % {"module": registry.get(line.module).name, "start": first_day, "end": last_day},
                period_start=lo,
                period_end=hi,
                module=line.module,
                idempotency_key=f"stub-{sub_id}-{line.module}-{lo}-{hi}",
            )
            made.append(
                {
                    "module": line.module,
                    "start": lo,
                    "end": hi,
                    "amount": str(line.amount),
                    "invoice_item": item_id,
                }
            )
        return StubCharge.objects.create(
            account=account, stripe_subscription_id=sub_id, started_at=start, first_anchor=anchor, items=made
        )


def _anchor_day_start(at: datetime, tz: Any) -> datetime:
    """A Stripe period boundary as the ledger reads it. In a zone with daylight saving time the anchor is
    00:00 on the 1st in standard time and 01:00 on the 1st in summer (see `ledger.anchor_config`): same
    local day, so it is that day's 00:00 for whole-day reconciliation. Any other instant is itself."""
    local = at.astimezone(tz)
    if local.day == 1 and local.hour == 1 and local.minute == local.second == 0:
        return local_midnight(at, tz)
    return at


def _invoice_subscription(invoice: dict[str, Any]) -> str:
    # Since API 2025-03-31 the subscription sits on the invoice's parent; before, on the invoice itself.
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    sub = details.get("subscription") or invoice.get("subscription") or ""
    return str(sub.get("id", "") if isinstance(sub, dict) else sub)


def _module_for_price(price: Any) -> str:
    price_id = price.get("id") if isinstance(price, dict) else price
    row = Price.objects.filter(stripe_price_id=price_id).first() if price_id else None
    return row.module if row else ""


_INVOICE_STATUS = {s.value for s in InvoiceStatus}


def _line_proration(line: dict[str, Any]) -> bool:
    # Since API 2025-03-31 the flag sits on the line's parent; before, on the line itself.
    parent = line.get("parent") or {}
    for key in ("subscription_item_details", "invoice_item_details"):
        details = parent.get(key) or {}
        if parent.get("type") in (key, None) and "proration" in details:
            return bool(details["proration"])
    return bool(line.get("proration"))


def _line_price_id(line: dict[str, Any]) -> str:
    details = (line.get("pricing") or {}).get("price_details") or {}
    price = details.get("price") or line.get("price") or line.get("plan") or ""
    return str(price.get("id", "") if isinstance(price, dict) else price)


def _stripe_lines(invoice: dict[str, Any], tz: Any) -> list[dict[str, Any]]:
    """The invoice's lines as plain values: module, period (aware datetimes), amount, proration."""
    raw = list((invoice.get("lines") or {}).get("data") or [])
    price_ids = {_line_price_id(li) for li in raw} - {""}
    module_of_price = dict(
        Price.objects.filter(stripe_price_id__in=price_ids).values_list("stripe_price_id", "module")
    )
    out = []
    for li in raw:
        module = (li.get("metadata") or {}).get("module") or module_of_price.get(_line_price_id(li), "")
        period = li.get("period") or {}
        start = datetime.fromtimestamp(int(period.get("start") or invoice.get("period_start") or 0), tz)
        end = datetime.fromtimestamp(int(period.get("end") or period.get("start") or 0), tz)
        out.append(
            {
                "id": str(li["id"]),
                "module": str(module),
                "start": start,
                "end": max(start, end),
                "amount": gateway.from_minor(li.get("amount")),
                "currency": str(li.get("currency") or invoice.get("currency") or "cny").upper(),
                "proration": _line_proration(li),
                "description": str(li.get("description") or "")[:200],
            }
        )
    return out


def _match_expected(lines: list[dict[str, Any]], expected: list[ExpectedLine]) -> dict[str, Decimal]:
    """Pair each Stripe line with the ledger's line for the same module, start and direction (charge or
    credit); a Stripe line with no partner is expected to be 0."""
    pool = list(expected)
    matched: dict[str, Decimal] = {}
    for exact in (True, False):
        for line in lines:
            if line["id"] in matched:
                continue
            for cand in pool:
                same = cand.module == line["module"] and (cand.amount < 0) == (line["amount"] < 0)
                if same and (not exact or int(cand.start.timestamp()) == int(line["start"].timestamp())):
                    matched[line["id"]] = cand.amount
                    pool.remove(cand)
                    break
    # A module turned off and on again within a day: Stripe credits and re-charges from the same instant,
    # the ledger sees no change. The pair nets to 0 as expected, so each line is right as it stands.
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for line in lines:
        if line["id"] not in matched:
            groups.setdefault((line["module"], int(line["start"].timestamp())), []).append(line)
    for group in groups.values():
        if len(group) > 1 and sum(ln["amount"] for ln in group) == 0:
            matched.update({ln["id"]: ln["amount"] for ln in group})
    return {line["id"]: matched.get(line["id"], Decimal("0.00")) for line in lines}


def _inclusive_end(start: datetime, end: datetime, tz: Any) -> date:
    last = (end - timedelta(seconds=1)) if end > start else start
    return last.astimezone(tz).date()


def month_checks_refresh(*, tenant: Tenant, months: set[date], closed_by: datetime) -> None:
    """Recompute the Stripe-vs-ledger check of each of `months` that is over at `closed_by`. The month the
    subscription started in is checked like any other: its days before the checkout are in the stub items
    (`stub_items_create`), so Stripe billed all of it."""
    tz = tenant_tz(tenant)
    stripe_lines = InvoiceLine.objects.filter(invoice__tenant=tenant, invoice__manual=False).exclude(
        stripe_line_id=""
    )
    stripe_lines = stripe_lines.exclude(invoice__status=InvoiceStatus.VOID)
    for month in sorted(months):
        first, last = month_bounds(month)
        if datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz) > closed_by:
            continue
        rows = list(stripe_lines.filter(period_start__gte=first, period_start__lte=last).values("amount"))
        owed = period_total(tenant, first, billable_from=tenant.trial_ends_at)
        stripe_amount = sum((r["amount"] for r in rows), Decimal("0"))
        # Half a cent of rounding per Stripe line and per ledger line, at least one cent.
        tolerance = max(CENT, (CENT * (len(rows) + len(owed.lines)) / 2).quantize(CENT))
        MonthCheck.objects.update_or_create(
            tenant=tenant,
            month=first,
            defaults={
                "stripe_amount": stripe_amount,
                "ledger_amount": owed.subtotal,
                "tolerance": tolerance,
                "currency": owed.currency,
            },
        )


def invoice_apply(
    *, account: BillingAccount, invoice: dict[str, Any], now: datetime | None = None
) -> Invoice:
    """Mirror a Stripe invoice as fetched now (with all its lines); store, per line, what our ledger says
    it should be, and the invoice's expected total; refresh the month checks and the standing.

    Reconciled per line period, not per invoice month: an invoice made on the 1st carries the advance
    charge for the month starting then and the proration lines for the month before (see
    `ledger.invoice_expectation`). Idempotent: lines are keyed by Stripe's line id."""
    now = now or timezone.now()
    tenant = account.tenant
    tz = tenant_tz(tenant)
    status = str(invoice.get("status") or "draft")
    status = status if status in _INVOICE_STATUS else InvoiceStatus.DRAFT
    # For a subscription invoice Stripe's period looks back: [previous invoice, this invoice).
    previous_cut = datetime.fromtimestamp(int(invoice.get("period_start") or now.timestamp()), tz)
    cut = datetime.fromtimestamp(int(invoice.get("period_end") or now.timestamp()), tz)
    previous_cut, cut = _anchor_day_start(previous_cut, tz), _anchor_day_start(cut, tz)
    start, end = previous_cut.date(), cut.date()
    lines = _stripe_lines(invoice, tz)
    modules = {ln["module"] for ln in lines if ln["module"]} | set(
        LedgerSpan.objects.filter(tenant=tenant).values_list("module", flat=True)
    )
    # The checkout invoice bills nothing (the stub is free in Stripe); the first anchored one carries the
    # stub items, which the ledger recomputes from the history known at the subscription's start.
    opening = invoice.get("billing_reason") == "subscription_create"
    stub_row = StubCharge.objects.filter(stripe_subscription_id=_invoice_subscription(invoice)).first()
    stub = (
        stub_lines(tenant, start=stub_row.started_at, anchor=stub_row.first_anchor, modules=modules)
        if stub_row is not None and not opening and cut == stub_row.first_anchor
        else []
    )
    expected = invoice_expectation(
        tenant, cut=cut, previous_cut=min(previous_cut, cut), modules=modules, opening=opening, stub=stub
    )
    per_line = _match_expected(lines, expected)
    subtotal = sum((e.amount for e in expected), Decimal("0"))
    percent = discount_percent_for(tenant, cut.date()) if expected else Decimal("0")
    ledger_total = subtotal - discount_amount(subtotal=subtotal, percent=percent)
    with transaction.atomic():
        row = Invoice.objects.select_for_update().filter(stripe_invoice_id=invoice["id"]).first()
        row = row or Invoice(tenant=tenant, stripe_invoice_id=invoice["id"], manual=False)
        if row.tenant_id != tenant.pk:
            raise ServiceError("invoice belongs to another tenant", code="tenant_mismatch")
        row.number = str(invoice.get("number") or invoice["id"])
        row.period_start, row.period_end = start, max(end, start)
        row.total = gateway.from_minor(invoice.get("total", invoice.get("amount_due")))
        row.ledger_total = ledger_total
        row.currency = str(invoice.get("currency") or "cny").upper()
        row.status = status
        row.pdf_url = invoice.get("invoice_pdf") or ""
        row.hosted_url = invoice.get("hosted_invoice_url") or ""
        if status == InvoiceStatus.PAID:
            row.paid_at = row.paid_at or now
        elif status == InvoiceStatus.OPEN and invoice.get("attempted"):
            # A failed automatic charge: overdue from the first failure on (grace period counts from here).
            row.due_at = row.due_at or now
        row.save()
        for ln in lines:
            name = registry.name_of(ln["module"])
            first_day = ln["start"].astimezone(tz).date()
            last_day = _inclusive_end(ln["start"], ln["end"], tz)
            monthly = price_for(ln["module"], first_day.replace(day=1))[0] if ln["module"] in registry else 0
            InvoiceLine.objects.update_or_create(
                invoice=row,
                stripe_line_id=ln["id"],
                defaults={
                    "module": ln["module"],
                    "description": ln["description"] or str(name),
                    "days": (last_day - first_day).days + 1 if ln["end"] > ln["start"] else 0,
                    "monthly_amount": monthly,
                    "amount": ln["amount"],
                    "currency": ln["currency"],
                    "period_start": first_day,
                    "period_end": last_day,
                    "proration": ln["proration"],
                    "expected_amount": per_line[ln["id"]],
                },
            )
        row.lines.exclude(stripe_line_id__in=[ln["id"] for ln in lines]).delete()
        months = {ln["start"].astimezone(tz).date().replace(day=1) for ln in lines}
        if not opening:
            # The month this invoice closes, even when nothing in it changed (no line of it on here).
            months.add((cut - timedelta(seconds=1)).astimezone(tz).date().replace(day=1))
        month_checks_refresh(tenant=tenant, months=months, closed_by=cut)
    standing_refresh(tenant=tenant, now=now)
    return row


def subscription_cancel(*, actor: Any, tenant: Tenant) -> None:
    """Owner: end the subscription at the end of the paid period; data is kept."""
    check_perm(actor, "billing.manage")
    _require_stripe()
    account = account_get(tenant=tenant)
    if not account.has_subscription:
        raise ServiceError(_("There is no subscription to cancel."), code="no_subscription")
    try:
        sub = gateway.subscription_cancel_at_period_end(account.stripe_subscription_id)
    except gateway.GatewayError:
        raise ServiceError(
            _("The payment service is not reachable. Please try again later."), code="gateway"
        ) from None
    subscription_apply(account=account, subscription=sub, subscription_id=account.stripe_subscription_id)


# --- discounts -----------------------------------------------------------------------------------------


def _months_through(today: date, ends_on: date) -> int:
    """Billing months from this month through the month of `ends_on`, both included."""
    return (ends_on.year - today.year) * 12 + ends_on.month - today.month + 1


def _stripe_discount_apply(*, tenant: Tenant, percent: Decimal, ends_on: date | None, today: date) -> str:
    """Stripe mode with a live subscription: a coupon for the percent on the subscription (or none).
    Returns the coupon id ('' when cleared or when Stripe does not bill this tenant)."""
    account = account_get(tenant=tenant)
    if not gateway.enabled() or not account.has_subscription:
        return ""
    try:
        coupon = ""
        if percent > 0:
            coupon = gateway.coupon_create(
                percent_off=percent,
                name=f"{tenant.slug or tenant.pk} {_pct(percent)}%",
                tenant_id=tenant.pk,
                duration_in_months=_months_through(today, ends_on) if ends_on else None,
            )
        gateway.subscription_discount_set(account.stripe_subscription_id, coupon)
    except gateway.GatewayError:
        log.exception("discount for tenant %s not applied in Stripe", tenant.pk)
        raise ServiceError(
            _("The payment service is not reachable. Please try again later."), code="gateway"
        ) from None
    return coupon


def discount_set(
    *,
    actor: Any,
    tenant: Tenant,
    percent: Decimal,
    reason: str,
    starts_on: date | None = None,
    ends_on: date | None = None,
    today: date | None = None,
) -> TenantDiscount:
    """Operator: a new entry in the tenant's discount history, a percent off its invoices from `starts_on`
    on (0 ends the discount).

    Like a price change, a discount change affects new periods only: it starts on the first day of next
    month unless the operator picks another first day of a month (this month at the earliest, and never a
    month already invoiced). Every row in force on or after that day is cut to end the day before, so the
    latest change wins from its start on; rows are never deleted. Audited; in Stripe mode also a coupon on
    the subscription, put on at once (Stripe first: if it refuses, nothing here changes). Returns the new
    row.
    """
    from crm.platform.models import OperatorAudit

    check_operator(actor)
    today = today or timezone.localdate()
    this_month = today.replace(day=1)
    starts_on = starts_on or next_month(this_month)
    reason = (reason or "").strip()
    errors: dict[str, list[str]] = {}
    if (
        percent is None
        or not percent.is_finite()
        or percent < 0
        or percent > 100
        or percent.as_tuple().exponent < -2  # type: ignore[operator]
    ):
        errors["percent"] = [_("Enter a percentage from 0 to 100 with at most two decimals.")]
    if len(reason) < 3:
        errors["reason"] = [_("Give the reason for the discount (at least 3 characters).")]
    if starts_on.day != 1 or starts_on < this_month:
        # Whole periods only, as for prices: a discount never changes part of a month.
        errors["starts_on"] = [_("A discount starts on the first day of a month, this month or later.")]
    elif Invoice.objects.filter(tenant=tenant, manual=True, period_start__gte=starts_on).exists():
        errors["starts_on"] = [_("That month has already been invoiced; choose a later month.")]
    elif (
        starts_on > next_month(this_month)
        and gateway.enabled()
        and account_get(tenant=tenant).has_subscription
    ):
        # The coupon goes on the subscription now (Stripe has no dated coupons on a plain subscription), so
        # a start further out would let Stripe discount months our ledger does not.
        errors["starts_on"] = [
            _("With a Stripe subscription a discount can start this month or next month only.")
        ]
    if ends_on is not None and ends_on < today:
        errors["ends_on"] = [_("The end date cannot be in the past.")]
    elif ends_on is not None and ends_on < starts_on:
        errors["ends_on"] = [_("The end date cannot be before the start.")]
    if tenant.status not in LIVE_STATUSES:
        errors["__all__"] = [_("Only a live workspace can be given a discount.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    previous = discount_in_force(tenant, starts_on)
    coupon = _stripe_discount_apply(tenant=tenant, percent=percent, ends_on=ends_on, today=today)
    with transaction.atomic():
        # Serialise changes per tenant: two operators saving at once must not both cut the same rows.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        TenantDiscount.objects.filter(tenant=tenant).filter(
            Q(ends_on__isnull=True) | Q(ends_on__gte=starts_on)
        ).update(ends_on=starts_on - timedelta(days=1), updated_at=timezone.now())
        discount = TenantDiscount.objects.create(
            tenant=tenant,
            percent=percent,
            reason=reason[:200],
            valid_from=starts_on,
            ends_on=ends_on,
            set_by=actor.email,
            stripe_coupon_id=coupon,
        )
        OperatorAudit.objects.create(
            operator=actor,
            tenant=tenant,
            action="billing.discount_removed" if percent == 0 else "billing.discount_set",
            detail={
                "percent": _pct(percent),
                "reason": reason,
                "starts_on": starts_on.isoformat(),
                "ends_on": ends_on.isoformat() if ends_on else None,
                "previous": _pct(previous.percent) if previous else None,
                "stripe_coupon": coupon,
            },
        )
    return discount


# --- retention and closing -----------------------------------------------------------------------------


def retention_ends_at(*, suspended_since: datetime) -> datetime:
    return suspended_since + timedelta(days=settings.BILLING_RETENTION_DAYS)


def _export_dir(tenant: Tenant) -> Path:
    return backup.export_dir(tenant)


def tenant_export_write(*, tenant: Tenant, now: datetime | None = None) -> Path:
    """A full, self-describing export of the workspace (crm.tenants.backup: one CSV per table of its
    schema, its files and manifest.json), under MEDIA_ROOT/exports/<schema>/."""
    return backup.workspace_export_write(tenant=tenant, now=now)


def tenant_export_request(*, actor: Any, tenant: Tenant) -> ExportJob:
    """The owner asks for a full export of the workspace (also while it is suspended: the data are theirs).
    Made by a worker as an ExportJob with a heartbeat; a second request while one is queued or running is
    refused rather than doubled (the tenant row is locked for the check)."""
    from crm.kernel.dispatch import enqueue
    from crm.platform.permissions import check_perm

    check_perm(actor, "billing.manage", _("Only the workspace owner can export all its data."))
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        if tenant_export_pending(tenant=tenant) is not None:
            raise ServiceError(
                _("An export is already being prepared; it appears below when it is ready."), code="conflict"
            )
        job = ExportJob.objects.create(tenant=tenant, requested_by=getattr(actor, "email", "") or "")
        enqueue("crm.billing.tasks.workspace_export", args=[job.pk])
    return job


def tenant_export_pending(*, tenant: Tenant) -> ExportJob | None:
    """The owner's export being prepared (queued or running), if any."""
    return ExportJob.objects.filter(tenant=tenant, status__in=("queued", "running")).order_by("-id").first()


def tenant_export_last(*, tenant: Tenant) -> ExportJob | None:
    """The latest export job of the workspace, whatever its outcome (the page shows a failure)."""
    return ExportJob.objects.filter(tenant=tenant).order_by("-id").first()


def tenant_export_run(*, job_id: int) -> Path | None:
    """Worker side of tenant_export_request: claim the job (queued -> running in one UPDATE; a second
    delivery finds nothing to do), write the export with a heartbeat per table, record the file or the
    error. Requeued by the jobs sweeper when a worker dies: the half-written `.part` file of the
    interrupted run is removed and the export written again."""
    now = timezone.now()
    if not ExportJob.objects.filter(pk=job_id, status="queued").update(
        status="running", started_at=now, heartbeat_at=now, phase="", done=0, total=0, error=""
    ):
        return None
    job = ExportJob.objects.select_related("tenant").get(pk=job_id)
    folder = _export_dir(job.tenant)
    for stale in folder.glob("*.part") if folder.is_dir() else []:
        stale.unlink(missing_ok=True)  # one export per workspace at a time: no other run is writing it
    beat = backup.throttled_progress(job)
    tables = [0]

    def progress(phase: str, done: int, total: int) -> None:
        if phase == "tables":
            tables[0] = total
        beat(phase, done, total)

    try:
        path = backup.workspace_export_write(tenant=job.tenant, progress=progress)
    except Exception as exc:
        log.exception("export job %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status="failed",
            finished_at=timezone.now(),
            error=_("The export failed (%(error)s). Ask for it again; details are in the worker's log.")
            % {"error": type(exc).__name__},
        )
        return None
    ExportJob.objects.filter(pk=job.pk).update(
        status="done",
        file=path.name,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        phase="done",
        done=tables[0],
        total=tables[0],
    )
    return path


def tenant_exports(*, tenant: Tenant) -> list[Path]:
    return backup.exports_list(tenant)


def tenant_export_file(*, tenant: Tenant, name: str) -> Path | None:
    """The export called `name` among those listed for this tenant's own folder: no path from a URL ever
    reaches the disk."""
    return backup.export_file(tenant, name)


def tenant_close(*, actor: Any, tenant: Tenant, now: datetime | None = None) -> Path:
    """Operator: close a workspace whose retention period is over. First a full export of its schema
    (kept for operators), then status closed: its host answers 404 and it is never invoiced again (only
    live tenants are; in Stripe mode the subscription ends now). The schema is not dropped. Refused
    before the retention period ends. Returns the export's path."""
    from crm.billing.selectors import suspended_since
    from crm.platform.models import OperatorAudit

    check_operator(actor)
    now = now or timezone.now()
    tenant = Tenant.objects.get(pk=tenant.pk)
    since = suspended_since(tenant=tenant)
    if tenant.status != TenantStatus.SUSPENDED or since is None:
        raise ServiceError(_("Only a cancelled or suspended workspace can be closed."), code="not_suspended")
    ends = retention_ends_at(suspended_since=since)
    if now < ends:
        raise ServiceError(
            _("The data is kept until %(date)s; the workspace can be closed after that.")
            % {"date": ends.astimezone(tenant_tz(tenant)).date().isoformat()},
            code="in_retention",
        )
    export = tenant_export_write(tenant=tenant, now=now)
    account = account_get(tenant=tenant)
    if gateway.enabled() and account.has_subscription:
        try:
            gateway.subscription_cancel_now(account.stripe_subscription_id)
        except gateway.GatewayError:
            raise ServiceError(
                _("The payment service is not reachable. Please try again later."), code="gateway"
            ) from None
    with transaction.atomic():
        tenant_set_status(
            tenant=tenant,
            status=TenantStatus.CLOSED,
            by=f"operator:{actor.email}",
            reason="retention over",
            closing=True,
            payload={"export": export.name},
        )
        OperatorAudit.objects.create(
            operator=actor,
            tenant=tenant,
            action="tenant.close",
            detail={"export": export.name, "suspended_since": since.isoformat()},
        )
    return export
