"""Inventory writes. `stock_post` is the only writer of stock moves and balances (capabilities.md section 4):

- one transaction; the posting's idempotency key is inserted first (INSERT ... ON CONFLICT DO NOTHING): a
  retry, even one racing the first call, finds the key taken and returns the first call's moves, writing
  nothing;
- the balance rows it needs are created if missing (INSERT ... ON CONFLICT DO NOTHING) and locked with
  SELECT ... FOR UPDATE in one fixed order (product id, warehouse id): two postings on the same products
  queue instead of deadlocking;
- below zero is refused (nothing written) unless the workspace, the warehouse or the caller allows it;
- moving weighted average cost: a receipt adds its value (quantity × unit cost); outbound moves leave at
  the current average (the whole remaining value when they empty the balance, so no value is left on zero
  stock); a customer return comes back at the cost it left with and a return to the supplier leaves at the
  price received (both given by the caller); a receipt arriving while on hand is negative posts a separate,
  visible cost-correction adjustment (quantity 0) so the stock left is valued at the receipt's cost.

Permissions: `stock_post`, `stock_reserve` and `stock_release` are building blocks for other modules'
services (deliveries, purchase receipts), which check their own permissions; this module's documents
(transfers, counts, opening stock, warehouses) check `inventory.manage`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.keys import document_key
from crm.kernel.numbering import number_next
from crm.modules.core.public import Product
from crm.platform.errors import NotFound, ServiceError
from crm.platform.permissions import check_perm

from .models import (
    InventorySettings,
    Reservation,
    StockBalance,
    StockDocument,
    StockDocumentLine,
    StockMove,
    StockPosting,
    StockProduct,
    UnitConversion,
    Warehouse,
)

log = logging.getLogger("crm.inventory")

ZERO = Decimal("0")
CENT = Decimal("0.01")
COST_PLACES = Decimal("0.0001")
MAX_QTY = Decimal("100000000000")  # 18 digits, 4 after the point, with room for sums
MAX_COST = Decimal("100000000000")
Kind = StockMove.Kind
INBOUND = {Kind.RECEIPT, Kind.RETURN_IN, Kind.TRANSFER_IN, Kind.OPENING}
OUTBOUND = {Kind.DELIVERY, Kind.RETURN_OUT, Kind.TRANSFER_OUT}
DOC_PREFIX: dict[str, str] = {
    StockDocument.Kind.TRANSFER: "DB",  # 调拨
    StockDocument.Kind.COUNT: "PD",  # 盘点
    StockDocument.Kind.OPENING: "QC",  # 期初
    StockDocument.Kind.ADJUSTMENT: "TZ",  # 调整
    StockDocument.Kind.POSTING: "KC",  # 库存
}


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def cost(value: Decimal) -> Decimal:
    return value.quantize(COST_PLACES, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MoveData:
    """One move to post. `quantity` is positive (in `unit`, default the product's base unit); the kind says
    the direction, except for adjustments, whose sign is the direction. `unit_cost` (tax-exclusive, per
    `unit`) is required for receipts, opening stock, customer returns (the cost it left with) and returns to
    the supplier (the price received); outbound moves and transfers in take it from the ledger."""

    product_id: int
    warehouse_id: int
    quantity: Decimal
    kind: str
    unit_cost: Decimal | None = None
    unit: str = ""
    reason: str = ""
    document_line_id: int | None = None


@dataclass(frozen=True)
class DocumentRef:
    """The document behind a posting: its type ("sales.order"), id and number, shown on each move."""

    type: str
    id: int | None = None
    number: str = ""


@dataclass
class _Move:
    data: MoveData
    kind: str
    quantity: Decimal  # signed, base units
    unit_cost: Decimal | None  # per base unit
    extra: dict[str, Any] = field(default_factory=dict)


def _document_ref(document: Any) -> DocumentRef | None:
    if document is None or isinstance(document, DocumentRef):
        return document
    meta = getattr(document, "_meta", None)
    label = meta.label_lower if meta is not None else type(document).__name__.lower()
    return DocumentRef(type=label, id=document.pk, number=str(getattr(document, "number", "") or ""))


def settings_get() -> InventorySettings:
    row, _created = InventorySettings.objects.get_or_create(pk=1)
    return row


def settings_update(*, actor: Any, allow_negative: bool) -> InventorySettings:
    check_perm(actor, "workspace.manage_settings", _("Only owners and administrators change this setting."))
    row = settings_get()
    row.allow_negative = allow_negative
    row.save(update_fields=["allow_negative", "updated_at"])
    return row


# --- units ---------------------------------------------------------------------------------------------


def unit_factor(*, product_id: int, unit: str, base_unit: str | None = None) -> Decimal:
    """Base units in one `unit` of the product: 1 for the base unit (or no unit), else its conversion."""
    unit = (unit or "").strip()
    if not unit:
        return Decimal("1")
    if base_unit is None:
        sp = StockProduct.objects.filter(product_id=product_id).only("base_unit").first()
        base_unit = sp.base_unit if sp and sp.base_unit else None
        if base_unit is None:
            base_unit = Product.objects.filter(pk=product_id).values_list("unit", flat=True).first() or ""
    if unit == base_unit:
        return Decimal("1")
    factor = (
        UnitConversion.objects.filter(product_id=product_id, unit=unit)
        .values_list("factor", flat=True)
        .first()
    )
    if factor is None:
        raise ServiceError(
            _("The unit %(unit)s has no conversion to the base unit of this product.") % {"unit": unit},
            field="unit",
        )
    return factor


def unit_conversion_set(*, actor: Any, product: Product, unit: str, factor: Decimal) -> UnitConversion:
    check_perm(actor, "inventory.manage")
    unit = unit.strip()
    if not unit or len(unit) > 20:
        raise ServiceError(_("Enter a unit (at most 20 characters)."), field="unit")
    if factor <= 0 or factor > MAX_QTY:
        raise ServiceError(_("The factor must be a positive number."), field="factor")
    row, _created = UnitConversion.objects.update_or_create(
        product=product, unit=unit, defaults={"factor": factor}
    )
    return row


def unit_conversion_delete(*, actor: Any, conversion: UnitConversion) -> None:
    check_perm(actor, "inventory.manage")
    conversion.delete()


def stock_product_set(
    *,
    actor: Any,
    product: Product,
    tracked: bool = True,
    base_unit: str = "",
    min_stock: Decimal = ZERO,
    reorder_qty: Decimal = ZERO,
) -> StockProduct:
    check_perm(actor, "inventory.manage")
    if min_stock < 0 or reorder_qty < 0 or min_stock > MAX_QTY or reorder_qty > MAX_QTY:
        raise ServiceError(_("Minimum stock and reorder quantity must not be negative."), field="min_stock")
    row, _created = StockProduct.objects.update_or_create(
        product=product,
        defaults={
            "tracked": tracked,
            "base_unit": base_unit.strip()[:20],
            "min_stock": min_stock,
            "reorder_qty": reorder_qty,
        },
    )
    return row


# --- warehouses ----------------------------------------------------------------------------------------


def warehouse_save(
    *,
    actor: Any,
    code: str,
    name: str,
    address: str = "",
    kind: str = Warehouse.Kind.STOCK,
    is_active: bool = True,
    allows_negative: bool = False,
    warehouse: Warehouse | None = None,
) -> Warehouse:
    """Create a warehouse, or update `warehouse`."""
    check_perm(actor, "inventory.manage")
    code, name = code.strip().upper(), name.strip()
    if not code or not name:
        raise ServiceError(_("Code and name are required."), field="code" if not code else "name")
    if kind not in Warehouse.Kind.values:
        raise ServiceError(_("Choose a kind."), field="kind")
    clash = Warehouse.objects.filter(code=code)
    if warehouse is not None:
        clash = clash.exclude(pk=warehouse.pk)
    if clash.exists():
        raise ServiceError(_("A warehouse with this code exists."), field="code")
    target = warehouse or Warehouse()
    target.code, target.name, target.address = code, name, address.strip()[:200]
    target.kind, target.is_active, target.allows_negative = kind, is_active, allows_negative
    target.save()
    return target


# --- posting -------------------------------------------------------------------------------------------


def _normalise(moves: Sequence[MoveData]) -> list[_Move]:
    """Validate each move and convert it to signed base units (no writes)."""
    out: list[_Move] = []
    for i, m in enumerate(moves, start=1):
        where = {"n": i}
        if m.kind not in Kind.values:
            raise ServiceError(_("Line %(n)s: unknown kind of move.") % where, field="kind")
        try:
            qty = Decimal(m.quantity)
        except (ArithmeticError, TypeError, ValueError):
            raise ServiceError(_("Line %(n)s: enter a quantity.") % where, field="quantity") from None
        if not qty.is_finite() or qty == 0 or abs(qty) > MAX_QTY:
            raise ServiceError(_("Line %(n)s: the quantity must not be zero.") % where, field="quantity")
        if qty < 0 and m.kind != Kind.ADJUSTMENT:
            raise ServiceError(_("Line %(n)s: the quantity must be positive.") % where, field="quantity")
        needs_cost = m.kind in (Kind.RECEIPT, Kind.OPENING, Kind.RETURN_IN, Kind.RETURN_OUT)
        if needs_cost and m.unit_cost is None:
            raise ServiceError(_("Line %(n)s: enter the unit cost.") % where, field="unit_cost")
        if m.unit_cost is not None and (
            not Decimal(m.unit_cost).is_finite() or m.unit_cost < 0 or m.unit_cost > MAX_COST
        ):
            raise ServiceError(
                _("Line %(n)s: the unit cost must not be negative.") % where, field="unit_cost"
            )
        factor = unit_factor(product_id=m.product_id, unit=m.unit)
        base_qty = qty * factor
        if m.kind in OUTBOUND:
            base_qty = -base_qty
        unit_cost = None if m.unit_cost is None else cost(Decimal(m.unit_cost) / factor)
        out.append(_Move(data=m, kind=m.kind, quantity=base_qty, unit_cost=unit_cost))
    return out


def _pair_transfers(items: list[_Move]) -> list[_Move]:
    """Put each transfer in without a cost right after a transfer out of the same product, so that it
    takes the value that left the other warehouse whatever order the caller listed them in."""
    out: list[_Move] = []
    unmatched_out: dict[int, int] = {}  # product -> transfer outs not yet paired
    held: dict[int, list[_Move]] = {}  # product -> transfer ins waiting for their transfer out
    for m in items:
        pid = m.data.product_id
        if m.kind == Kind.TRANSFER_IN and m.unit_cost is None:
            if unmatched_out.get(pid):
                unmatched_out[pid] -= 1
                out.append(m)
            else:
                held.setdefault(pid, []).append(m)
            continue
        out.append(m)
        if m.kind == Kind.TRANSFER_OUT:
            if held.get(pid):
                out.append(held[pid].pop(0))
            else:
                unmatched_out[pid] = unmatched_out.get(pid, 0) + 1
    # Transfers in with no transfer out in this posting come in at the warehouse's average cost.
    return out + [m for waiting in held.values() for m in waiting]


def _check_refs(moves: list[_Move]) -> dict[int, Warehouse]:
    product_ids = {m.data.product_id for m in moves}
    warehouse_ids = {m.data.warehouse_id for m in moves}
    warehouses = {w.pk: w for w in Warehouse.objects.filter(pk__in=warehouse_ids)}
    for wid in warehouse_ids:
        if wid not in warehouses:
            raise ServiceError(_("Unknown warehouse."), field="warehouse")
        if not warehouses[wid].is_active:
            raise ServiceError(
                _("The warehouse %(code)s is inactive.") % {"code": warehouses[wid].code}, field="warehouse"
            )
    found = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
    if product_ids - found:
        raise ServiceError(_("Unknown product."), field="product")
    untracked = StockProduct.objects.filter(product_id__in=product_ids, tracked=False).values_list(
        "product__name", flat=True
    )
    if untracked:
        raise ServiceError(
            _("%(name)s is not stock-tracked.") % {"name": ", ".join(untracked)}, field="product"
        )
    # A product without stock settings becomes stock-tracked when stock first comes in (a receipt, opening
    # stock): from then on confirmed orders reserve it and deliveries ship it. Services never get stock,
    # so they stay untracked without anyone having to say so.
    inbound = {m.data.product_id for m in moves if m.quantity > 0}
    if inbound:
        StockProduct.objects.bulk_create(
            [StockProduct(product_id=pid, tracked=True) for pid in sorted(inbound)], ignore_conflicts=True
        )
    return warehouses


def lock_balances(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], StockBalance]:
    """Create the missing balance rows, then lock them all in the fixed order (product id, warehouse id).
    Must run inside a transaction."""
    ordered = sorted(set(pairs))
    if not ordered:
        return {}
    StockBalance.objects.bulk_create(
        [StockBalance(product_id=p, warehouse_id=w) for p, w in ordered], ignore_conflicts=True
    )
    qs = StockBalance.objects.select_for_update()
    if len(ordered) <= 200:
        cond = Q()
        for p, w in ordered:
            cond |= Q(product_id=p, warehouse_id=w)
        qs = qs.filter(cond)
    else:  # a superset, still locked in order: fewer, simpler plans for big postings (imports)
        qs = qs.filter(product_id__in={p for p, _w in ordered}, warehouse_id__in={w for _p, w in ordered})
    return {(b.product_id, b.warehouse_id): b for b in qs.order_by("product_id", "warehouse_id")}


def _claim_key(key: str, actor: Any, ref: DocumentRef | None) -> int | None:
    """Insert the posting row; None when the key was already taken (waits for a racing first call)."""
    now = timezone.now()
    table = StockPosting._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" (idempotency_key, actor_id, document_type, document_id, '  # noqa: S608
            "document_number, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
            [
                key,
                getattr(actor, "pk", None),
                ref.type if ref else "",
                ref.id if ref else None,
                (ref.number if ref else "")[:40],
                now,
                now,
            ],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def _outbound_value(b: StockBalance, out: Decimal, price: Decimal | None) -> Decimal:
    """The (positive) value leaving with `out` base units: at the average cost (or `price` for a return to
    the supplier), the whole remaining value when the balance is emptied, never more value than there is."""
    unit = b.average_cost if price is None else price
    if b.on_hand > 0 and out >= b.on_hand:
        return b.value + money((out - b.on_hand) * unit)
    if b.on_hand <= 0:
        return money(out * unit)
    taken = money(out * unit)
    return min(taken, b.value) if b.value >= 0 else taken


def stock_post(
    *,
    actor: Any,
    moves: Sequence[MoveData],
    idempotency_key: str,
    document: Any = None,
    allow_negative: bool | None = None,
) -> list[StockMove]:
    """Post `moves` in one transaction (see the module docstring). `document`: a DocumentRef or a model
    instance (its label, pk and `number`). Returns the moves written, or those of the first call with this
    key. Raises ServiceError (translated, nothing written) on bad input or when stock would go below zero."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise ServiceError(
            _("An idempotency key (at most 200 characters) is required."), field="idempotency_key"
        )
    items = _pair_transfers(_normalise(moves))
    ref = _document_ref(document)
    with transaction.atomic():
        posting_id = _claim_key(key, actor, ref)
        if posting_id is None:
            return list(StockMove.objects.filter(posting__idempotency_key=key).order_by("id"))
        if not items:
            return []
        warehouses = _check_refs(items)
        workspace_negative = settings_get().allow_negative
        balances = lock_balances((m.data.product_id, m.data.warehouse_id) for m in items)
        now = timezone.now()
        rows: list[StockMove] = []
        transfers_out: dict[int, list[tuple[Decimal, Decimal]]] = {}  # product -> [(qty, value)] to pair
        for i, m in enumerate(items, start=1):
            b = balances[(m.data.product_id, m.data.warehouse_id)]
            wh = warehouses[m.data.warehouse_id]
            may_go_negative = (
                allow_negative if allow_negative is not None else (workspace_negative or wh.allows_negative)
            )
            common = {
                "posting_id": posting_id,
                "product_id": m.data.product_id,
                "warehouse_id": m.data.warehouse_id,
                "document_type": ref.type if ref else "",
                "document_id": ref.id if ref else None,
                "document_line_id": m.data.document_line_id,
                "document_number": (ref.number if ref else "")[:40],
                "actor_id": getattr(actor, "pk", None),
                "posted_at": now,
            }
            reason = m.data.reason[:200]
            if m.quantity > 0:  # inbound (receipt, return in, transfer in, opening, positive adjustment)
                if (
                    m.unit_cost is None
                    and m.kind == Kind.TRANSFER_IN
                    and transfers_out.get(m.data.product_id)
                ):
                    out_qty, out_value = transfers_out[m.data.product_id].pop(0)
                    value = out_value if out_qty == m.quantity else money(out_value / out_qty * m.quantity)
                    unit_cost = cost(value / m.quantity)
                else:
                    unit_cost = m.unit_cost if m.unit_cost is not None else b.average_cost
                    value = money(m.quantity * unit_cost)
                rows.append(
                    StockMove(
                        **common,
                        kind=m.kind,
                        quantity=m.quantity,
                        unit_cost=unit_cost,
                        value=value,
                        idempotency_key=f"{key}#{i}",
                        reason=reason,
                    )
                )
                new_on_hand = b.on_hand + m.quantity
                correction = ZERO
                if b.on_hand < 0:
                    # Stock was negative: what was shipped ahead left at an old cost; the stock left after
                    # this receipt is valued at its cost, the difference shown as its own adjustment.
                    correction = money(new_on_hand * unit_cost) - (b.value + value)
                    if correction:
                        rows.append(
                            StockMove(
                                **common,
                                kind=Kind.ADJUSTMENT,
                                quantity=ZERO,
                                unit_cost=ZERO,
                                value=correction,
                                idempotency_key=f"{key}#{i}c",
                                reason=_("Cost correction: stock received while negative"),
                            )
                        )
                b.on_hand = new_on_hand
                b.value = b.value + value + correction
                b.average_cost = cost(b.value / b.on_hand) if b.on_hand > 0 else unit_cost
            else:
                out = -m.quantity
                if b.on_hand - out < 0 and not may_go_negative:
                    name = Product.objects.filter(pk=m.data.product_id).values_list("name", flat=True).first()
                    raise ServiceError(
                        _(
                            "Not enough stock of %(product)s in %(warehouse)s: "
                            "%(on_hand)s on hand, %(qty)s needed."
                        )
                        % {
                            "product": name,
                            "warehouse": wh.code,
                            "on_hand": b.on_hand.normalize(),
                            "qty": out.normalize(),
                        },
                        field="quantity",
                    )
                price = m.unit_cost if m.kind == Kind.RETURN_OUT else None
                value = _outbound_value(b, out, price)
                if m.kind == Kind.TRANSFER_OUT:
                    transfers_out.setdefault(m.data.product_id, []).append((out, value))
                rows.append(
                    StockMove(
                        **common,
                        kind=m.kind,
                        quantity=m.quantity,
                        unit_cost=price if price is not None else b.average_cost,
                        value=-value,
                        idempotency_key=f"{key}#{i}",
                        reason=reason,
                    )
                )
                b.on_hand -= out
                b.value -= value
                if b.on_hand > 0:
                    b.average_cost = cost(b.value / b.on_hand)
        StockMove.objects.bulk_create(rows)
        for b in balances.values():
            b.save(update_fields=["on_hand", "value", "average_cost", "updated_at"])
    return rows


