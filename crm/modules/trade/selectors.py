"""The trade owner's overview (/trade/): sales this month and this year, gross margin estimated and actual
with 12 months, stock value, slow movers, receivables open and overdue, and payables once purchasing is
there. Each figure comes from its capability's public selectors and runs a fixed number of queries; what
a user sees of margins follows the sales capability's cost visibility."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import DecimalField, Max, OuterRef, Subquery, Sum
from django.utils import timezone

from crm.modules.inventory.public import StockBalance, StockMove, stock_value_total
from crm.modules.purchasing.public import payables_totals
from crm.modules.sales.public import (
    can_see_costs,
    can_see_margin_percent,
    margin_by_month,
    receivables_totals,
    sales_totals,
)
from crm.platform.permissions import has_perm

SLOW_DAYS = 90
SLOW_LIMIT = 10
MONEY: Any = DecimalField(max_digits=20, decimal_places=2)
QTY: Any = DecimalField(max_digits=18, decimal_places=4)


def slow_movers(*, days: int = SLOW_DAYS, limit: int = SLOW_LIMIT) -> list[dict[str, Any]]:
    """Products with stock on hand and no delivery (outbound stock move to a customer) in the last `days`
    days, the `limit` largest by stock value, with their last delivery ever: one query."""
    since = timezone.now() - timedelta(days=days)
    moves = StockMove.objects
    recent = moves.filter(kind=StockMove.Kind.DELIVERY, posted_at__gte=since).values("product_id")
    last_out = (
        moves.filter(kind=StockMove.Kind.DELIVERY, product_id=OuterRef("product_id"))
        .order_by()
        .values("product_id")
        .annotate(at=Max("posted_at"))
        .values("at")
    )
    rows = (
        StockBalance.objects.filter(on_hand__gt=0)
        .exclude(product_id__in=recent)
        .values("product_id", "product__code", "product__name")
        .annotate(on_hand=Sum("on_hand", output_field=QTY), value=Sum("value", output_field=MONEY))
        .annotate(last_out=Subquery(last_out[:1]))
        .order_by("-value", "product_id")[:limit]
    )
    return list(rows)


def payables() -> dict[str, Any]:
    """What is still to pay to suppliers (tax incl.): open and overdue, from the purchasing capability."""
    return payables_totals()


def dashboard_context(user: Any) -> dict[str, Any]:
    see_costs = can_see_costs(user)
    see_percent = can_see_margin_percent(user)
    ctx: dict[str, Any] = {
        "see_costs": see_costs,
        "see_margin_percent": see_percent,
        "sales": sales_totals(actor=user),
        "receivables": receivables_totals(actor=user)
        if has_perm(user, "sales.receivables_reports")
        else None,
        "payables": payables(),
        "margin": margin_by_month(actor=user, months=12) if see_percent else None,
        "see_stock": has_perm(user, "inventory.view"),
    }
    if ctx["see_stock"]:
        ctx["stock_value"] = stock_value_total(actor=user)
        ctx["slow"] = slow_movers()
        ctx["slow_days"] = SLOW_DAYS
    ctx["has_sales"] = bool(ctx["sales"]["year"]) or bool(ctx["margin"] and ctx["margin"]["totals"]["lines"])
    return ctx


__all__ = ["dashboard_context", "payables", "slow_movers"]
