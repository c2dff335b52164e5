"""Selling from stock and samples (issue 12 items 5 and 6): reservations of confirmed sales orders, deliveries
(发货/出库), customer returns (退货入库) and samples (样品).

Lock order, the same everywhere: the sales contract row (sales.public.contract_lock, also what a contract
transition locks), then the stock balances in (product id, warehouse id) order (services.lock_balances), so
two deliveries, or a delivery and a confirmation, queue instead of deadlocking. Every posting carries one
idempotency key per document: a retried request or task finds the document and posts nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import crm.modules.sales.public as sales
from crm.kernel.documents import LineData
from crm.kernel.keys import document_key
from crm.kernel.numbering import number_next
from crm.modules.core.public import Customer, Product, customers_visible
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import check_perm, has_perm

from .models import (
    CustomerReturn,
    CustomerReturnLine,
    Delivery,
    DeliveryLine,
    Reservation,
    Sample,
    SampleLine,
    StockProduct,
    Warehouse,
)
from .services import (
    MAX_QTY,
    ZERO,
    DocumentRef,
    Kind,
    MoveData,
    cost,
    lock_balances,
    settings_get,
    stock_post,
    stock_release,
    stock_reserve,
    unit_factor,
)

CONTRACT_TYPE = "sales.contract"
SHIP_PERM = "inventory.ship"
SAMPLE_PERM = "inventory.sample"


def _qty(value: Any, *, field: str = "quantity") -> Decimal:
    try:
        qty = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        raise ServiceError(_("Enter a quantity."), field=field) from None
    if not qty.is_finite() or qty <= 0 or qty > MAX_QTY:
        raise ServiceError(_("The quantity must be positive."), field=field)
    return qty


def _key(prefix: str, key: str | None) -> str:
    return document_key("inventory", prefix, key)


def contract_ref(contract: Any) -> DocumentRef:
    return DocumentRef(type=CONTRACT_TYPE, id=contract.pk, number=str(contract.number))


def tracked_ids(product_ids: Sequence[int]) -> set[int]:
    """The products with stock settings marked stock-tracked (others, e.g. services, are not shipped)."""
    return set(
        StockProduct.objects.filter(product_id__in=list(product_ids), tracked=True).values_list(
            "product_id", flat=True
        )
    )


def default_warehouse() -> Warehouse | None:
    """The workspace's default warehouse (inventory settings), else the first active stock warehouse."""
    conf = settings_get()
    if conf.default_warehouse_id:
        wh = Warehouse.objects.filter(pk=conf.default_warehouse_id, is_active=True).first()
        if wh is not None:
            return wh
    return Warehouse.objects.filter(is_active=True, kind=Warehouse.Kind.STOCK).order_by("code").first()


def default_warehouse_set(*, actor: Any, warehouse: Warehouse | None) -> None:
    check_perm(actor, "inventory.manage")
    if warehouse is not None and (warehouse.kind != Warehouse.Kind.STOCK or not warehouse.is_active):
        raise ServiceError(_("Choose an active stock warehouse."), field="warehouse")
    conf = settings_get()
    conf.default_warehouse = warehouse
    conf.save(update_fields=["default_warehouse", "updated_at"])


def _negative_ok(wh: Warehouse) -> bool:
    return bool(settings_get().allow_negative or wh.allows_negative)


def _name(product_id: int) -> str:
    return str(Product.objects.filter(pk=product_id).values_list("name", flat=True).first() or product_id)


# --- reservations: the sales contract's document hooks -----------------------------------------------------