# --- reservations --------------------------------------------------------------------------------------


def stock_reserve(
    *,
    actor: Any,
    product_id: int,
    warehouse_id: int,
    quantity: Decimal,
    document: Any,
    document_line_id: int = 0,
    allow_over: bool = False,
) -> Reservation:
    """Hold `quantity` (base units) of a product in a warehouse for a document line; sets the line's open
    reservation to `quantity` (so calling it again with the same quantity changes nothing). Refuses to
    reserve more than is available unless `allow_over`."""
    ref = _document_ref(document)
    if ref is None:
        raise ServiceError(_("A reservation needs a document."), field="document")
    if quantity < 0 or quantity > MAX_QTY:
        raise ServiceError(_("The quantity must not be negative."), field="quantity")
    if not Warehouse.objects.filter(pk=warehouse_id).exists():
        raise ServiceError(_("Unknown warehouse."), field="warehouse")
    with transaction.atomic():
        b = lock_balances([(product_id, warehouse_id)])[(product_id, warehouse_id)]
        res, _created = Reservation.objects.select_for_update().get_or_create(
            document_type=ref.type,
            document_id=ref.id or 0,
            document_line_id=document_line_id,
            product_id=product_id,
            warehouse_id=warehouse_id,
        )
        delta = quantity - res.quantity
        if delta > 0 and b.available < delta and not allow_over:
            raise ServiceError(
                _("Only %(available)s available.") % {"available": b.available.normalize()}, field="quantity"
            )
        res.quantity = quantity
        res.save(update_fields=["quantity", "updated_at"])
        b.reserved = max(ZERO, b.reserved + delta)
        b.save(update_fields=["reserved", "updated_at"])
    return res


