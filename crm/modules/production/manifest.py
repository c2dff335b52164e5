"""Manifest of the production sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="production",
    name=_("Production sales"),
    summary=_(
        "Raw materials and finished goods, make-to-order contracts, delivery, collection "
        "and margin per order and product."
    ),
    kind="sales_mode",
    app_label="production",
    sales_mode="production",
    available=False,  # no screens yet
    monthly_price=Decimal("299"),
    depends=("sales", "inventory"),
    features=(
        _("Raw material and finished goods stock"),
        _("Contract orders and delivery"),
        _("Margins per order and product"),
    ),
)
