"""Manifest of the sales documents module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import ModuleManifest

MANIFEST = ModuleManifest(
    slug="sales",
    name=_("Sales documents"),
    summary=_("Quotes, orders, contracts and receivables shared by the selling modules."),
    kind="capability",
    app_label="sales",
)
