"""Purchasing reads. Every holder of `purchasing.view` sees all of the workspace's suppliers, orders and
payables (buyers have the "all" scope); each list runs a fixed number of queries whatever its length."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Case, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.kernel.pdf import document_pdf
from crm.kernel.tenant_time import tenant_today
from crm.platform.errors import NotFound
from crm.platform.permissions import check_perm, has_perm

from .costing import RealCost, real_cost
from .models import (
    PurchaseOrder,
    Receipt,
    Rfq,
    RfqLine,
    Supplier,
    SupplierBill,
    SupplierPayment,
    SupplierPrice,
    SupplierQuote,
)
from .services import VIEW, settings_get

ZERO = Decimal("0")


def require_view(actor: Any) -> None:
    check_perm(actor, VIEW)


# --- suppliers -------------------------------------------------------------------------------------------


def supplier_list(*, actor: Any, q: str = "", active: bool | None = None) -> QuerySet[Supplier]:
    require_view(actor)
    qs = Supplier.objects.select_related("customer").order_by("code")
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(code__icontains=q) | Q(name__icontains=q) | Q(phone__icontains=q))
    if active is not None:
        qs = qs.filter(is_active=active)
    return qs


def supplier_get(*, actor: Any, pk: int) -> Supplier:
    require_view(actor)
    found = Supplier.objects.select_related("customer").filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such supplier."))
    return found


def price_list(
    *, actor: Any, supplier_id: int | None = None, product_id: int | None = None
) -> QuerySet[SupplierPrice]:
    require_view(actor)
    qs = SupplierPrice.objects.select_related("supplier", "product").order_by("-valid_from", "-id")
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    if product_id:
        qs = qs.filter(product_id=product_id)
    return qs


def last_prices(
    *, actor: Any, supplier_id: int | None = None, product_id: int | None = None
) -> list[SupplierPrice]:
    """The newest price per (supplier, product) (one query: DISTINCT ON)."""
    qs = price_list(actor=actor, supplier_id=supplier_id, product_id=product_id).order_by(
        "supplier_id", "product_id", "-valid_from", "-id"
    )
    return list(qs.distinct("supplier_id", "product_id"))


def last_price(*, supplier_id: int, product_id: int) -> SupplierPrice | None:
    return (
        SupplierPrice.objects.filter(supplier_id=supplier_id, product_id=product_id)
        .order_by("-valid_from", "-id")
        .first()
    )


# --- orders ----------------------------------------------------------------------------------------------


def order_list(
    *,
    actor: Any,
    state: str = "",
    supplier_id: int | None = None,
    receipt_status: str = "",
    q: str = "",
) -> QuerySet[PurchaseOrder]:
    require_view(actor)
    qs = PurchaseOrder.objects.select_related("supplier", "warehouse", "owner").order_by("-id")
    if state:
        qs = qs.filter(state=state)
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    if receipt_status:
        qs = qs.filter(receipt_status=receipt_status)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(supplier__name__icontains=q))
    return qs


def order_get(*, actor: Any, pk: int) -> PurchaseOrder:
    require_view(actor)
    found = (
        PurchaseOrder.objects.select_related("supplier", "warehouse", "owner", "rfq").filter(pk=pk).first()
    )
    if found is None:
        raise NotFound(_("No such purchase order."))
    return found


def receipt_list(*, actor: Any, order_id: int | None = None, kind: str = "") -> QuerySet[Receipt]:
    require_view(actor)
    qs = Receipt.objects.select_related("order", "order__supplier", "warehouse", "created_by").order_by("-id")
    if order_id:
        qs = qs.filter(order_id=order_id)
    if kind:
        qs = qs.filter(kind=kind)
    return qs


def order_context(order: PurchaseOrder, user: Any) -> dict[str, Any]:
    from crm.kernel import approvals
    from crm.kernel.states import available_transitions, document_history

    return {
        "transitions": available_transitions(actor=user, document=order),
        "history": document_history(order),
        "approval": approvals.approval_status(order),
        "matching_rules": approvals.matching_rules(order),
    }


def company_name() -> str:
    from crm.tenants.models import Tenant

    schema = connection.schema_name  # type: ignore[attr-defined]
    return Tenant.objects.filter(schema_name=schema).values_list("name", flat=True).first() or ""


def order_pdf(order: PurchaseOrder) -> bytes:
    """The purchase order in Chinese (the kernel's document PDF): supplier, terms, delivery warehouse."""
    s = order.supplier
    facts: list[tuple[Any, Any]] = [
        (_("Payment terms (days)"), order.payment_days),
        (_("Invoice type"), s.get_invoice_type_display()),
    ]
    if order.expected_on:
        facts.append((_("Expected on"), order.expected_on.isoformat()))
    if order.warehouse_id:
        facts.append((_("Deliver to"), f"{order.warehouse.name} {order.warehouse.address}".strip()))  # type: ignore[union-attr]
    if s.bank_account:
        facts.append((_("Supplier bank"), f"{s.bank_name} {s.bank_account}".strip()))
    return document_pdf(
        order,
        title=_("Purchase order"),
        company=company_name(),
        customer=f"{s.name}（{_('Supplier')}）",
        extra_facts=facts,
        language="zh-hans",
    )


# --- RFQs and the comparison -----------------------------------------------------------------------------


def rfq_list(*, actor: Any, state: str = "") -> QuerySet[Rfq]:
    require_view(actor)
    qs = Rfq.objects.select_related("created_by").order_by("-id")
    if state:
        qs = qs.filter(state=state)
    return qs


def rfq_get(*, actor: Any, pk: int) -> Rfq:
    require_view(actor)
    found = Rfq.objects.filter(pk=pk).first()
    if found is None:
        raise NotFound(_("No such request for quotation."))
    return found


@dataclass
class Offer:
    """One supplier's price for one RFQ line, with the parts of its real cost per unit."""

    quote: SupplierQuote
    price_incl: Decimal
    vat_rate: Decimal
    cost: RealCost
    rank: int = 0
    cheapest: bool = False
    chosen: bool = False

    @property
    def real(self) -> Decimal:
        return self.cost.total


@dataclass
class ComparisonRow:
    line: RfqLine
    offers: list[Offer] = field(default_factory=list)  # cheapest first


def rfq_comparison(*, rfq: Rfq, actor: Any | None = None) -> list[ComparisonRow]:
    """Each RFQ line with its quotes ranked by real cost per unit (crm.modules.purchasing.costing), the
    cheapest first and marked. Three queries whatever the number of lines and quotes."""
    if actor is not None:
        require_view(actor)
    conf = settings_get()
    lines = list(rfq.lines.select_related("product").order_by("position", "id"))
    quotes = list(rfq.quotes.select_related("supplier").prefetch_related("lines"))
    qty = {ln.pk: ln.quantity for ln in lines}
    rows = {ln.pk: ComparisonRow(line=ln) for ln in lines}
    for quote in quotes:
        goods = sum(
            (qty[ql.rfq_line_id] * ql.unit_price_incl for ql in quote.lines.all() if ql.rfq_line_id in qty),
            ZERO,
        )
        deductible = conf.input_vat_deductible and quote.invoice_type == Supplier.InvoiceType.SPECIAL_13
        for ql in quote.lines.all():
            if ql.rfq_line_id not in rows:
                continue
            cost = real_cost(
                price_incl=ql.unit_price_incl,
                vat_rate=ql.vat_rate,
                deductible=deductible and ql.vat_rate > 0,
                freight=quote.freight,
                goods_total=goods,
                capital_rate_percent=conf.capital_rate_percent,
                payment_days=quote.payment_days,
            )
            rows[ql.rfq_line_id].offers.append(
                Offer(quote=quote, price_incl=ql.unit_price_incl, vat_rate=ql.vat_rate, cost=cost)
            )
    for row in rows.values():
        row.offers.sort(key=lambda o: (o.real, o.quote.pk))
        for i, offer in enumerate(row.offers, start=1):
            offer.rank = i
            offer.cheapest = i == 1
            offer.chosen = offer.quote.pk == row.line.chosen_quote_id
    return [rows[ln.pk] for ln in lines]


# --- payables --------------------------------------------------------------------------------------------


def bill_list(
    *, actor: Any, supplier_id: int | None = None, open_only: bool = False
) -> QuerySet[SupplierBill]:
    require_view(actor)
    qs = SupplierBill.objects.select_related("supplier", "order").order_by("due_date", "id")
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    if open_only:
        qs = qs.filter(paid__lt=F("amount_incl"))
    return qs


def payment_list(*, actor: Any, supplier_id: int | None = None) -> QuerySet[SupplierPayment]:
    require_view(actor)
    qs = SupplierPayment.objects.select_related("supplier").order_by("-paid_on", "-id")
    if supplier_id:
        qs = qs.filter(supplier_id=supplier_id)
    return qs


BUCKETS = ("not_due", "d1_30", "d31_60", "d61_90", "d90_plus")


def bucket_labels() -> dict[str, str]:
    return {
        "not_due": _("Not due"),
        "d1_30": _("1-30 days"),
        "d31_60": _("31-60 days"),
        "d61_90": _("61-90 days"),
        "d90_plus": _("Over 90 days"),
    }


def aging(*, actor: Any) -> QuerySet[Supplier]:
    """Open payables per supplier in buckets of days overdue (tenant's today): one grouped query."""
    require_view(actor)
    today = tenant_today()
    open_amount = F("bills__amount_incl") - F("bills__paid")
    dec: Any = DecimalField(max_digits=16, decimal_places=2)

    def bucket(cond: Q) -> Any:
        return Coalesce(
            Sum(
                Case(
                    When(cond & Q(bills__paid__lt=F("bills__amount_incl")), then=open_amount),
                    output_field=dec,
                )
            ),
            Value(ZERO),
            output_field=dec,
        )

    overdue = {
        "not_due": Q(bills__due_date__gte=today),
        "d1_30": Q(bills__due_date__lt=today, bills__due_date__gte=today - timedelta(days=30)),
        "d31_60": Q(
            bills__due_date__lt=today - timedelta(days=30), bills__due_date__gte=today - timedelta(days=60)
        ),
        "d61_90": Q(
            bills__due_date__lt=today - timedelta(days=60), bills__due_date__gte=today - timedelta(days=90)
        ),
        "d90_plus": Q(bills__due_date__lt=today - timedelta(days=90)),
    }
    return (
        Supplier.objects.filter(bills__paid__lt=F("bills__amount_incl"))
        .annotate(**{name: bucket(cond) for name, cond in overdue.items()})
        .annotate(total=F("not_due") + F("d1_30") + F("d31_60") + F("d61_90") + F("d90_plus"))
        .order_by("-total", "code")
        .distinct()
    )


def payables_total() -> Decimal:
    """Everything still to pay to suppliers (tax incl.), for the trade dashboard."""
    row = SupplierBill.objects.aggregate(t=Sum(F("amount_incl") - F("paid")))
    return row["t"] or ZERO


def payables_totals() -> dict[str, Decimal]:
    """Open and overdue (due before today, tenant time zone) payables, tax incl., in one query."""
    open_amount = F("amount_incl") - F("paid")
    row = SupplierBill.objects.filter(paid__lt=F("amount_incl")).aggregate(
        open=Sum(open_amount), overdue=Sum(open_amount, filter=Q(due_date__lt=tenant_today()))
    )
    return {"open": row["open"] or ZERO, "overdue": row["overdue"] or ZERO}


def payables_due_soon(days: int = 7) -> list[SupplierBill]:
    """Open bills due within `days` from today (overdue ones included), earliest first."""
    limit = tenant_today() + timedelta(days=days)
    return list(
        SupplierBill.objects.select_related("supplier")
        .filter(paid__lt=F("amount_incl"), due_date__lte=limit)
        .order_by("due_date", "id")[:50]
    )


# --- search ----------------------------------------------------------------------------------------------


def search(user: Any, q: str, limit: int = 5) -> list[dict[str, str]]:
    """The global search: suppliers by code, name or phone and purchase orders by number (two queries)."""
    if not has_perm(user, VIEW) or not q.strip():
        return []
    q = q.strip()
    out = [
        {"label": str(s), "url": reverse("purchasing:supplier_detail", args=[s.pk]), "kind": _("Supplier")}
        for s in Supplier.objects.filter(
            Q(code__icontains=q) | Q(name__icontains=q) | Q(phone__icontains=q)
        ).order_by("code")[:limit]
    ]
    out += [
        {
            "label": f"{o.number} {o.supplier.name}",
            "url": reverse("purchasing:purchaseorder_detail", args=[o.pk]),
            "kind": _("Purchase order"),
        }
        for o in PurchaseOrder.objects.select_related("supplier")
        .filter(number__icontains=q)
        .order_by("-id")[:limit]
    ]
    return out


def customer_panel_context(customer: Any, user: Any) -> dict[str, Any]:
    """The "As supplier" panel of a customer linked to a supplier: its open purchase orders and open bills
    (what we owe it). Four queries whatever the numbers; nothing for a customer that is no supplier."""
    supplier = Supplier.objects.filter(customer=customer).first()
    if supplier is None:
        return {"supplier": None}
    orders = list(
        PurchaseOrder.objects.filter(
            supplier=supplier, state__in=[PurchaseOrder.State.SUBMITTED, PurchaseOrder.State.CONFIRMED]
        ).order_by("-created_at")[:10]
    )
    bills = SupplierBill.objects.filter(supplier=supplier, paid__lt=F("amount_incl"))
    total = bills.aggregate(t=Sum(F("amount_incl") - F("paid")))["t"] or Decimal("0")
    return {
        "supplier": supplier,
        "open_orders": orders,
        "open_bills": list(bills.order_by("due_date", "id")[:10]),
        "payable": total,
        "today": tenant_today(),
    }