def stock_release(*, actor: Any, document: Any, document_line_id: int | None = None) -> Decimal:
    """Release the open reservations of a document (or one of its lines); returns the quantity released."""
    ref = _document_ref(document)
    if ref is None:
        return ZERO
    released = ZERO
    with transaction.atomic():
        qs = Reservation.objects.filter(document_type=ref.type, document_id=ref.id or 0, quantity__gt=0)
        if document_line_id is not None:
            qs = qs.filter(document_line_id=document_line_id)
        pairs = list(qs.values_list("product_id", "warehouse_id"))
        balances = lock_balances(pairs)
        for res in qs.select_for_update().order_by("product_id", "warehouse_id", "id"):
            b = balances[(res.product_id, res.warehouse_id)]
            b.reserved = max(ZERO, b.reserved - res.quantity)
            released += res.quantity
            res.quantity = ZERO
            res.save(update_fields=["quantity", "updated_at"])
        for b in balances.values():
            b.save(update_fields=["reserved", "updated_at"])
    return released


# --- this module's documents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    """A line of a transfer, count or opening stock: quantity in `unit` (default the base unit)."""

    product_id: int
    quantity: Decimal
    unit: str = ""
    unit_cost: Decimal | None = None


class _Replayed(Exception):
    def __init__(self, document_id: int | None) -> None:
        self.document_id = document_id


