"""Manifest of the distribution module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="distribution",
    name=_("Distribution"),
    summary=_(
        "Agents by level and discount: sell-in, sell-out, agent stock, collections, "
        "support and end-customer attribution."
    ),
    kind="sales_mode",
    app_label="distribution",
    sales_mode="distribution",
    available=False,  # no screens yet
    monthly_price=Decimal("249"),
    depends=("sales", "inventory"),
    features=(
        _("Agent levels and discounts"),
        _("Agent stock and collections"),
        _("End-customer attribution"),
    ),
)