def on_contract_event(*, actor: Any, document: Any, event: str) -> None:
    """The manifest's document hook for sales.contract confirm / cancel / complete (called inside the
    transition's transaction, the contract row locked): confirm reserves every stock-tracked line's open
    quantity in the default warehouse, refusing when not enough is available (unless negative stock is
    allowed); cancel releases; complete releases what is left."""
    if event in ("cancel", "complete"):
        stock_release(actor=actor, document=contract_ref(document))
        return
    if event != "confirm":
        return
    lines = list(sales.ContractLine.objects.filter(document_id=document.pk, product_id__isnull=False))
    tracked = tracked_ids([ln.product_id for ln in lines if ln.product_id])
    lines = [ln for ln in lines if ln.product_id in tracked and ln.quantity > ln.delivered_quantity]
    if not lines:
        return
    wh = default_warehouse()
    if wh is None:
        raise ServiceError(_("There is no active stock warehouse to reserve the order's goods in."))
    wanted: list[tuple[Any, Decimal]] = []
    for ln in lines:
        factor = unit_factor(product_id=int(ln.product_id or 0), unit=ln.unit)
        wanted.append((ln, (ln.quantity - ln.delivered_quantity) * factor))
    balances = lock_balances((ln.product_id, wh.pk) for ln, _q in wanted)
    over_ok = _negative_ok(wh)
    need: dict[int, Decimal] = {}
    for ln, qty in wanted:
        need[ln.product_id] = need.get(ln.product_id, ZERO) + qty
    if not over_ok:
        for pid, qty in sorted(need.items()):
            b = balances[(pid, wh.pk)]
            if b.available < qty:
                raise ServiceError(
                    _(
                        "Not enough %(product)s in %(warehouse)s to confirm: %(qty)s needed, "
                        "%(available)s available."
                    )
                    % {
                        "product": _name(pid),
                        "warehouse": wh.code,
                        "qty": qty.normalize(),
                        "available": b.available.normalize(),
                    },
                    field="quantity",
                    code="stock_short",
                )
    # The cost known at confirmation: lines entered without a cost (a rep does not see costs) are estimated at
    # today's average cost, so the order's estimated margin is not "cost unknown".
    # qty / open quantity is the line unit's factor (base units per unit).
    sales.contract_costs_fill(
        contract_id=document.pk,
        unit_costs={
            ln.pk: cost(
                balances[(ln.product_id, wh.pk)].average_cost * qty / (ln.quantity - ln.delivered_quantity)
            )
            for ln, qty in wanted
            if ln.unit_cost_excl is None and balances[(ln.product_id, wh.pk)].average_cost > 0
        },
    )
    ref = contract_ref(document)
    for ln, qty in wanted:
        stock_reserve(
            actor=actor,
            product_id=ln.product_id,
            warehouse_id=wh.pk,
            quantity=qty,
            document=ref,
            document_line_id=ln.pk,
            allow_over=True,
        )


# --- deliveries ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShipLine:
    contract_line_id: int
    quantity: Decimal


def _stock_warehouse(warehouse: Warehouse | None) -> Warehouse:
    if warehouse is None:
        raise ServiceError(_("Choose a warehouse."), field="warehouse")
    saved = Warehouse.objects.filter(pk=warehouse.pk).first()
    if saved is None:
        raise ServiceError(_("Unknown warehouse."), field="warehouse")
    if not saved.is_active or saved.kind != Warehouse.Kind.STOCK:
        raise ServiceError(_("Choose an active stock warehouse."), field="warehouse")
    return saved


def _lines_in(lines: Sequence[ShipLine | tuple[int, Any]]) -> list[ShipLine]:
    out: list[ShipLine] = []
    seen: set[int] = set()
    for item in lines:
        line_id, qty = (item.contract_line_id, item.quantity) if isinstance(item, ShipLine) else item
        try:
            line_id = int(line_id)
        except (TypeError, ValueError):
            raise ServiceError(_("Unknown line."), field="lines") from None
        if line_id in seen:
            raise ServiceError(_("A line appears twice."), field="lines")
        seen.add(line_id)
        out.append(ShipLine(line_id, _qty(qty)))
    if not out:
        raise ServiceError(_("Enter a quantity for at least one line."), field="lines")
    return out


def delivery_create(
    *,
    actor: Any,
    contract: Any,
    warehouse: Warehouse | None,
    lines: Sequence[ShipLine | tuple[int, Any]],
    waybill: str = "",
    carrier: str = "",
    note: str = "",
    idempotency_key: str | None = None,
    shipped_at: datetime | None = None,
) -> Delivery:
    """Ship (part of) a confirmed contract or order: per line at most what is still open, `delivery` moves
    through stock_post (one key per delivery), the reservation lowered, the contract's delivered quantities,
    actual cost and delivery status updated (sales.public.contract_delivery_apply). Refused, nothing
    written, for a draft or cancelled order, more than is open, or more than is available."""
    check_perm(actor, SHIP_PERM, _("You may not ship orders."))
    key = _key("delivery", idempotency_key)
    found = Delivery.objects.filter(idempotency_key=key).first()
    if found is not None:
        return found
    wanted = _lines_in(lines)
    wh = _stock_warehouse(warehouse)
    try:
        with transaction.atomic():
            return _delivery_write(actor, contract, wh, wanted, key, waybill, carrier, note, shipped_at)
    except IntegrityError:
        found = Delivery.objects.filter(idempotency_key=key).first()  # a racing retry won
        if found is None:
            raise
        return found


