"""Manifest of the retail and members module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="retail",
    name=_("Retail and members"),
    summary=_("Stores, members, points, tiers and care; clerks find a member only by exact name and number."),
    kind="sales_mode",
    app_label="retail",
    sales_mode="retail",
    monthly_price=Decimal("199"),
    depends=("messaging",),
    features=(
        _("Stores and clerks"),
        _("Points, tiers and member care"),
        _("Per-store and per-clerk results"),
    ),
)