def _replay(key: str) -> StockDocument | None:
    doc_id = (
        StockPosting.objects.filter(idempotency_key=key, document_type="inventory.stockdocument")
        .values_list("document_id", flat=True)
        .first()
    )
    return StockDocument.objects.filter(pk=doc_id).first() if doc_id else None


def _key(idempotency_key: str | None, kind: str) -> str:
    return document_key("inventory", kind, idempotency_key)


def _document_create(
    *,
    actor: Any,
    kind: str,
    warehouse: Warehouse,
    to_warehouse: Warehouse | None,
    reason: str,
    lines: list[StockDocumentLine],
    moves: list[MoveData],
    key: str,
) -> StockDocument:
    if StockPosting.objects.filter(idempotency_key=key).exists():
        found = _replay(key)
        if found is not None:
            return found
    try:
        with transaction.atomic():
            doc = StockDocument.objects.create(
                kind=kind,
                number=number_next(doc_type=f"inventory.{kind}", prefix=DOC_PREFIX[kind]),
                warehouse=warehouse,
                to_warehouse=to_warehouse,
                reason=reason[:200],
                created_by=actor,
            )
            for line in lines:
                line.document = doc
            StockDocumentLine.objects.bulk_create(lines)
            stock_post(actor=actor, moves=moves, idempotency_key=key, document=doc)
            first = (
                StockPosting.objects.filter(idempotency_key=key).values_list("document_id", flat=True).get()
            )
            if first != doc.pk:
                raise _Replayed(first)  # a racing first call won: undo this document
    except _Replayed as replayed:
        return StockDocument.objects.get(pk=int(replayed.document_id or 0))
    return doc


