"""Manifest of the trade sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="trade",
    name=_("Trade sales"),
    summary=_(
        "Buy in, sell out: suppliers, price comparison, purchasing, stock, quotes, "
        "samples, orders and gross margin."
    ),
    kind="sales_mode",
    app_label="trade",
    sales_mode="trade",
    available=False,  # no screens yet
    monthly_price=Decimal("249"),
    depends=("sales", "inventory", "purchasing"),
    features=(
        _("Suppliers and price comparison"),
        _("Purchasing, stock and samples"),
        _("Order gross margin"),
    ),
)