def _delivery_write(
    actor: Any,
    contract: Any,
    wh: Warehouse,
    wanted: list[ShipLine],
    key: str,
    waybill: str,
    carrier: str,
    note: str,
    shipped_at: datetime | None,
) -> Delivery:
    locked = sales.contract_lock(contract_id=contract.pk)
    found = Delivery.objects.filter(idempotency_key=key).first()
    if found is not None:  # the first call committed while this one waited for the contract
        return found
    if locked.state != sales.Contract.State.CONFIRMED:
        raise ServiceError(
            _("%(number)s is %(state)s: only a confirmed contract or order is shipped.")
            % {"number": locked.number, "state": locked.get_state_display()},
            code="not_confirmed",
        )
    by_id = {ln.pk: ln for ln in sales.ContractLine.objects.filter(document_id=locked.pk)}
    tracked = tracked_ids([ln.product_id for ln in by_id.values() if ln.product_id])
    rows: list[tuple[Any, Decimal, Decimal]] = []  # contract line, quantity, base quantity
    for item in wanted:
        ln = by_id.get(item.contract_line_id)
        if ln is None:
            raise ServiceError(_("The line is not on %(number)s.") % {"number": locked.number}, field="lines")
        if not ln.product_id or ln.product_id not in tracked:
            raise ServiceError(
                _("%(item)s is not a stock-tracked product.") % {"item": ln.description}, field="lines"
            )
        open_qty = ln.quantity - ln.delivered_quantity
        if item.quantity > open_qty:
            raise ServiceError(
                _("%(item)s: %(qty)s to ship, only %(open)s still open.")
                % {"item": ln.description, "qty": item.quantity.normalize(), "open": open_qty.normalize()},
                field="quantity",
            )
        factor = unit_factor(product_id=ln.product_id, unit=ln.unit)
        rows.append((ln, item.quantity, item.quantity * factor))
    ref = contract_ref(locked)
    balances = lock_balances((ln.product_id, wh.pk) for ln, _q, _b in rows)
    own = {
        (r.product_id, r.document_line_id): r
        for r in Reservation.objects.select_for_update().filter(
            document_type=ref.type, document_id=locked.pk, warehouse=wh
        )
    }
    if not _negative_ok(wh):
        need: dict[int, Decimal] = {}
        mine: dict[int, Decimal] = {}
        for ln, _q, base in rows:
            need[ln.product_id] = need.get(ln.product_id, ZERO) + base
            res = own.get((ln.product_id, ln.pk))
            mine[ln.product_id] = mine.get(ln.product_id, ZERO) + (min(res.quantity, base) if res else ZERO)
        for pid, qty in sorted(need.items()):
            b = balances[(pid, wh.pk)]
            free = b.on_hand - b.reserved + mine[pid]  # what others have not reserved
            if qty > free:
                raise ServiceError(
                    _("Not enough %(product)s in %(warehouse)s: %(qty)s to ship, %(available)s available.")
                    % {
                        "product": _name(pid),
                        "warehouse": wh.code,
                        "qty": qty.normalize(),
                        "available": max(free, ZERO).normalize(),
                    },
                    field="quantity",
                    code="stock_short",
                )
    delivery = Delivery.objects.create(
        number=number_next(doc_type="inventory.delivery", prefix="FH"),
        contract_id=locked.pk,
        customer_id=locked.customer_id,
        warehouse=wh,
        waybill=waybill.strip()[:60],
        carrier=carrier.strip()[:60],
        note=note.strip()[:300],
        shipped_at=shipped_at or timezone.now(),
        idempotency_key=key,
        created_by=actor,
    )
    dlines = DeliveryLine.objects.bulk_create(
        DeliveryLine(
            delivery=delivery,
            contract_line_id=ln.pk,
            product_id=ln.product_id,
            description=ln.description[:300],
            unit=ln.unit,
            quantity=qty,
            base_quantity=base,
        )
        for ln, qty, base in rows
    )
    moves = stock_post(
        actor=actor,
        moves=[
            MoveData(
                product_id=dl.product_id,
                warehouse_id=wh.pk,
                quantity=dl.base_quantity,
                kind=Kind.DELIVERY,
                document_line_id=dl.pk,
            )
            for dl in dlines
        ],
        idempotency_key=key,
        document=DocumentRef(type="inventory.delivery", id=delivery.pk, number=delivery.number),
        allow_negative=True if _negative_ok(wh) else None,
    )
    value_of = {m.document_line_id: -m.value for m in moves if m.kind == Kind.DELIVERY}
    for dl in dlines:
        dl.value = value_of.get(dl.pk, ZERO)
    DeliveryLine.objects.bulk_update(dlines, ["value"])
    # What was shipped no longer needs holding: lower the line's reservations.
    for ln, _q, base in rows:
        left = base
        for res in Reservation.objects.filter(
            document_type=ref.type, document_id=locked.pk, document_line_id=ln.pk, quantity__gt=0
        ).order_by("id"):
            if left <= 0:
                break
            take = min(left, res.quantity)
            stock_reserve(
                actor=actor,
                product_id=res.product_id,
                warehouse_id=res.warehouse_id,
                quantity=res.quantity - take,
                document=ref,
                document_line_id=ln.pk,
                allow_over=True,
            )
            left -= take
    sales.contract_delivery_apply(
        actor=actor,
        contract_id=locked.pk,
        changes=[
            sales.DeliveryChange(line_id=ln.pk, quantity=qty, cost_excl=dl.value)
            for dl, (ln, qty, _b) in zip(dlines, rows, strict=True)
        ],
    )
    return delivery