def _warehouse_ok(actor: Any, warehouse: Warehouse | None, field: str = "warehouse") -> Warehouse:
    if warehouse is None:
        raise ServiceError(_("Choose a warehouse."), field=field)
    if not warehouse.is_active:
        raise ServiceError(_("The warehouse %(code)s is inactive.") % {"code": warehouse.code}, field=field)
    return warehouse


def _lines_ok(lines: Sequence[LineInput]) -> None:
    if not lines:
        raise ServiceError(_("Add at least one line."), field="lines")
    seen: set[int] = set()
    for line in lines:
        if line.product_id in seen:
            raise ServiceError(_("A product appears on two lines."), field="lines")
        seen.add(line.product_id)


def transfer_create(
    *,
    actor: Any,
    from_warehouse: Warehouse | None,
    to_warehouse: Warehouse | None,
    lines: Sequence[LineInput],
    reason: str = "",
    idempotency_key: str | None = None,
) -> StockDocument:
    """A transfer (调拨): per line a transfer out of one warehouse and a transfer in to the other, at the
    source's average cost, in one posting."""
    check_perm(actor, "inventory.manage")
    src = _warehouse_ok(actor, from_warehouse, "from_warehouse")
    dst = _warehouse_ok(actor, to_warehouse, "to_warehouse")
    if src.pk == dst.pk:
        raise ServiceError(_("Choose two different warehouses."), field="to_warehouse")
    _lines_ok(lines)
    moves: list[MoveData] = []
    doc_lines: list[StockDocumentLine] = []
    for line in lines:
        if line.quantity <= 0:
            raise ServiceError(_("The quantity must be positive."), field="quantity")
        factor = unit_factor(product_id=line.product_id, unit=line.unit)
        qty = line.quantity * factor
        moves.append(
            MoveData(product_id=line.product_id, warehouse_id=src.pk, quantity=qty, kind=Kind.TRANSFER_OUT)
        )
        moves.append(
            MoveData(product_id=line.product_id, warehouse_id=dst.pk, quantity=qty, kind=Kind.TRANSFER_IN)
        )
        doc_lines.append(StockDocumentLine(product_id=line.product_id, quantity=qty))
    return _document_create(
        actor=actor,
        kind=StockDocument.Kind.TRANSFER,
        warehouse=src,
        to_warehouse=dst,
        reason=reason,
        lines=doc_lines,
        moves=moves,
        key=_key(idempotency_key, "transfer"),
    )


