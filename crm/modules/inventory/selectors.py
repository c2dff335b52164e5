"""Inventory reads. Stock is the company's, not a rep's: holders of `inventory.view` see every warehouse
(there is no owner-based data scope on stock rows)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest
from django.utils.translation import gettext as _

from crm.kernel.tenant_time import day_bounds
from crm.modules.core.public import Product
from crm.platform.errors import PermissionDenied
from crm.platform.permissions import has_perm

from .models import StockBalance, StockDocument, StockMove, StockProduct, UnitConversion, Warehouse

ZERO = Decimal("0")
QTY_FIELD: DecimalField[Decimal, Decimal] = DecimalField(max_digits=18, decimal_places=4)


def require_view(actor: Any) -> None:
    if not has_perm(actor, "inventory.view"):
        raise PermissionDenied(_("You are not allowed to do this."))


def warehouse_list(*, actor: Any, active_only: bool = False) -> QuerySet[Warehouse]:
    require_view(actor)
    qs = Warehouse.objects.order_by("code")
    return qs.filter(is_active=True) if active_only else qs


def balance_list(
    *,
    actor: Any,
    warehouse_id: int | None = None,
    product_id: int | None = None,
    low: bool = False,
    q: str = "",
) -> QuerySet[StockBalance]:
    """Balances with the product and warehouse, `available` and the product's minimum stock annotated;
    `low`: available below the product's minimum."""
    require_view(actor)
    qs = (
        StockBalance.objects.select_related("product", "warehouse")
        .annotate(
            available_qty=ExpressionWrapper(F("on_hand") - F("reserved"), output_field=QTY_FIELD),
            min_stock=Coalesce(F("product__stock_settings__min_stock"), Value(ZERO), output_field=QTY_FIELD),
        )
        .order_by("product__name", "product_id", "warehouse__code")
    )
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    if product_id:
        qs = qs.filter(product_id=product_id)
    if low:
        qs = qs.filter(available_qty__lt=F("min_stock"))
    q = q.strip()
    if q:
        qs = qs.filter(Q(product__name__icontains=q) | Q(product__code__istartswith=q))
    return qs


def balance_get(*, product_id: int, warehouse_id: int) -> StockBalance | None:
    return StockBalance.objects.filter(product_id=product_id, warehouse_id=warehouse_id).first()


def available(*, product_id: int, warehouse_id: int | None = None) -> Decimal:
    """On hand minus reserved, in one warehouse or all."""
    qs = StockBalance.objects.filter(product_id=product_id)
    if warehouse_id is not None:
        qs = qs.filter(warehouse_id=warehouse_id)
    row = qs.aggregate(v=Sum(F("on_hand") - F("reserved"), output_field=QTY_FIELD))
    return row["v"] or ZERO


def stock_value_total(*, actor: Any, warehouse_id: int | None = None) -> Decimal:
    require_view(actor)
    qs = StockBalance.objects.all()
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    return qs.aggregate(v=Sum("value"))["v"] or ZERO


def stock_as_of(
    *, actor: Any, day: date, warehouse_id: int | None = None, product_id: int | None = None
) -> Any:
    """Quantity and value per (product, warehouse) at the end of `day` (tenant time zone), summed from the
    moves (one GROUP BY, no replay); pairs that were at zero are left out."""
    require_view(actor)
    _start, end = day_bounds(day)
    qs = StockMove.objects.filter(posted_at__lt=end)
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    if product_id:
        qs = qs.filter(product_id=product_id)
    return (
        qs.values("product_id", "warehouse_id")
        .annotate(quantity=Sum("quantity"), value=Sum("value"))
        .filter(~Q(quantity=0) | ~Q(value=0))
        .order_by("product_id", "warehouse_id")
    )


def stock_value_as_of(*, actor: Any, day: date, warehouse_id: int | None = None) -> Decimal:
    require_view(actor)
    _start, end = day_bounds(day)
    qs = StockMove.objects.filter(posted_at__lt=end)
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    return qs.aggregate(v=Sum("value"))["v"] or ZERO


def move_list(
    *,
    actor: Any,
    product_id: int | None = None,
    warehouse_id: int | None = None,
    since: Any = None,
) -> QuerySet[StockMove]:
    require_view(actor)
    qs = StockMove.objects.select_related("product", "warehouse").order_by("-posted_at", "-id")
    if product_id:
        qs = qs.filter(product_id=product_id)
    if warehouse_id:
        qs = qs.filter(warehouse_id=warehouse_id)
    if since is not None:
        qs = qs.filter(posted_at__gte=since)
    return qs


def reorder_suggestions(*, actor: Any) -> QuerySet[StockProduct]:
    """Products whose available stock (all warehouses) is below their minimum: the suggested quantity is
    the reorder quantity, or what brings them back to the minimum when that is more."""
    require_view(actor)
    avail = (
        StockBalance.objects.filter(product_id=OuterRef("product_id"))
        .values("product_id")
        .annotate(v=Sum(F("on_hand") - F("reserved"), output_field=QTY_FIELD))
        .values("v")
    )
    return (
        StockProduct.objects.filter(tracked=True, min_stock__gt=0)
        .select_related("product")
        .annotate(
            available_qty=Coalesce(
                Subquery(avail, output_field=QTY_FIELD), Value(ZERO), output_field=QTY_FIELD
            )
        )
        .filter(available_qty__lt=F("min_stock"))
        .annotate(
            suggested=Greatest(F("reorder_qty"), F("min_stock") - F("available_qty"), output_field=QTY_FIELD)
        )
        .order_by("product__name", "product_id")
    )


def document_list(*, actor: Any, kind: str | None = None) -> QuerySet[StockDocument]:
    require_view(actor)
    qs = StockDocument.objects.select_related("warehouse", "to_warehouse", "created_by").order_by("-id")
    return qs.filter(kind=kind) if kind else qs


def product_list(*, actor: Any) -> QuerySet[Product]:
    """Active products for the stock forms."""
    require_view(actor)
    return Product.objects.filter(is_active=True).order_by("name", "id")


def conversions_of(*, actor: Any, product_id: int) -> QuerySet[UnitConversion]:
    require_view(actor)
    return UnitConversion.objects.filter(product_id=product_id).order_by("unit")


def widget_context(user: Any) -> dict[str, Any]:
    """The dashboard widget: stock value and the number of products to reorder."""
    return {
        "stock_value": stock_value_total(actor=user),
        "to_reorder": reorder_suggestions(actor=user).count(),
    }
