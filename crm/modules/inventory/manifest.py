"""Manifest of the inventory module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="inventory",
    name=_("Inventory"),
    summary=_("Warehouses, stock in and out, stocktaking and safety-stock alarms."),
    kind="capability",
    app_label="inventory",
)
