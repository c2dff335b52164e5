"""Manifest of the inventory module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import DashboardWidget, MenuEntry, ModuleManifest, PeriodicTask

VIEWERS = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.WAREHOUSE)

MANIFEST = ModuleManifest(
    slug="inventory",
    name=_("Inventory"),
    summary=_("Warehouses, stock in and out, stocktaking and safety-stock alarms."),
    kind="capability",
    app_label="inventory",
    urls="crm.modules.inventory.urls",
    api_urls="crm.modules.inventory.api_urls",
    permissions={
        # Stock overview, history, stock as of a date, reorder suggestions, stock value (costs included).
        "inventory.view": VIEWERS,
        # Warehouses, transfers, stock counts, opening stock, unit conversions, postings.
        "inventory.manage": (Role.OWNER, Role.ADMIN, Role.WAREHOUSE),
    },
    menu=(
        MenuEntry(label=_("Stock"), url_name="inventory:stock", permission="inventory.view"),
        MenuEntry(label=_("Warehouses"), url_name="inventory:warehouse_list", permission="inventory.view"),
        MenuEntry(label=_("Transfers"), url_name="inventory:transfer_list", permission="inventory.view"),
        MenuEntry(label=_("Stock counts"), url_name="inventory:count_list", permission="inventory.view"),
        MenuEntry(label=_("Reorder"), url_name="inventory:reorder", permission="inventory.view"),
    ),
    import_kinds=("crm.modules.inventory.imports.OPENING_STOCK",),
    widgets=(
        # Stock value and how many products are below their minimum (links to the reorder suggestions).
        DashboardWidget(
            label=_("Stock"),
            template="inventory/_widget.html",
            permission="inventory.view",
            context="crm.modules.inventory.selectors.widget_context",
        ),
    ),
    periodic_tasks=(
        # Every balance equals the sum of its moves; differences go to the operators' log and the owners.
        PeriodicTask(name="crm.modules.inventory.tasks.ledger_check", every_seconds=86400),
    ),
)
