"""Billing reads. Tenant-side reads are limited to the request's tenant and to users allowed to see billing;
operator reads cover the platform."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils.translation import gettext as _

from crm.billing.ledger import CENT, charged, discount_in_force, price_for
from crm.billing.models import (
    LEDGER_TOLERANCE,
    BillingAccount,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    InvoiceStatus,
    MonthCheck,
    Price,
    TenantDiscount,
    WebhookEvent,
)
from crm.platform.errors import NotFound
from crm.platform.permissions import check_operator, check_perm
from crm.platform.registry import registry
from crm.tenants.models import ExportJob, Tenant, TenantModule, TenantStatus

MISMATCH_TOLERANCE = LEDGER_TOLERANCE


def invoices_for(*, user: Any, tenant: Tenant) -> QuerySet[Invoice]:
    check_perm(user, "billing.view")
    return Invoice.objects.filter(tenant=tenant).prefetch_related("lines")


def manual_invoice_for(*, user: Any, tenant: Tenant, invoice_id: int) -> Invoice:
    """One of the tenant's own manual invoices (with its lines) for someone allowed to see billing. Another
    tenant's invoice, a Stripe invoice (its PDF is Stripe's) or no invoice: NotFound, never a hint which."""
    check_perm(user, "billing.view")
    return _manual_invoice(pk=invoice_id, tenant=tenant)


def _manual_invoice(**filters: Any) -> Invoice:
    invoice = (
        Invoice.objects.filter(manual=True, **filters)
        .select_related("tenant")
        .prefetch_related("lines")
        .first()
    )
    if invoice is None:
        raise NotFound(_("No such invoice."))
    return invoice


def manual_invoice_for_operator(*, user: Any, invoice_id: int) -> Invoice:
    """Operator: any tenant's manual invoice (with its lines)."""
    check_operator(user)
    return _manual_invoice(pk=invoice_id)


def current_modules(*, tenant: Tenant, today: Any) -> list[dict[str, Any]]:
    """The tenant's sellable modules that are on, with this month's price and whether they are comped or
    coming soon (on, but not charged until the module is available)."""
    rows = TenantModule.objects.filter(Q(enabled=True) | Q(comp=True), tenant=tenant)
    first = today.replace(day=1)
    prices = list(Price.objects.filter(valid_from__lte=first))
    out = []
    for row in rows.order_by("module"):
        if row.module not in registry or not registry.get(row.module).sellable:
            continue
        amount, currency = price_for(row.module, first, prices)
        coming_soon = not charged(row.module)
        out.append(
            {
                "module": row.module,
                "name": registry.get(row.module).name,
                "comp": row.comp,
                "coming_soon": coming_soon,
                "monthly_amount": Decimal("0") if row.comp or coming_soon else amount,
                "currency": currency,
            }
        )
    return out