def count_create(
    *,
    actor: Any,
    warehouse: Warehouse | None,
    lines: Sequence[LineInput],
    reason: str,
    idempotency_key: str | None = None,
) -> StockDocument:
    """A stock count (盘点): the counted quantity per product; the differences to the books are posted as
    adjustments (a shortage at the average cost, a surplus at the average cost too), with the reason."""
    check_perm(actor, "inventory.manage")
    wh = _warehouse_ok(actor, warehouse)
    if not reason.strip():
        raise ServiceError(_("Give a reason for the count."), field="reason")
    _lines_ok(lines)
    key = _key(idempotency_key, "count")
    if StockPosting.objects.filter(idempotency_key=key).exists() and (found := _replay(key)):
        return found
    with transaction.atomic():
        pids = [line.product_id for line in lines]
        if len(set(Product.objects.filter(pk__in=pids).values_list("pk", flat=True))) != len(pids):
            raise ServiceError(_("Unknown product."), field="product")
        balances = lock_balances((pid, wh.pk) for pid in pids)  # the book quantity cannot move meanwhile
        moves: list[MoveData] = []
        doc_lines: list[StockDocumentLine] = []
        for line in lines:
            if line.quantity < 0 or line.quantity > MAX_QTY:
                raise ServiceError(_("A counted quantity must not be negative."), field="quantity")
            counted = line.quantity * unit_factor(product_id=line.product_id, unit=line.unit)
            expected = balances[(line.product_id, wh.pk)].on_hand
            diff = counted - expected
            doc_lines.append(
                StockDocumentLine(
                    product_id=line.product_id, quantity=diff, expected=expected, counted=counted
                )
            )
            if diff:
                moves.append(
                    MoveData(
                        product_id=line.product_id,
                        warehouse_id=wh.pk,
                        quantity=diff,
                        kind=Kind.ADJUSTMENT,
                        reason=reason.strip(),
                    )
                )
        doc = _document_create(
            actor=actor,
            kind=StockDocument.Kind.COUNT,
            warehouse=wh,
            to_warehouse=None,
            reason=reason.strip(),
            lines=doc_lines,
            moves=moves,
            key=key,
        )
    return doc