# --- customer returns ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnLine:
    delivery_line_id: int
    quantity: Decimal


def return_create(
    *,
    actor: Any,
    delivery: Delivery,
    lines: Sequence[ReturnLine | tuple[int, Any]],
    reason: str = "",
    warehouse: Warehouse | None = None,
    idempotency_key: str | None = None,
) -> CustomerReturn:
    """A customer return against a delivery: per delivery line at most what was delivered and not yet
    returned, `return_in` moves at the cost it left with, the contract's delivered quantity and actual cost
    lowered (delivery status follows)."""
    check_perm(actor, SHIP_PERM, _("You may not record returns."))
    key = _key("return", idempotency_key)
    found = CustomerReturn.objects.filter(idempotency_key=key).first()
    if found is not None:
        return found
    wanted: list[ReturnLine] = []
    seen: set[int] = set()
    for item in lines:
        lid, qty = (item.delivery_line_id, item.quantity) if isinstance(item, ReturnLine) else item
        try:
            lid = int(lid)
        except (TypeError, ValueError):
            raise ServiceError(_("Unknown line."), field="lines") from None
        if lid in seen:
            raise ServiceError(_("A line appears twice."), field="lines")
        seen.add(lid)
        wanted.append(ReturnLine(lid, _qty(qty)))
    if not wanted:
        raise ServiceError(_("Enter a quantity for at least one line."), field="lines")
    wh = _stock_warehouse(warehouse or delivery.warehouse)
    try:
        with transaction.atomic():
            sales.contract_lock(contract_id=delivery.contract_id)
            found = CustomerReturn.objects.filter(idempotency_key=key).first()
            if found is not None:
                return found
            by_id = {
                dl.pk: dl for dl in DeliveryLine.objects.select_for_update().filter(delivery_id=delivery.pk)
            }
            rows: list[tuple[DeliveryLine, Decimal]] = []
            for item in wanted:
                dl = by_id.get(item.delivery_line_id)
                if dl is None:
                    raise ServiceError(
                        _("The line is not on %(number)s.") % {"number": delivery.number}, field="lines"
                    )
                if item.quantity > dl.returnable:
                    raise ServiceError(
                        _("%(item)s: %(qty)s to return, only %(open)s delivered and not yet returned.")
                        % {
                            "item": dl.description,
                            "qty": item.quantity.normalize(),
                            "open": dl.returnable.normalize(),
                        },
                        field="quantity",
                    )
                rows.append((dl, item.quantity))
            ret = CustomerReturn.objects.create(
                number=number_next(doc_type="inventory.return", prefix="TH"),
                delivery=delivery,
                warehouse=wh,
                reason=reason.strip()[:200],
                idempotency_key=key,
                created_by=actor,
            )
            rlines = CustomerReturnLine.objects.bulk_create(
                CustomerReturnLine(customer_return=ret, delivery_line=dl, quantity=qty) for dl, qty in rows
            )
            moves = []
            for rl, (dl, qty) in zip(rlines, rows, strict=True):
                factor = dl.base_quantity / dl.quantity
                base = qty * factor
                moves.append(
                    MoveData(
                        product_id=dl.product_id,
                        warehouse_id=wh.pk,
                        quantity=base,
                        kind=Kind.RETURN_IN,
                        unit_cost=cost(dl.value / dl.base_quantity) if dl.base_quantity else ZERO,
                        document_line_id=rl.pk,
                        reason=reason.strip()[:200],
                    )
                )
            posted = stock_post(
                actor=actor,
                moves=moves,
                idempotency_key=key,
                document=DocumentRef(type="inventory.customerreturn", id=ret.pk, number=ret.number),
            )
            value_of = {m.document_line_id: m.value for m in posted if m.kind == Kind.RETURN_IN}
            for rl, (dl, qty) in zip(rlines, rows, strict=True):
                rl.value = value_of.get(rl.pk, ZERO)
                dl.returned += qty
            CustomerReturnLine.objects.bulk_update(rlines, ["value"])
            DeliveryLine.objects.bulk_update([dl for dl, _q in rows], ["returned"])
            sales.contract_delivery_apply(
                actor=actor,
                contract_id=delivery.contract_id,
                changes=[
                    sales.DeliveryChange(line_id=dl.contract_line_id, quantity=-qty, cost_excl=-rl.value)
                    for rl, (dl, qty) in zip(rlines, rows, strict=True)
                ],
            )
            return ret
    except IntegrityError:
        found = CustomerReturn.objects.filter(idempotency_key=key).first()
        if found is None:
            raise
        return found