def console_overview(*, user: Any) -> dict[str, Any]:
    """Operator: MRR (sum of monthly prices of billable modules of active/past-due tenants), tenants by
    status, failed payments, Stripe invoices that differ from the ledger by more than a cent."""
    check_operator(user)
    by_status = dict(
        Tenant.objects.exclude(status__in=[TenantStatus.TEMPLATE, TenantStatus.POOL, TenantStatus.PLATFORM])
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    paying = TenantModule.objects.filter(
        enabled=True, comp=False, tenant__status__in=[TenantStatus.ACTIVE, TenantStatus.PAST_DUE]
    )
    prices = list(Price.objects.all())
    from django.utils import timezone

    first = timezone.localdate().replace(day=1)
    mrr: dict[str, Decimal] = {}
    for module in paying.values_list("module", flat=True):
        if charged(module):
            amount, currency = price_for(module, first, prices)
            mrr[currency] = mrr.get(currency, Decimal("0")) + amount
    overdue = Invoice.objects.filter(status=InvoiceStatus.OPEN, due_at__isnull=False).select_related("tenant")
    # Lines prefetched (one query) so each flagged invoice shows Stripe against the ledger per line.
    mismatches = [
        inv
        for inv in Invoice.objects.filter(manual=False, ledger_total__isnull=False)
        .select_related("tenant")
        .prefetch_related("lines")
        if abs(inv.total - (inv.ledger_total or Decimal("0"))) > MISMATCH_TOLERANCE
    ]
    months = MonthCheck.objects.select_related("tenant").order_by("-month", "tenant_id")
    month_mismatches = [row for row in months if row.mismatch]
    open_manual = Invoice.objects.filter(manual=True, status=InvoiceStatus.OPEN).select_related("tenant")
    failed_events = WebhookEvent.objects.filter(processed_at__isnull=True).exclude(error="")
    return {
        "mrr": sorted(mrr.items()),
        # (code, translated label, count): the console shows labels, tests and styles key on the code.
        "by_status": [(code, TenantStatus(code).label, n) for code, n in sorted(by_status.items())],
        "overdue": list(overdue[:100]),
        "mismatches": mismatches[:100],
        "month_mismatches": month_mismatches[:100],
        "open_manual": list(open_manual[:200]),
        "failed_events": list(failed_events[:50]),
        "accounts_past_due": BillingAccount.objects.filter(status="past_due").count(),
    }


def invoice_runs_for_operator(*, user: Any, limit: int = 12) -> list[InvoiceRun]:
    """Operator: the latest monthly invoice runs (status, progress, tries, error), newest period first."""
    check_operator(user)
    return list(InvoiceRun.objects.order_by("-period_start", "-id")[:limit])


def export_jobs_for_operator(*, user: Any, tenant: Tenant, limit: int = 20) -> list[ExportJob]:
    """Operator: a workspace's full-export jobs, newest first: status, progress, tries and error only
    (the console never shows the data itself; the finished files are listed beside them)."""
    check_operator(user)
    return list(
        ExportJob.objects.filter(tenant=tenant)
        .only(
            "id",
            "tenant_id",
            "status",
            "phase",
            "done",
            "total",
            "attempts",
            "recovery",
            "error",
            "requested_by",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "file",
        )
        .order_by("-id")[:limit]
    )


def tenant_invoices_for_operator(*, user: Any, tenant_id: int) -> QuerySet[Invoice]:
    check_operator(user)
    return Invoice.objects.filter(tenant_id=tenant_id).prefetch_related("lines")


def month_checks_for_operator(*, user: Any, tenant_id: int) -> QuerySet[MonthCheck]:
    """Operator: one tenant's closed months, Stripe's lines against the ledger, newest first."""
    check_operator(user)
    return MonthCheck.objects.filter(tenant_id=tenant_id).order_by("-month")


def price_list() -> list[Price]:
    """Every price row, newest first per module (operators only reach the page that shows it), each with the
    module's display name as `module_name` and `coming_soon` (not charged while the module is not built)."""
    prices = list(Price.objects.order_by("module", "-valid_from"))
    for price in prices:
        price.module_name = registry.name_of(price.module)  # type: ignore[attr-defined]
        price.coming_soon = price.module in registry and not charged(price.module)  # type: ignore[attr-defined]
    return prices


def discount_for_operator(*, user: Any, tenant: Tenant, today: Any) -> TenantDiscount | None:
    """Operator: the discount in force this month (None when there is none or it was removed)."""
    check_operator(user)
    row = discount_in_force(tenant, today.replace(day=1))
    return row if row is not None and row.percent > 0 else None


def discount_history_for_operator(*, user: Any, tenant: Tenant) -> list[TenantDiscount]:
    """Operator: every discount change of the tenant, latest start first (who, when, percent, reason,
    from, until)."""
    check_operator(user)
    return list(TenantDiscount.objects.filter(tenant=tenant).order_by("-valid_from", "-id"))


def _suspended_at() -> Subquery:
    """When the tenant was last suspended (by billing after a cancellation or unpaid invoice, or by an
    operator): the time of its latest tenant.suspended domain event."""
    from crm.platform.models import DomainEvent

    latest = DomainEvent.objects.filter(tenant=OuterRef("pk"), name="tenant.suspended").order_by(
        "-created_at"
    )
    return Subquery(latest.values("created_at")[:1])


def suspended_since(*, tenant: Tenant) -> Any:
    """When the current suspension began (None when the tenant is not suspended)."""
    if tenant.status != TenantStatus.SUSPENDED:
        return None
    row = Tenant.objects.filter(pk=tenant.pk).annotate(since=_suspended_at()).values_list("since", flat=True)
    return row.first()


def tenants_in_retention(*, user: Any, now: Any) -> list[dict[str, Any]]:
    """Operator: suspended tenants (data kept) with the end of their retention period, oldest first; the
    ones past it can be closed. One query whatever the number of tenants."""
    from datetime import timedelta

    check_operator(user)
    rows = (
        Tenant.objects.filter(status=TenantStatus.SUSPENDED)
        .annotate(since=_suspended_at())
        .exclude(since__isnull=True)
        .order_by("since")
    )
    keep = timedelta(days=settings.BILLING_RETENTION_DAYS)
    return [
        {"tenant": t, "since": t.since, "ends": t.since + keep, "past": t.since + keep <= now}  # type: ignore[attr-defined]
        for t in rows
    ]


# --- credits for modules billed before they were built --------------------------------------------------

# Issued invoices whose lines count: a draft may still change, a void one was never owed.
# The module slot of an invoice's discount line (services.DISCOUNT_LINE; services imports this module).
DISCOUNT_LINE = "-discount"
ISSUED = (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE)


def _line_credits(lines: Any) -> dict[int, dict[str, Any]]:
    """Per tenant: what issued invoices charged for modules that are not available (coming soon), net of
    each invoice's discount (the discount line's share of the invoice's module lines), in each currency.
    Invoices are not rewritten: this is what an operator refunds or credits."""
    by_invoice: dict[int, list[Any]] = {}
    for line in lines:
        by_invoice.setdefault(line.invoice_id, []).append(line)
    out: dict[int, dict[str, Any]] = {}
    for invoice_lines in by_invoice.values():
        invoice = invoice_lines[0].invoice
        modules = [ln for ln in invoice_lines if ln.module in registry]
        unbuilt = [ln for ln in modules if registry.get(ln.module).sellable and not charged(ln.module)]
        if not unbuilt:
            continue
        subtotal = sum((ln.amount for ln in modules), Decimal("0"))
        discount = sum((ln.amount for ln in invoice_lines if ln.module == DISCOUNT_LINE), Decimal("0"))
        row = out.setdefault(
            invoice.tenant_id, {"tenant": invoice.tenant, "lines": [], "days": 0, "amounts": {}}
        )
        for ln in unbuilt:
            share = (ln.amount * discount / subtotal).quantize(CENT) if subtotal and discount else Decimal(0)
            credit = ln.amount + share  # the discount line is negative
            row["lines"].append({"line": ln, "invoice": invoice, "credit": credit})
            row["days"] += ln.days
            row["amounts"][ln.currency] = row["amounts"].get(ln.currency, Decimal("0")) + credit
    for row in out.values():
        row["amounts"] = sorted(row["amounts"].items())
    return out


def _unbuilt_lines(**filters: Any) -> QuerySet[InvoiceLine]:
    unbuilt = [m.slug for m in registry.sellable() if not charged(m.slug)]
    invoices = Invoice.objects.filter(status__in=ISSUED, lines__module__in=unbuilt, **filters)
    return (
        InvoiceLine.objects.filter(invoice__in=invoices.values("pk"))
        .select_related("invoice__tenant")
        .order_by("invoice__period_start", "invoice_id", "id")
    )


def unbuilt_credit_for_operator(*, user: Any, tenant: Tenant) -> dict[str, Any] | None:
    """Operator: the credit owed to one tenant for days billed for modules that are not built (coming
    soon), from its issued invoices: each line, its credit after discount, total days and amount per
    currency. None when nothing was billed for such a module."""
    check_operator(user)
    return _line_credits(_unbuilt_lines(tenant=tenant)).get(tenant.pk)


def unbuilt_credits_for_operator(*, user: Any) -> list[dict[str, Any]]:
    """Operator: every tenant owed such a credit, largest first (platform-wide list for refunds)."""
    check_operator(user)
    rows = list(_line_credits(_unbuilt_lines()).values())
    rows.sort(key=lambda r: (-sum(a for _c, a in r["amounts"]), r["tenant"].pk))
    return rows
