"""Manifest of the project sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="project",
    name=_("Project sales"),
    summary=_(
        "Project tracking from requirements to acceptance and collection, with partner "
        "companies, decision makers and competitors."
    ),
    kind="sales_mode",
    app_label="project",
    sales_mode="project",
    available=False,  # no screens yet
    monthly_price=Decimal("199"),
    depends=("sales",),
    features=(
        _("Project stages and milestones"),
        _("Partners and decision tree"),
        _("Competitors and project margin"),
    ),
)