# --- samples ---------------------------------------------------------------------------------------------


def sample_location() -> Warehouse:
    """The first active sample location, created as "SAMPLE 样品库" when there is none."""
    found = Warehouse.objects.filter(kind=Warehouse.Kind.SAMPLE, is_active=True).order_by("code").first()
    if found is not None:
        return found
    wh, _created = Warehouse.objects.get_or_create(
        code="SAMPLE", defaults={"name": "样品库", "kind": Warehouse.Kind.SAMPLE}
    )
    if wh.kind != Warehouse.Kind.SAMPLE or not wh.is_active:
        wh.kind, wh.is_active = Warehouse.Kind.SAMPLE, True
        wh.save(update_fields=["kind", "is_active", "updated_at"])
    return wh


def samples_visible(user: Any) -> Any:
    """Samples the user may see: all for warehouse staff and admins (inventory.manage), else by the data
    scope of the rep who owns them (a rep sees their own, a manager their team's)."""
    from crm.kernel.scope import visible_to

    if not has_perm(user, SAMPLE_PERM) and not has_perm(user, "inventory.view"):
        return Sample.objects.none()
    if has_perm(user, "inventory.manage"):
        return Sample.objects.all()
    return visible_to(Sample.objects.all(), user, owner_field="owner")


def _sample_check(actor: Any, sample: Sample) -> Sample:
    check_perm(actor, SAMPLE_PERM, _("You may not handle samples."))
    if not samples_visible(actor).filter(pk=sample.pk).exists():
        raise PermissionDenied(_("You may not change %(number)s.") % {"number": sample.number})
    return sample


@dataclass(frozen=True)
class SampleInput:
    product_id: int
    quantity: Decimal


