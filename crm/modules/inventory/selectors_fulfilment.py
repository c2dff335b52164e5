"""Reads for selling from stock and samples: the "to ship" list, deliveries, returns, samples and the panels
on the sales order page and the customer page. Each list runs a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.http import Http404

import crm.modules.sales.public as sales
from crm.kernel.tenant_time import tenant_today
from crm.platform.permissions import has_perm

from .models import CustomerReturn, Delivery, DeliveryLine, Reservation, Sample, SampleLine, StockProduct
from .services_fulfilment import CONTRACT_TYPE, SHIP_PERM, samples_visible


def _open_lines() -> QuerySet[Any]:
    tracked = StockProduct.objects.filter(product_id=OuterRef("product_id"), tracked=True)
    return (
        sales.ContractLine.objects.filter(product_id__isnull=False, quantity__gt=F("delivered_quantity"))
        .annotate(_tracked=Exists(tracked))
        .filter(_tracked=True)
    )


def to_ship(*, actor: Any, q: str = "") -> QuerySet[Any]:
    """Confirmed contracts and orders with stock-tracked lines still open, oldest confirmation first."""
    if not has_perm(actor, SHIP_PERM):
        return sales.Contract.objects.none()
    open_lines = _open_lines().filter(document_id=OuterRef("pk"))
    qs = (
        sales.Contract.objects.filter(state=sales.Contract.State.CONFIRMED)
        .annotate(_open=Exists(open_lines))
        .filter(_open=True)
        .select_related("customer", "owner")
        .order_by("confirmed_at", "id")
    )
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(customer__name__icontains=q))
    return qs


def open_lines_of(contract: Any) -> list[Any]:
    """The contract's stock-tracked lines with their open quantity (`open_quantity`)."""
    rows = list(_open_lines().filter(document_id=contract.pk).order_by("position", "id"))
    for ln in rows:
        ln.open_quantity = ln.quantity - ln.delivered_quantity
    return rows


def delivery_list(*, actor: Any, contract_id: int | None = None, q: str = "") -> QuerySet[Delivery]:
    if not has_perm(actor, SHIP_PERM) and not has_perm(actor, "inventory.view"):
        return Delivery.objects.none()
    qs = (
        Delivery.objects.select_related("contract", "customer", "warehouse", "created_by")
        .annotate(n_lines=Count("lines"))
        .order_by("-shipped_at", "-id")
    )
    if contract_id:
        qs = qs.filter(contract_id=contract_id)
    q = (q or "").strip()
    if q:
        qs = qs.filter(
            Q(number__icontains=q)
            | Q(waybill__icontains=q)
            | Q(customer__name__icontains=q)
            | Q(contract__number__icontains=q)
        )
    return qs


def delivery_get(*, actor: Any, pk: int) -> Delivery:
    found = delivery_list(actor=actor).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def delivery_lines(delivery: Delivery) -> list[DeliveryLine]:
    return list(delivery.lines.select_related("product").order_by("id"))


def return_list(*, actor: Any, delivery_id: int | None = None) -> QuerySet[CustomerReturn]:
    if not has_perm(actor, SHIP_PERM) and not has_perm(actor, "inventory.view"):
        return CustomerReturn.objects.none()
    qs = CustomerReturn.objects.select_related("delivery", "delivery__customer", "warehouse", "created_by")
    qs = qs.annotate(n_lines=Count("lines")).order_by("-id")
    if delivery_id:
        qs = qs.filter(delivery_id=delivery_id)
    return qs


def return_get(*, actor: Any, pk: int) -> CustomerReturn:
    found = return_list(actor=actor).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def sample_list(
    *,
    actor: Any,
    state: str = "",
    owner_id: int | None = None,
    customer_id: int | None = None,
    overdue: bool = False,
) -> QuerySet[Sample]:
    """Samples the user may see (data scope by the owning rep), filtered; each with `n_out` lines out."""
    qs = (
        samples_visible(actor)
        .select_related("customer", "owner", "warehouse", "location")
        .annotate(n_out=Count("lines", filter=Q(lines__outcome=SampleLine.Outcome.OUT)))
        .order_by("-id")
    )
    if state:
        qs = qs.filter(state=state)
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if overdue:
        qs = qs.filter(state=Sample.State.OPEN, expected_return__lt=tenant_today())
    return qs


def sample_get(*, actor: Any, pk: int) -> Sample:
    found = sample_list(actor=actor).filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


def sample_lines(sample: Sample) -> list[SampleLine]:
    return list(sample.lines.select_related("product").order_by("id"))


# --- panels ----------------------------------------------------------------------------------------------


def order_panel_context(contract: Any, user: Any) -> dict[str, Any]:
    """The deliveries panel on the sales order page: its deliveries, reserved quantities, a ship button."""
    can_ship = has_perm(user, SHIP_PERM)
    deliveries = list(delivery_list(actor=user, contract_id=contract.pk)) if can_ship else []
    reserved = list(
        Reservation.objects.filter(document_type=CONTRACT_TYPE, document_id=contract.pk, quantity__gt=0)
        .select_related("product", "warehouse")
        .order_by("id")
    )
    open_any = (
        contract.state == sales.Contract.State.CONFIRMED
        and _open_lines().filter(document_id=contract.pk).exists()
    )
    return {
        "contract": contract,
        "deliveries": deliveries,
        "reserved": reserved,
        "can_ship": can_ship and open_any,
    }


def customer_panel_context(customer: Any, user: Any) -> dict[str, Any]:
    samples = list(sample_list(actor=user, customer_id=customer.pk, state=Sample.State.OPEN)[:20])
    return {"samples": samples, "today": tenant_today()}