def opening_create(
    *,
    actor: Any,
    warehouse: Warehouse | None,
    lines: Sequence[LineInput],
    reason: str = "",
    idempotency_key: str | None = None,
) -> StockDocument:
    """Opening stock (期初): quantities with their unit cost, posted as `opening` moves."""
    check_perm(actor, "inventory.manage")
    wh = _warehouse_ok(actor, warehouse)
    _lines_ok(lines)
    moves = [
        MoveData(
            product_id=line.product_id,
            warehouse_id=wh.pk,
            quantity=line.quantity,
            unit=line.unit,
            unit_cost=line.unit_cost,
            kind=Kind.OPENING,
        )
        for line in lines
    ]
    doc_lines = [
        StockDocumentLine(product_id=line.product_id, quantity=line.quantity, unit_cost=line.unit_cost)
        for line in lines
    ]
    return _document_create(
        actor=actor,
        kind=StockDocument.Kind.OPENING,
        warehouse=wh,
        to_warehouse=None,
        reason=reason,
        lines=doc_lines,
        moves=moves,
        key=_key(idempotency_key, "opening"),
    )


def posting_create(
    *,
    actor: Any,
    moves: Sequence[MoveData],
    idempotency_key: str,
    reason: str = "",
    document: DocumentRef | None = None,
) -> tuple[StockDocument | None, list[StockMove]]:
    """A free posting (the API's `post`): moves behind another system's document, or an adjustment
    document of this module when none is named."""
    check_perm(actor, "inventory.manage")
    if not moves:
        raise ServiceError(_("Add at least one line."), field="moves")
    if document is not None:
        return None, stock_post(
            actor=actor, moves=moves, idempotency_key=f"api:{idempotency_key}", document=document
        )
    wh = Warehouse.objects.filter(pk=moves[0].warehouse_id).first()
    if wh is None:
        raise ServiceError(_("Unknown warehouse."), field="warehouse")
    key = f"api:{idempotency_key}"
    lines = [
        StockDocumentLine(product_id=m.product_id, quantity=m.quantity, unit_cost=m.unit_cost) for m in moves
    ]
    _normalise(moves)  # refuse bad lines before a number is taken
    doc = _document_create(
        actor=actor,
        kind=StockDocument.Kind.ADJUSTMENT,
        warehouse=wh,
        to_warehouse=None,
        reason=reason,
        lines=lines,
        moves=list(moves),
        key=key,
    )
    return doc, list(StockMove.objects.filter(posting__idempotency_key=key).order_by("id"))