def sample_issue(
    *,
    actor: Any,
    customer: Customer,
    warehouse: Warehouse | None,
    lines: Sequence[SampleInput | tuple[int, Any]],
    expected_return: date | None = None,
    owner: Any = None,
    note: str = "",
    idempotency_key: str | None = None,
) -> Sample:
    """Issue samples to a customer: a transfer from a stock warehouse to the sample location."""
    check_perm(actor, SAMPLE_PERM, _("You may not handle samples."))
    key = _key("sample", idempotency_key)
    found = Sample.objects.filter(idempotency_key=key).first()
    if found is not None:
        return found
    if not customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not see this customer."))
    wh = _stock_warehouse(warehouse)
    items: list[SampleInput] = []
    seen: set[int] = set()
    for item in lines:
        pid, qty = (item.product_id, item.quantity) if isinstance(item, SampleInput) else item
        if pid in seen:
            raise ServiceError(_("A product appears on two lines."), field="lines")
        seen.add(pid)
        items.append(SampleInput(int(pid), _qty(qty)))
    if not items:
        raise ServiceError(_("Add at least one line."), field="lines")
    owner = owner or actor
    location = sample_location()
    try:
        with transaction.atomic():
            sample = Sample.objects.create(
                number=number_next(doc_type="inventory.sample", prefix="YP"),
                customer=customer,
                owner=owner,
                warehouse=wh,
                location=location,
                expected_return=expected_return,
                note=note.strip()[:300],
                idempotency_key=key,
                created_by=actor,
            )
            slines = SampleLine.objects.bulk_create(
                SampleLine(sample=sample, product_id=i.product_id, quantity=i.quantity) for i in items
            )
            moves: list[MoveData] = []
            for sl in slines:
                moves.append(
                    MoveData(sl.product_id, wh.pk, sl.quantity, Kind.TRANSFER_OUT, document_line_id=sl.pk)
                )
                moves.append(
                    MoveData(
                        sl.product_id, location.pk, sl.quantity, Kind.TRANSFER_IN, document_line_id=sl.pk
                    )
                )
            stock_post(actor=actor, moves=moves, idempotency_key=key, document=sample)
            return sample
    except IntegrityError:
        found = Sample.objects.filter(idempotency_key=key).first()
        if found is None:
            raise
        return found


def _open_line(actor: Any, line: SampleLine) -> tuple[Sample, SampleLine]:
    sample = _sample_check(actor, Sample.objects.get(pk=line.sample_id))
    saved = SampleLine.objects.select_for_update().get(pk=line.pk)
    if saved.outcome != SampleLine.Outcome.OUT:
        raise ServiceError(
            _("This sample line is already %(outcome)s.") % {"outcome": saved.get_outcome_display()},
            code="sample_closed",
        )
    return sample, saved


def _close_if_done(sample: Sample) -> None:
    if not SampleLine.objects.filter(sample=sample, outcome=SampleLine.Outcome.OUT).exists():
        Sample.objects.filter(pk=sample.pk).update(state=Sample.State.CLOSED)
        sample.state = Sample.State.CLOSED


def sample_line_return(*, actor: Any, line: SampleLine) -> SampleLine:
    """The sample came back: a transfer from the sample location to the warehouse it left."""
    with transaction.atomic():
        sample, saved = _open_line(actor, line)
        stock_post(
            actor=actor,
            moves=[
                MoveData(
                    saved.product_id,
                    sample.location_id,
                    saved.quantity,
                    Kind.TRANSFER_OUT,
                    document_line_id=saved.pk,
                ),
                MoveData(
                    saved.product_id,
                    sample.warehouse_id,
                    saved.quantity,
                    Kind.TRANSFER_IN,
                    document_line_id=saved.pk,
                ),
            ],
            idempotency_key=f"inventory:sample-line:{saved.pk}:returned",
            document=sample,
        )
        saved.outcome, saved.closed_at = SampleLine.Outcome.RETURNED, timezone.now()
        saved.save(update_fields=["outcome", "closed_at", "updated_at"])
        _close_if_done(sample)
    return saved


