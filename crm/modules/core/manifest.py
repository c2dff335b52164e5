"""Manifest of the crm core module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.registry import MenuEntry, ModuleManifest

MANIFEST = ModuleManifest(
    slug="core",
    name=_("CRM core"),
    summary=_("Customers, contacts, ownership, follow-ups, products and reports: in every workspace."),
    kind="core",
    app_label="core",
    urls="crm.modules.core.urls",
    menu=(MenuEntry(label=_("Home"), url_name="core:home"),),
    features=(
        _("Customers, contacts, ownership and handover"),
        _("Visits, tasks, weekly reports"),
        _("Products, import/export, dashboards"),
    ),
)
