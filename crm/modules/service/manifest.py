"""Manifest of the service sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="service",
    name=_("Service sales"),
    summary=_(
        "Opportunities, contracts, instalment payments and service delivery for "
        "consulting and technical services."
    ),
    kind="sales_mode",
    app_label="service",
    sales_mode="service",
    available=False,  # no screens yet
    monthly_price=Decimal("149"),
    depends=("sales",),
    features=(
        _("Opportunity pipeline"),
        _("Contracts and instalments"),
        _("Service delivery tickets"),
    ),
)