def sample_line_consume(*, actor: Any, line: SampleLine, reason: str) -> SampleLine:
    """The sample was used up or kept: it leaves the sample location as an adjustment at cost."""
    if not reason.strip():
        raise ServiceError(_("Give a reason."), field="reason")
    with transaction.atomic():
        sample, saved = _open_line(actor, line)
        stock_post(
            actor=actor,
            moves=[
                MoveData(
                    saved.product_id,
                    sample.location_id,
                    -saved.quantity,
                    Kind.ADJUSTMENT,
                    reason=reason.strip()[:200],
                    document_line_id=saved.pk,
                )
            ],
            idempotency_key=f"inventory:sample-line:{saved.pk}:consumed",
            document=sample,
            allow_negative=False,
        )
        saved.outcome, saved.closed_at = SampleLine.Outcome.CONSUMED, timezone.now()
        saved.reason = reason.strip()[:200]
        saved.save(update_fields=["outcome", "closed_at", "reason", "updated_at"])
        _close_if_done(sample)
    return saved


def sample_convert(*, actor: Any, sample: Sample, line_ids: Sequence[int] | None = None) -> Any:
    """Turn the open lines (or the given ones) into a draft sales order for the customer (sales.public):
    the samples go back to their warehouse, so the order reserves and ships them like any other stock."""
    check_perm(actor, "sales.contract_edit", _("You may not create orders."))
    with transaction.atomic():
        locked = Sample.objects.select_for_update().get(pk=sample.pk)
        _sample_check(actor, locked)
        qs = SampleLine.objects.filter(sample=locked, outcome=SampleLine.Outcome.OUT)
        if line_ids is not None:
            qs = qs.filter(pk__in=list(line_ids))
        lines = list(qs.select_related("product").select_for_update(of=("self",)))
        if not lines:
            raise ServiceError(_("No sample line is still out."), code="sample_closed")
        order = sales.contract_create(
            actor=actor,
            customer=locked.customer,
            kind=sales.Contract.Kind.ORDER,
            title=_("Order from samples %(number)s") % {"number": locked.number},
            lines=[
                LineData(
                    description=sl.product.name,
                    quantity=sl.quantity,
                    unit_price_incl=sl.product.price,
                    vat_rate=sl.product.vat_rate if sl.product.vat_rate is not None else Decimal("0.13"),
                    unit=sl.product.unit,
                    product_id=sl.product_id,
                )
                for sl in lines
            ],
        )
        stock_post(
            actor=actor,
            moves=[
                m
                for sl in lines
                for m in (
                    MoveData(
                        sl.product_id,
                        locked.location_id,
                        sl.quantity,
                        Kind.TRANSFER_OUT,
                        document_line_id=sl.pk,
                    ),
                    MoveData(
                        sl.product_id,
                        locked.warehouse_id,
                        sl.quantity,
                        Kind.TRANSFER_IN,
                        document_line_id=sl.pk,
                    ),
                )
            ],
            idempotency_key=f"inventory:sample:{locked.pk}:converted:{order.pk}",
            document=locked,
        )
        now = timezone.now()
        SampleLine.objects.filter(pk__in=[sl.pk for sl in lines]).update(
            outcome=SampleLine.Outcome.CONVERTED, closed_at=now, updated_at=now
        )
        Sample.objects.filter(pk=locked.pk).update(order_id=order.pk)
        _close_if_done(locked)
    return order


def samples_remind(*, today: date | None = None) -> int:
    """A notice to the rep for each open sample past its expected return date, once per sample (the
    periodic task; running it again sends nothing new). Returns notices sent."""
    from crm.kernel.notices import notice_send
    from crm.kernel.tenant_time import tenant_today

    today = today or tenant_today()
    sent = 0
    due = Sample.objects.filter(
        state=Sample.State.OPEN, expected_return__lt=today, reminded_on__isnull=True
    ).select_related("customer", "owner")
    for sample in due:
        with transaction.atomic():
            claimed = Sample.objects.filter(pk=sample.pk, reminded_on__isnull=True).update(reminded_on=today)
            if not claimed:
                continue
            notice_send(
                user=sample.owner,
                title=_("Samples %(number)s for %(customer)s were due back on %(day)s.")
                % {
                    "number": sample.number,
                    "customer": sample.customer.name,
                    "day": sample.expected_return.isoformat() if sample.expected_return else "",
                },
                url=f"/inventory/samples/{sample.pk}/",
            )
            sent += 1
    return sent


def open_filter(qs: Any) -> Any:
    """Samples still out (the customer link's open filter for handover)."""
    return qs.filter(state=Sample.State.OPEN)
