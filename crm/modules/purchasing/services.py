"""Purchasing writes: suppliers, prices, purchase orders and their states, goods receipts and returns,
RFQs, quotes and awards, supplier bills and payments.

Stock goes through `crm.modules.inventory.public.stock_post` only. The cost a receipt puts into stock (the
moving average of the inventory ledger) is the tax-exclusive price when the supplier gives a special VAT
invoice and the workspace deducts input VAT (purchasing setting `input_vat_deductible`); otherwise the
tax-inclusive price, since input VAT that is not deducted is part of what the goods cost. A return to the
supplier leaves stock at the unit cost of the receipt line it sends back.

Every write checks its permission, validates before writing (a refusal writes nothing) and runs in one
transaction; receipts, returns and payments carry an idempotency key, so a retried request posts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.documents import LineData, document_create, document_update
from crm.kernel.keys import document_key
from crm.kernel.numbering import number_next
from crm.kernel.states import transition
from crm.kernel.tenant_time import tenant_today
from crm.kernel.vat import validate_rate
from crm.modules.core.public import Customer, Product
from crm.modules.inventory.public import MoveData, Warehouse, stock_post
from crm.platform.errors import NotFound, ServiceError
from crm.platform.permissions import check_perm

from .costing import excl
from .models import (
    INVOICE_RATES,
    PaymentAllocation,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchasingSettings,
    Receipt,
    ReceiptLine,
    Rfq,
    RfqLine,
    Supplier,
    SupplierBill,
    SupplierContact,
    SupplierPayment,
    SupplierPrice,
    SupplierQuote,
    SupplierQuoteLine,
)

ZERO = Decimal("0")
CENT = Decimal("0.01")
MAX_QTY = Decimal("1000000000")
MAX_PRICE = Decimal("1000000000")
MAX_MONEY = Decimal("100000000000000")
VIEW, MANAGE, RECEIVE = "purchasing.view", "purchasing.manage", "purchasing.receive"


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _key(prefix: str, token: str | None) -> str:
    return document_key("purchasing", prefix, token)


# --- settings --------------------------------------------------------------------------------------------


def settings_get() -> PurchasingSettings:
    row, _created = PurchasingSettings.objects.get_or_create(pk=1)
    return row


def settings_update(
    *, actor: Any, input_vat_deductible: bool, capital_rate_percent: Decimal
) -> PurchasingSettings:
    check_perm(actor, "workspace.manage_settings", _("Only owners and administrators change this setting."))
    if not (ZERO <= capital_rate_percent <= Decimal("100")):
        raise ServiceError(
            _("The cost of capital must be between 0 and 100 %."), field="capital_rate_percent"
        )
    row = settings_get()
    row.input_vat_deductible = input_vat_deductible
    row.capital_rate_percent = capital_rate_percent
    row.save(update_fields=["input_vat_deductible", "capital_rate_percent", "updated_at"])
    return row


# --- suppliers -------------------------------------------------------------------------------------------

SUPPLIER_FIELDS = (
    "code",
    "name",
    "tax_status",
    "invoice_type",
    "payment_days",
    "bank_name",
    "bank_account",
    "address",
    "phone",
    "notes",
    "is_active",
    "customer",
)


def _supplier_clean(data: dict[str, Any], supplier: Supplier | None) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k in SUPPLIER_FIELDS}
    for name in ("code", "name", "bank_name", "bank_account", "address", "phone", "notes"):
        if name in out:
            out[name] = (out[name] or "").strip()
    if "code" in out:
        out["code"] = out["code"].upper()
        if not out["code"] or len(out["code"]) > 30:
            raise ServiceError(_("Enter a code (at most 30 characters)."), field="code")
        clash = Supplier.objects.filter(code=out["code"])
        if supplier is not None:
            clash = clash.exclude(pk=supplier.pk)
        if clash.exists():
            raise ServiceError(
                _("Another supplier has the code %(code)s.") % {"code": out["code"]}, field="code"
            )
    if "name" in out and (not out["name"] or len(out["name"]) > 200):
        raise ServiceError(_("Enter a name (at most 200 characters)."), field="name")
    if "tax_status" in out and out["tax_status"] not in Supplier.TaxStatus.values:
        raise ServiceError(_("Choose a tax status."), field="tax_status")
    if "invoice_type" in out and out["invoice_type"] not in Supplier.InvoiceType.values:
        raise ServiceError(_("Choose the invoice the supplier gives."), field="invoice_type")
    if (
        out.get("tax_status", supplier.tax_status if supplier else "") == Supplier.TaxStatus.SMALL_SCALE
        and out.get("invoice_type", supplier.invoice_type if supplier else "")
        == Supplier.InvoiceType.SPECIAL_13
    ):
        raise ServiceError(
            _("A small-scale taxpayer does not give special VAT invoices (13%)."), field="invoice_type"
        )
    if "payment_days" in out and not (0 <= int(out["payment_days"] or 0) <= 365):
        raise ServiceError(_("Payment terms are between 0 and 365 days."), field="payment_days")
    if out.get("customer") is not None:
        customer = out["customer"]
        if not isinstance(customer, Customer):
            customer = Customer.objects.filter(pk=customer).first()
            if customer is None:
                raise ServiceError(_("No such customer."), field="customer")
            out["customer"] = customer
        linked = Supplier.objects.filter(customer=customer)
        if supplier is not None:
            linked = linked.exclude(pk=supplier.pk)
        other = linked.first()
        if other is not None:
            raise ServiceError(
                _("This customer is already linked to the supplier %(supplier)s.") % {"supplier": other},
                field="customer",
            )
    return out


def supplier_create(*, actor: Any, **data: Any) -> Supplier:
    check_perm(actor, MANAGE)
    if not data.get("code") or not data.get("name"):
        raise ServiceError(_("Enter a code and a name."), field="code" if not data.get("code") else "name")
    fields = _supplier_clean(data, None)
    try:
        with transaction.atomic():
            return Supplier.objects.create(**fields)
    except IntegrityError:
        raise ServiceError(_("Another supplier has this code or customer."), field="code") from None


def supplier_update(*, actor: Any, supplier: Supplier, **data: Any) -> Supplier:
    check_perm(actor, MANAGE)
    fields = _supplier_clean(data, supplier)
    for name, value in fields.items():
        setattr(supplier, name, value)
    try:
        with transaction.atomic():
            supplier.save()
    except IntegrityError:
        raise ServiceError(_("Another supplier has this code or customer."), field="code") from None
    return supplier


def supplier_contact_add(
    *, actor: Any, supplier: Supplier, name: str, phone: str = "", email: str = "", title: str = ""
) -> SupplierContact:
    check_perm(actor, MANAGE)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ServiceError(_("Enter the contact's name."), field="name")
    return SupplierContact.objects.create(
        supplier=supplier,
        name=name,
        phone=phone.strip()[:30],
        email=email.strip()[:254],
        title=title.strip()[:100],
    )


def supplier_contact_delete(*, actor: Any, contact: SupplierContact) -> None:
    check_perm(actor, MANAGE)
    contact.delete()


def _rate(value: Any, default: Decimal) -> Decimal:
    return default if value is None or value == "" else validate_rate(value)


def supplier_price_add(
    *,
    actor: Any,
    supplier: Supplier,
    product: Product,
    unit_price_incl: Decimal,
    vat_rate: Decimal | None = None,
    valid_from: date | None = None,
    source: str = "",
) -> SupplierPrice:
    check_perm(actor, MANAGE)
    if unit_price_incl is None or unit_price_incl < 0 or unit_price_incl > MAX_PRICE:
        raise ServiceError(_("Enter a price that is not negative."), field="unit_price_incl")
    return SupplierPrice.objects.create(
        supplier=supplier,
        product=product,
        unit_price_incl=unit_price_incl,
        vat_rate=_rate(vat_rate, supplier.vat_rate),
        valid_from=valid_from or tenant_today(),
        source=(source or "").strip()[:100],
    )


def _price_key(supplier_id: int, product_id: int, day: date) -> str:
    return f"{supplier_id}:{product_id}:{day.isoformat()}"


def supplier_prices_existing(rows: Sequence[dict[str, Any]]) -> dict[str, SupplierPrice]:
    """The newest price row per "supplier:product:date" key among `rows` (dicts with supplier_id,
    product_id, valid_from): one query."""
    if not rows:
        return {}
    found: dict[str, SupplierPrice] = {}
    qs = SupplierPrice.objects.filter(
        supplier_id__in={r["supplier_id"] for r in rows},
        product_id__in={r["product_id"] for r in rows},
        valid_from__in={r["valid_from"] for r in rows},
    ).order_by("id")
    for p in qs:
        found[_price_key(p.supplier_id, p.product_id, p.valid_from)] = p
    return found


def supplier_prices_import(*, actor: Any, rows: Sequence[dict[str, Any]]) -> tuple[int, int]:
    """Price history rows from a spreadsheet (already cleaned: supplier_id, product_id, unit_price_incl,
    vat_rate, valid_from, source): a row of the same supplier, product and date is updated, the others are
    created. Returns (created, updated); a fixed number of queries whatever the number of rows."""
    check_perm(actor, MANAGE)
    for r in rows:
        if r["unit_price_incl"] < 0 or r["unit_price_incl"] > MAX_PRICE:
            raise ServiceError(_("Enter a price that is not negative."), field="unit_price_incl")
    existing = supplier_prices_existing(rows)
    new: dict[str, SupplierPrice] = {}
    changed: dict[str, SupplierPrice] = {}
    for r in rows:
        key = _price_key(r["supplier_id"], r["product_id"], r["valid_from"])
        price = existing.get(key)
        if price is None:
            new[key] = SupplierPrice(
                supplier_id=r["supplier_id"],
                product_id=r["product_id"],
                unit_price_incl=r["unit_price_incl"],
                vat_rate=r["vat_rate"],
                valid_from=r["valid_from"],
                source=r.get("source", "")[:100],
            )
            continue
        source = r.get("source", "")[:100] or price.source
        if (price.unit_price_incl, price.vat_rate, price.source) == (
            r["unit_price_incl"],
            r["vat_rate"],
            source,
        ):
            continue  # the same file imported again changes nothing
        price.unit_price_incl, price.vat_rate, price.source = r["unit_price_incl"], r["vat_rate"], source
        price.updated_at = timezone.now()
        changed[key] = price
    with transaction.atomic():
        SupplierPrice.objects.bulk_create(list(new.values()), batch_size=2000)
        SupplierPrice.objects.bulk_update(
            list(changed.values()), ["unit_price_incl", "vat_rate", "source", "updated_at"], batch_size=2000
        )
    return len(new), len(changed)


# --- purchase orders -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderLineInput:
    """A line of a purchase order: quantity in `unit` (default the product's unit), the price with tax;
    the VAT rate defaults to the rate of the supplier's invoice."""

    product_id: int
    quantity: Decimal
    unit_price_incl: Decimal
    vat_rate: Decimal | None = None
    unit: str = ""


def _order_lines(supplier: Supplier, lines: Sequence[OrderLineInput]) -> list[LineData]:
    if not lines:
        raise ServiceError(_("Add at least one line."), field="lines")
    products = Product.objects.in_bulk([ln.product_id for ln in lines])
    out = []
    for i, ln in enumerate(lines, start=1):
        product = products.get(ln.product_id)
        if product is None:
            raise ServiceError(_("Line %(n)s: no such product.") % {"n": i}, field="lines")
        if ln.quantity is None or not (ZERO < ln.quantity <= MAX_QTY):
            raise ServiceError(_("Line %(n)s: the quantity must be positive.") % {"n": i}, field="lines")
        if ln.unit_price_incl is None or not (ZERO <= ln.unit_price_incl <= MAX_PRICE):
            raise ServiceError(_("Line %(n)s: the price cannot be negative.") % {"n": i}, field="lines")
        out.append(
            LineData(
                description=product.name[:300],
                quantity=ln.quantity,
                unit_price_incl=ln.unit_price_incl,
                vat_rate=_rate(ln.vat_rate, supplier.vat_rate),
                unit=(ln.unit or product.unit or "").strip()[:20],
                product_id=product.pk,
            )
        )
    return out


def _supplier_ok(supplier: Supplier | None) -> Supplier:
    if supplier is None:
        raise ServiceError(_("Choose a supplier."), field="supplier")
    if not supplier.is_active:
        raise ServiceError(_("The supplier %(s)s is inactive.") % {"s": supplier}, field="supplier")
    return supplier


def _warehouse_ok(warehouse: Warehouse | None, field: str = "warehouse") -> Warehouse:
    if warehouse is None:
        raise ServiceError(_("Choose a warehouse."), field=field)
    if not warehouse.is_active or warehouse.kind != Warehouse.Kind.STOCK:
        raise ServiceError(
            _("Goods are received into an active warehouse, %(code)s is not one.") % {"code": warehouse.code},
            field=field,
        )
    return warehouse


def order_create(
    *,
    actor: Any,
    supplier: Supplier | None,
    lines: Sequence[OrderLineInput],
    warehouse: Warehouse | None = None,
    payment_days: int | None = None,
    expected_on: date | None = None,
    terms: str = "",
    rfq: Rfq | None = None,
) -> PurchaseOrder:
    check_perm(actor, MANAGE)
    supplier = _supplier_ok(supplier)
    if warehouse is not None:
        _warehouse_ok(warehouse)
    days = supplier.payment_days if payment_days is None else payment_days
    if not (0 <= days <= 365):
        raise ServiceError(_("Payment terms are between 0 and 365 days."), field="payment_days")
    data = _order_lines(supplier, lines)
    return document_create(
        actor=actor,
        model=PurchaseOrder,
        lines=data,
        supplier=supplier,
        warehouse=warehouse,
        payment_days=days,
        expected_on=expected_on,
        terms=terms,
        rfq=rfq,
    )


def order_update(
    *,
    actor: Any,
    order: PurchaseOrder,
    lines: Sequence[OrderLineInput] | None = None,
    **fields: Any,
) -> PurchaseOrder:
    """Change a draft: header fields (supplier, warehouse, payment_days, expected_on, terms) and/or lines."""
    check_perm(actor, MANAGE)
    allowed = {"supplier", "warehouse", "payment_days", "expected_on", "terms"}
    header = {k: v for k, v in fields.items() if k in allowed}
    supplier = order.supplier
    if "supplier" in header:
        supplier = _supplier_ok(header["supplier"])
    if header.get("warehouse") is not None:
        _warehouse_ok(header["warehouse"])
    if "payment_days" in header and not (0 <= int(header["payment_days"]) <= 365):
        raise ServiceError(_("Payment terms are between 0 and 365 days."), field="payment_days")
    data = _order_lines(supplier, lines) if lines is not None else None
    return document_update(actor=actor, document=order, lines=data, **header)


def order_transition(*, actor: Any, order: PurchaseOrder, name: str, reason: str = "") -> PurchaseOrder:
    """submit / reopen / confirm / complete / cancel. A confirmed order adds its prices to the supplier's
    price history; an order with goods in stock cannot be cancelled (return them, or complete it)."""
    check_perm(actor, MANAGE)
    with transaction.atomic():
        locked = PurchaseOrder.objects.select_for_update().get(pk=order.pk)
        if name == "cancel" and locked.lines.filter(received_quantity__gt=0).exists():
            raise ServiceError(
                _("%(number)s has goods received: return them first, or complete the order.")
                % {"number": locked.number},
                code="illegal_transition",
            )
        if name == "complete" and locked.receipt_status == PurchaseOrder.ReceiptStatus.NONE:
            raise ServiceError(
                _("%(number)s has nothing received yet: cancel it instead.") % {"number": locked.number},
                code="illegal_transition",
            )
        saved: Any = transition(actor=actor, document=locked, name=name, reason=reason)
        if saved.state == PurchaseOrder.State.CONFIRMED and name == "confirm":
            saved.confirmed_at = timezone.now()
            PurchaseOrder.objects.filter(pk=saved.pk).update(confirmed_at=saved.confirmed_at)
            today = tenant_today()
            SupplierPrice.objects.bulk_create(
                SupplierPrice(
                    supplier_id=saved.supplier_id,
                    product_id=ln.product_id,
                    unit_price_incl=ln.unit_price_incl,
                    vat_rate=ln.vat_rate,
                    valid_from=today,
                    source=saved.number,
                )
                for ln in saved.lines.filter(product__isnull=False)
            )
    order.state = saved.state
    return saved


def _receipt_status(order: PurchaseOrder) -> str:
    rows = list(order.lines.filter(product__isnull=False).values_list("quantity", "received_quantity"))
    if rows and all(received >= qty for qty, received in rows):
        return PurchaseOrder.ReceiptStatus.FULL
    if any(received > 0 for _qty, received in rows):
        return PurchaseOrder.ReceiptStatus.PARTIAL
    return PurchaseOrder.ReceiptStatus.NONE


def stock_unit_cost(line: PurchaseOrderLine, supplier: Supplier, settings: PurchasingSettings) -> Decimal:
    """The cost per unit of the line that a receipt puts into stock (see the module docstring)."""
    price = line.unit_price_incl * (1 - line.discount_percent / 100)
    if settings.input_vat_deductible and supplier.gives_deductible_invoice:
        return excl(price, line.vat_rate)
    return price.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ReceiveInput:
    """A quantity (in the order line's unit) received of an order line, or returned of a receipt line."""

    line_id: int
    quantity: Decimal


def _replay(key: str) -> Receipt | None:
    return Receipt.objects.filter(idempotency_key=key).first()


def receipt_create(
    *,
    actor: Any,
    order: PurchaseOrder,
    lines: Sequence[ReceiveInput] | None = None,
    warehouse: Warehouse | None = None,
    allow_over: bool = False,
    idempotency_key: str | None = None,
    note: str = "",
) -> Receipt:
    """Receive goods of a confirmed order into a warehouse (入库). `lines` None: everything still open.
    More than ordered is refused unless `allow_over`. The same `idempotency_key` receives once."""
    check_perm(actor, RECEIVE)
    key = _key("receipt", idempotency_key)
    with transaction.atomic():
        po = PurchaseOrder.objects.select_for_update().select_related("supplier").get(pk=order.pk)
        found = _replay(key)
        if found is not None:
            return found
        if po.state != PurchaseOrder.State.CONFIRMED:
            raise ServiceError(
                _("%(number)s is %(state)s: goods are received only on a confirmed order.")
                % {"number": po.number, "state": po.state_label()},
                code="illegal_state",
            )
        wh = _warehouse_ok(warehouse or po.warehouse)
        order_lines = {ln.pk: ln for ln in po.lines.filter(product__isnull=False).select_for_update()}
        if lines is None:
            lines = [
                ReceiveInput(pk, ln.open_quantity) for pk, ln in order_lines.items() if ln.open_quantity > 0
            ]
        wanted = [ln for ln in lines if ln.quantity is not None and ln.quantity != 0]
        if not wanted:
            raise ServiceError(_("Enter a quantity to receive."), field="lines")
        seen: set[int] = set()
        for ln in wanted:
            line = order_lines.get(ln.line_id)
            if line is None:
                raise ServiceError(
                    _("A line is not a line of %(number)s.") % {"number": po.number}, field="lines"
                )
            if ln.line_id in seen:
                raise ServiceError(_("A line appears twice."), field="lines")
            seen.add(ln.line_id)
            if not (ZERO < ln.quantity <= MAX_QTY):
                raise ServiceError(_("The quantity must be positive."), field="quantity")
            if line.received_quantity + ln.quantity > line.quantity and not allow_over:
                raise ServiceError(
                    _(
                        "%(item)s: %(qty)s would be more than ordered (%(ordered)s, %(received)s received). "
                        "Confirm receiving more than ordered to go ahead."
                    )
                    % {
                        "item": line.description,
                        "qty": ln.quantity.normalize(),
                        "ordered": line.quantity.normalize(),
                        "received": line.received_quantity.normalize(),
                    },
                    field="allow_over",
                    code="over_receipt",
                )
        conf = settings_get()
        receipt = Receipt.objects.create(
            kind=Receipt.Kind.RECEIPT,
            number=number_next(doc_type="purchasing.receipt", prefix="RK"),
            order=po,
            warehouse=wh,
            idempotency_key=key,
            note=(note or "")[:200],
            created_by=actor,
        )
        rows = ReceiptLine.objects.bulk_create(
            ReceiptLine(
                receipt=receipt,
                order_line=order_lines[ln.line_id],
                quantity=ln.quantity,
                unit_cost=stock_unit_cost(order_lines[ln.line_id], po.supplier, conf),
            )
            for ln in wanted
        )
        stock_post(
            actor=actor,
            moves=[
                MoveData(
                    product_id=int(r.order_line.product_id or 0),  # type: ignore[attr-defined]
                    warehouse_id=wh.pk,
                    quantity=r.quantity,
                    kind="receipt",
                    unit_cost=r.unit_cost,
                    unit=r.order_line.unit,
                    document_line_id=r.pk,
                    reason=po.number,
                )
                for r in rows
            ],
            idempotency_key=f"purchasing.receipt:{receipt.pk}",
            document=receipt,
        )
        for ln in wanted:
            PurchaseOrderLine.objects.filter(pk=ln.line_id).update(
                received_quantity=F("received_quantity") + ln.quantity
            )
        po.receipt_status = _receipt_status(po)
        PurchaseOrder.objects.filter(pk=po.pk).update(receipt_status=po.receipt_status)
    order.receipt_status = po.receipt_status
    return receipt


def return_create(
    *,
    actor: Any,
    order: PurchaseOrder,
    lines: Sequence[ReceiveInput],
    idempotency_key: str | None = None,
    note: str = "",
) -> Receipt:
    """Return received goods to the supplier (退货): `lines` name receipt lines; each leaves stock at the
    unit cost it came in at. All lines of one return come from one warehouse."""
    check_perm(actor, RECEIVE)
    key = _key("return", idempotency_key)
    with transaction.atomic():
        po = PurchaseOrder.objects.select_for_update().get(pk=order.pk)
        found = _replay(key)
        if found is not None:
            return found
        if po.state not in (PurchaseOrder.State.CONFIRMED, PurchaseOrder.State.COMPLETED):
            raise ServiceError(
                _("%(number)s is %(state)s: nothing to return.")
                % {"number": po.number, "state": po.state_label()},
                code="illegal_state",
            )
        wanted = [ln for ln in lines if ln.quantity is not None and ln.quantity != 0]
        if not wanted:
            raise ServiceError(_("Enter a quantity to return."), field="lines")
        sources = {
            r.pk: r
            for r in ReceiptLine.objects.select_for_update(of=("self",))
            .select_related("receipt", "order_line")
            .filter(
                pk__in=[ln.line_id for ln in wanted], receipt__order=po, receipt__kind=Receipt.Kind.RECEIPT
            )
        }
        warehouses = set()
        for ln in wanted:
            src = sources.get(ln.line_id)
            if src is None:
                raise ServiceError(
                    _("A line is not a received line of %(number)s.") % {"number": po.number}, field="lines"
                )
            if not (ZERO < ln.quantity <= src.quantity - src.returned_quantity):
                raise ServiceError(
                    _("%(item)s: at most %(qty)s can be returned from %(receipt)s.")
                    % {
                        "item": src.order_line.description,
                        "qty": (src.quantity - src.returned_quantity).normalize(),
                        "receipt": src.receipt.number,
                    },
                    field="quantity",
                )
            warehouses.add(src.receipt.warehouse_id)
        if len(warehouses) != 1:
            raise ServiceError(_("Return goods of one warehouse at a time."), field="lines")
        ret = Receipt.objects.create(
            kind=Receipt.Kind.RETURN,
            number=number_next(doc_type="purchasing.return", prefix="TH"),
            order=po,
            warehouse_id=warehouses.pop(),
            idempotency_key=key,
            note=(note or "")[:200],
            created_by=actor,
        )
        rows = ReceiptLine.objects.bulk_create(
            ReceiptLine(
                receipt=ret,
                order_line=sources[ln.line_id].order_line,
                quantity=ln.quantity,
                unit_cost=sources[ln.line_id].unit_cost,
                source=sources[ln.line_id],
            )
            for ln in wanted
        )
        stock_post(
            actor=actor,
            moves=[
                MoveData(
                    product_id=int(r.order_line.product_id or 0),  # type: ignore[attr-defined]
                    warehouse_id=ret.warehouse_id,
                    quantity=r.quantity,
                    kind="return_out",
                    unit_cost=r.unit_cost,
                    unit=r.order_line.unit,
                    document_line_id=r.pk,
                    reason=po.number,
                )
                for r in rows
            ],
            idempotency_key=f"purchasing.return:{ret.pk}",
            document=ret,
        )
        for ln in wanted:
            src = sources[ln.line_id]
            ReceiptLine.objects.filter(pk=src.pk).update(
                returned_quantity=F("returned_quantity") + ln.quantity
            )
            PurchaseOrderLine.objects.filter(pk=src.order_line_id).update(
                received_quantity=F("received_quantity") - ln.quantity,
                returned_quantity=F("returned_quantity") + ln.quantity,
            )
        po.receipt_status = _receipt_status(po)
        PurchaseOrder.objects.filter(pk=po.pk).update(receipt_status=po.receipt_status)
    order.receipt_status = po.receipt_status
    return ret


# --- RFQs and quotes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RfqLineInput:
    product_id: int
    quantity: Decimal
    unit: str = ""


def rfq_create(
    *,
    actor: Any,
    lines: Sequence[RfqLineInput],
    suppliers: Sequence[Supplier] = (),
    title: str = "",
    due_date: date | None = None,
) -> Rfq:
    """A request for quotation (询价单) for `lines`, sent to `suppliers` (their quotes start empty)."""
    check_perm(actor, MANAGE)
    if not lines:
        raise ServiceError(_("Add at least one line."), field="lines")
    products = Product.objects.in_bulk([ln.product_id for ln in lines])
    for i, ln in enumerate(lines, start=1):
        if ln.product_id not in products:
            raise ServiceError(_("Line %(n)s: no such product.") % {"n": i}, field="lines")
        if ln.quantity is None or not (ZERO < ln.quantity <= MAX_QTY):
            raise ServiceError(_("Line %(n)s: the quantity must be positive.") % {"n": i}, field="lines")
    if len({ln.product_id for ln in lines}) != len(lines):
        raise ServiceError(_("A product appears on two lines."), field="lines")
    for s in suppliers:
        _supplier_ok(s)
    with transaction.atomic():
        rfq = Rfq.objects.create(
            number=number_next(doc_type="purchasing.rfq", prefix="XJ"),
            title=(title or "").strip()[:200],
            due_date=due_date,
            created_by=actor,
        )
        RfqLine.objects.bulk_create(
            RfqLine(
                rfq=rfq,
                position=i,
                product_id=ln.product_id,
                quantity=ln.quantity,
                unit=(ln.unit or products[ln.product_id].unit or "")[:20],
            )
            for i, ln in enumerate(lines, start=1)
        )
        SupplierQuote.objects.bulk_create(
            SupplierQuote(rfq=rfq, supplier=s, invoice_type=s.invoice_type, payment_days=s.payment_days)
            for s in {s.pk: s for s in suppliers}.values()
        )
    return rfq


@dataclass(frozen=True)
class QuotePrice:
    rfq_line_id: int
    unit_price_incl: Decimal
    vat_rate: Decimal | None = None


def quote_save(
    *,
    actor: Any,
    rfq: Rfq,
    supplier: Supplier,
    prices: Sequence[QuotePrice],
    freight: Decimal = ZERO,
    payment_days: int | None = None,
    invoice_type: str | None = None,
    notes: str = "",
) -> SupplierQuote:
    """Enter (or replace) a supplier's quote for an open RFQ: a price per line it quoted, freight for the
    whole quote, its payment terms and invoice (defaults: the supplier's)."""
    check_perm(actor, MANAGE)
    if rfq.state != Rfq.State.OPEN:
        raise ServiceError(
            _("%(number)s is no longer open for quotes.") % {"number": rfq.number}, code="illegal_state"
        )
    _supplier_ok(supplier)
    invoice = invoice_type or supplier.invoice_type
    if invoice not in Supplier.InvoiceType.values:
        raise ServiceError(_("Choose the invoice the supplier gives."), field="invoice_type")
    if freight is None or not (ZERO <= freight <= MAX_MONEY):
        raise ServiceError(_("The freight must not be negative."), field="freight")
    days = supplier.payment_days if payment_days is None else payment_days
    if not (0 <= days <= 365):
        raise ServiceError(_("Payment terms are between 0 and 365 days."), field="payment_days")
    line_ids = set(rfq.lines.values_list("pk", flat=True))
    rows = []
    for p in prices:
        if p.unit_price_incl is None:
            continue
        if p.rfq_line_id not in line_ids:
            raise ServiceError(_("A price is for a line of another RFQ."), field="prices")
        if not (ZERO <= p.unit_price_incl <= MAX_PRICE):
            raise ServiceError(_("Enter a price that is not negative."), field="prices")
        rows.append((p.rfq_line_id, p.unit_price_incl, _rate(p.vat_rate, INVOICE_RATES[invoice])))
    if len({r[0] for r in rows}) != len(rows):
        raise ServiceError(_("A line appears twice."), field="prices")
    with transaction.atomic():
        quote, _created = SupplierQuote.objects.update_or_create(
            rfq=rfq,
            supplier=supplier,
            defaults={
                "invoice_type": invoice,
                "freight": _money(freight),
                "payment_days": days,
                "notes": (notes or "").strip()[:200],
            },
        )
        quote.lines.all().delete()
        SupplierQuoteLine.objects.bulk_create(
            SupplierQuoteLine(quote=quote, rfq_line_id=lid, unit_price_incl=price, vat_rate=rate)
            for lid, price, rate in rows
        )
    return quote


def rfq_award(*, actor: Any, rfq: Rfq, choices: dict[int, int] | None = None) -> list[PurchaseOrder]:
    """Create one draft purchase order per chosen supplier (`choices`: RFQ line id -> quote id; a line not
    in it keeps its earlier choice, else takes the cheapest quote by real cost). Awarding again creates
    nothing for a supplier that already has its order from this RFQ. The quoted prices go into the
    suppliers' price history. Returns the RFQ's orders."""
    from .selectors import rfq_comparison

    check_perm(actor, MANAGE)
    with transaction.atomic():
        locked = Rfq.objects.select_for_update().get(pk=rfq.pk)
        if locked.state == Rfq.State.CANCELLED:
            raise ServiceError(
                _("%(number)s is cancelled.") % {"number": locked.number}, code="illegal_state"
            )
        table = rfq_comparison(rfq=locked)
        quotes = {q.pk: q for q in locked.quotes.select_related("supplier")}
        picks: dict[int, int] = {}
        for row in table:
            line = row.line
            offered = {o.quote.pk for o in row.offers}
            pick = (
                (choices or {}).get(line.pk)
                or line.chosen_quote_id
                or (row.offers[0].quote.pk if row.offers else None)
            )
            if pick is None:
                continue
            if pick not in offered:
                raise ServiceError(
                    _("%(item)s: the chosen supplier did not quote this line.") % {"item": line.product.name},
                    field="choices",
                )
            picks[line.pk] = pick
        if not picks:
            raise ServiceError(_("No line has a quote yet."), field="choices")
        for line_id, quote_id in picks.items():
            RfqLine.objects.filter(pk=line_id).update(chosen_quote_id=quote_id)
        offers = {(o.quote.pk, row.line.pk): o for row in table for o in row.offers}
        by_quote: dict[int, list[Any]] = {}
        for row in table:
            if row.line.pk in picks:
                by_quote.setdefault(picks[row.line.pk], []).append(row.line)
        existing = set(PurchaseOrder.objects.filter(rfq=locked).values_list("supplier_id", flat=True))
        today = tenant_today()
        for quote_id, rfq_lines in by_quote.items():
            quote = quotes[quote_id]
            if quote.supplier_id in existing:
                continue
            terms = ""
            if quote.freight:
                terms = _("Freight %(amount)s (tax incl.) as quoted.") % {"amount": quote.freight}
            order_create(
                actor=actor,
                supplier=quote.supplier,
                lines=[
                    OrderLineInput(
                        product_id=ln.product_id,
                        quantity=ln.quantity,
                        unit_price_incl=offers[(quote_id, ln.pk)].price_incl,
                        vat_rate=offers[(quote_id, ln.pk)].vat_rate,
                        unit=ln.unit,
                    )
                    for ln in rfq_lines
                ],
                payment_days=quote.payment_days,
                terms=terms,
                rfq=locked,
            )
        known = set(
            SupplierPrice.objects.filter(source=locked.number).values_list("supplier_id", "product_id")
        )
        SupplierPrice.objects.bulk_create(
            SupplierPrice(
                supplier_id=o.quote.supplier_id,
                product_id=row.line.product_id,
                unit_price_incl=o.price_incl,
                vat_rate=o.vat_rate,
                valid_from=today,
                source=locked.number,
            )
            for row in table
            for o in row.offers
            if (o.quote.supplier_id, row.line.product_id) not in known
        )
        Rfq.objects.filter(pk=locked.pk).update(state=Rfq.State.AWARDED)
        rfq.state = Rfq.State.AWARDED
    return list(PurchaseOrder.objects.filter(rfq=rfq).select_related("supplier").order_by("id"))


def rfq_cancel(*, actor: Any, rfq: Rfq) -> Rfq:
    check_perm(actor, MANAGE)
    if rfq.state != Rfq.State.OPEN:
        raise ServiceError(_("%(number)s is no longer open.") % {"number": rfq.number}, code="illegal_state")
    Rfq.objects.filter(pk=rfq.pk).update(state=Rfq.State.CANCELLED)
    rfq.state = Rfq.State.CANCELLED
    return rfq


# --- bills and payments ----------------------------------------------------------------------------------


def bill_create(
    *,
    actor: Any,
    supplier: Supplier,
    number: str,
    amount_incl: Decimal,
    bill_date: date,
    order: PurchaseOrder | None = None,
    note: str = "",
) -> SupplierBill:
    """A supplier's bill, due `payment_days` of the supplier after its date."""
    check_perm(actor, MANAGE)
    number = (number or "").strip()
    if not number or len(number) > 60:
        raise ServiceError(_("Enter the supplier's bill number."), field="number")
    if amount_incl is None or not (ZERO < amount_incl <= MAX_MONEY):
        raise ServiceError(_("The amount must be positive."), field="amount_incl")
    if bill_date is None:
        raise ServiceError(_("Enter the bill date."), field="bill_date")
    if order is not None and order.supplier_id != supplier.pk:
        raise ServiceError(_("The order is not an order of this supplier."), field="order")
    if SupplierBill.objects.filter(supplier=supplier, number=number).exists():
        raise ServiceError(
            _("%(supplier)s already has a bill %(number)s.") % {"supplier": supplier.name, "number": number},
            field="number",
        )
    try:
        with transaction.atomic():
            return SupplierBill.objects.create(
                supplier=supplier,
                order=order,
                number=number,
                amount_incl=_money(amount_incl),
                bill_date=bill_date,
                due_date=bill_date + timedelta(days=supplier.payment_days),
                note=(note or "").strip()[:200],
            )
    except IntegrityError:
        raise ServiceError(
            _("%(supplier)s already has a bill %(number)s.") % {"supplier": supplier.name, "number": number},
            field="number",
        ) from None


def payment_create(
    *,
    actor: Any,
    supplier: Supplier,
    amount: Decimal,
    paid_on: date,
    method: str = SupplierPayment.Method.BANK,
    reference: str = "",
    allocations: dict[int, Decimal] | None = None,
    idempotency_key: str | None = None,
) -> SupplierPayment:
    """A payment to a supplier. `allocations` (bill id -> amount) say what it pays; None: the oldest due
    open bills first. What is not allocated stays a prepayment."""
    check_perm(actor, MANAGE)
    if amount is None or not (ZERO < amount <= MAX_MONEY):
        raise ServiceError(_("The amount must be positive."), field="amount")
    if paid_on is None:
        raise ServiceError(_("Enter the payment date."), field="paid_on")
    if method not in SupplierPayment.Method.values:
        raise ServiceError(_("Choose how the supplier was paid."), field="method")
    key = _key("payment", idempotency_key)
    amount = _money(amount)
    with transaction.atomic():
        found = SupplierPayment.objects.filter(idempotency_key=key).first()
        if found is not None:
            return found
        bills = list(
            SupplierBill.objects.select_for_update()
            .filter(supplier=supplier, paid__lt=F("amount_incl"))
            .order_by("id")
        )
        by_id = {b.pk: b for b in bills}
        plan: list[tuple[SupplierBill, Decimal]] = []
        if allocations is None:
            rest = amount
            for b in sorted(bills, key=lambda b: (b.due_date, b.pk)):
                if rest <= 0:
                    break
                part = min(rest, b.open_amount)
                plan.append((b, part))
                rest -= part
        else:
            for bill_id, part in allocations.items():
                bill = by_id.get(bill_id)
                if bill is None:
                    raise ServiceError(_("A bill is not an open bill of this supplier."), field="allocations")
                if part is None or not (ZERO < part <= bill.open_amount):
                    raise ServiceError(
                        _("Bill %(number)s: allocate at most its open %(open)s.")
                        % {"number": bill.number, "open": bill.open_amount},
                        field="allocations",
                    )
                plan.append((bill, _money(part)))
            if sum((p for _b, p in plan), ZERO) > amount:
                raise ServiceError(_("The allocations add up to more than the payment."), field="allocations")
        payment = SupplierPayment.objects.create(
            supplier=supplier,
            amount=amount,
            paid_on=paid_on,
            method=method,
            reference=(reference or "").strip()[:100],
            idempotency_key=key,
            created_by=actor,
        )
        PaymentAllocation.objects.bulk_create(
            PaymentAllocation(payment=payment, bill=b, amount=part) for b, part in plan
        )
        for b, part in plan:
            SupplierBill.objects.filter(pk=b.pk).update(paid=F("paid") + part)
    return payment


def get_or_404(model: Any, pk: Any, message: str) -> Any:
    row = model._default_manager.filter(pk=pk).first()
    if row is None:
        raise NotFound(message)
    return row
