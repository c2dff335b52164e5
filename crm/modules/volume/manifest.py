"""Manifest of the volume sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="volume",
    name=_("Volume sales"),
    summary=_(
        "High-volume order entry with minimal customer data, daily shipments per "
        "product, distribution and trends."
    ),
    kind="sales_mode",
    app_label="volume",
    sales_mode="volume",
    available=False,  # no screens yet
    monthly_price=Decimal("199"),
    depends=("inventory", "messaging"),
    features=(
        _("Fast and bulk order entry"),
        _("Daily shipments per product"),
        _("Sales distribution and trends"),
    ),
)