def document_get(pk: int) -> StockDocument:
    doc = StockDocument.objects.select_related("warehouse", "to_warehouse").filter(pk=pk).first()
    if doc is None:
        raise NotFound(_("No such document."))
    return doc


# --- the daily ledger check ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mismatch:
    product_id: int
    warehouse_id: int
    on_hand: Decimal
    ledger_quantity: Decimal
    value: Decimal
    ledger_value: Decimal


def ledger_mismatches() -> list[Mismatch]:
    """Balances whose on hand or value differ from the sums of their moves (and moves with no balance)."""
    balance, move = StockBalance._meta.db_table, StockMove._meta.db_table
    sql = f"""
        WITH sums AS (
            SELECT product_id, warehouse_id, SUM(quantity) AS q, SUM(value) AS v FROM "{move}"
            GROUP BY product_id, warehouse_id
        )
        SELECT COALESCE(b.product_id, s.product_id), COALESCE(b.warehouse_id, s.warehouse_id),
               COALESCE(b.on_hand, 0), COALESCE(s.q, 0), COALESCE(b.value, 0), COALESCE(s.v, 0)
        FROM "{balance}" b FULL OUTER JOIN sums s
          ON s.product_id = b.product_id AND s.warehouse_id = b.warehouse_id
        WHERE COALESCE(b.on_hand, 0) <> COALESCE(s.q, 0) OR COALESCE(b.value, 0) <> COALESCE(s.v, 0)
        ORDER BY 1, 2
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [Mismatch(*row) for row in cursor.fetchall()]


def ledger_check(*, today: datetime | None = None) -> list[Mismatch]:
    """Log every difference for the operators (with the tenant and the pair) and tell the owners once a
    day (a second run the same day sends no second notice)."""
    from crm.kernel.models import Notice
    from crm.kernel.notices import notice_send
    from crm.kernel.tenant_time import tenant_today
    from crm.platform.permissions import Role
    from crm.tenants.accounts.models import User

    found = ledger_mismatches()
    if not found:
        return found
    schema = getattr(connection, "schema_name", "")
    for m in found:
        log.error(
            "inventory ledger mismatch: tenant=%s product=%s warehouse=%s on_hand=%s ledger=%s value=%s "
            "ledger_value=%s",
            schema,
            m.product_id,
            m.warehouse_id,
            m.on_hand,
            m.ledger_quantity,
            m.value,
            m.ledger_value,
        )
    title = _("Stock check %(day)s: %(n)s balances differ from the stock ledger.") % {
        "day": tenant_today().isoformat(),
        "n": len(found),
    }
    for owner in User.objects.filter(role=Role.OWNER, is_active=True):
        if not Notice.objects.filter(user=owner, title=title[:200]).exists():
            notice_send(user=owner, title=title, url="/inventory/")
    return found
