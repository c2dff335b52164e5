"""Delivery progress of contracts and orders, written by the module that ships (inventory's deliveries and
customer returns) through sales.public: delivered quantity and actual cost per line, and the contract's
delivery status (none / partial / full over its product lines)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError

from .models import Contract, ContractLine

ZERO = Decimal("0")


@dataclass(frozen=True)
class DeliveryChange:
    """What one delivery (positive) or customer return (negative) changes on a contract line."""

    line_id: int
    quantity: Decimal
    cost_excl: Decimal


def contract_lock(*, contract_id: int) -> Contract:
    """Lock the contract row (the first lock of a delivery: contract, then stock balances)."""
    found = Contract.objects.select_for_update().filter(pk=contract_id).first()
    if found is None:
        raise ServiceError(_("No such contract or order."), field="contract")
    return found


def delivery_status_of(lines: Sequence[ContractLine]) -> str:
    goods = [ln for ln in lines if ln.product_id and ln.quantity > 0]
    if not goods or all(ln.delivered_quantity <= 0 for ln in goods):
        return Contract.Progress.NONE
    if all(ln.delivered_quantity >= ln.quantity for ln in goods):
        return Contract.Progress.FULL
    return Contract.Progress.PARTIAL


def contract_delivery_apply(*, actor: Any, contract_id: int, changes: Sequence[DeliveryChange]) -> Contract:
    """Add shipped (or, negative, returned) quantities and their cost to the contract's lines and recompute
    the delivery status. The caller checks its permission (inventory.ship); this keeps the invariant
    0 <= delivered <= ordered, refusing (nothing written) anything else."""
    with transaction.atomic():
        contract = contract_lock(contract_id=contract_id)
        lines = {ln.pk: ln for ln in ContractLine.objects.select_for_update().filter(document_id=contract.pk)}
        touched: dict[int, ContractLine] = {}
        for ch in changes:
            ln = lines.get(ch.line_id)
            if ln is None:
                raise ServiceError(_("The line is not on %(number)s.") % {"number": contract.number})
            delivered = ln.delivered_quantity + ch.quantity
            if delivered < 0 or delivered > ln.quantity:
                raise ServiceError(
                    _("%(item)s: %(delivered)s of %(ordered)s would be delivered.")
                    % {
                        "item": ln.description,
                        "delivered": delivered.normalize(),
                        "ordered": ln.quantity.normalize(),
                    },
                    field="quantity",
                )
            ln.delivered_quantity = delivered
            ln.actual_cost_excl = (ln.actual_cost_excl or ZERO) + ch.cost_excl
            touched[ln.pk] = ln
        ContractLine.objects.bulk_update(list(touched.values()), ["delivered_quantity", "actual_cost_excl"])
        status = delivery_status_of(list(lines.values()))
        if status != contract.delivery_status:
            Contract.objects.filter(pk=contract.pk).update(delivery_status=status)
            contract.delivery_status = status
    return contract


def contract_costs_fill(*, contract_id: int, unit_costs: dict[int, Decimal]) -> int:
    """Give the lines that have no unit cost yet the one the stock module knows at confirmation (its average
    cost, tax excl., per line unit), so that the estimated margin of an order a rep entered without seeing
    costs is not "cost unknown". Lines with a cost keep theirs. Returns the lines changed; the contract's
    cost total is recomputed in the caller's transaction."""
    from crm.kernel.documents import document_recompute

    changed = 0
    with transaction.atomic():
        for line in ContractLine.objects.filter(
            document_id=contract_id, pk__in=list(unit_costs), unit_cost_excl__isnull=True
        ).order_by("pk"):
            line.unit_cost_excl = unit_costs[line.pk]
            line.save(update_fields=["unit_cost_excl", "updated_at"])
            changed += 1
        if changed:
            document_recompute(Contract.objects.get(pk=contract_id))
    return changed
