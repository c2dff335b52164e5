"""Manifest of the trade sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import MenuEntry, ModuleManifest, OnboardingStep

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
    monthly_price=Decimal("249"),
    depends=("sales", "inventory", "purchasing"),
    urls="crm.modules.trade.urls",
    permissions={
        # The owner's overview: sales, margin (amounts only with sales.view_costs), stock, receivables.
        "trade.dashboard": (Role.OWNER, Role.ADMIN, Role.MANAGER),
    },
    menu=(
        MenuEntry(
            label=_("Trade overview"),
            url_name="trade:dashboard",
            icon="speedometer2",
            permission="trade.dashboard",
        ),
    ),
    onboarding=(
        OnboardingStep(
            "supplier",
            _("Add a supplier"),
            "purchasing:supplier_list",
            "crm.modules.trade.onboarding.has_supplier",
        ),
        OnboardingStep(
            "stock", _("Enter opening stock"), "inventory:opening", "crm.modules.trade.onboarding.has_stock"
        ),
        OnboardingStep(
            "purchase",
            _("Place a first purchase order"),
            "purchasing:order_list",
            "crm.modules.trade.onboarding.has_purchase_order",
        ),
    ),
    demo_seeder="crm.modules.trade.demo.seed",
    features=(
        _("Suppliers and price comparison"),
        _("Purchasing, stock and samples"),
        _("Order gross margin"),
    ),
)
