"""Manifest of the inventory module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    DashboardWidget,
    DocumentHook,
    DocumentPanel,
    MenuEntry,
    ModuleManifest,
    PeriodicTask,
)

VIEWERS = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.WAREHOUSE)

MANIFEST = ModuleManifest(
    slug="inventory",
    name=_("Inventory"),
    summary=_("Warehouses, stock in and out, stocktaking and safety-stock alarms."),
    kind="capability",
    app_label="inventory",
    depends=("sales",),
    urls="crm.modules.inventory.urls",
    api_urls="crm.modules.inventory.api_urls",
    permissions={
        # Stock overview, history, stock as of a date, reorder suggestions, stock value (costs included).
        "inventory.view": VIEWERS,
        # Warehouses, transfers, stock counts, opening stock, unit conversions, postings.
        "inventory.manage": (Role.OWNER, Role.ADMIN, Role.WAREHOUSE),
        # Deliveries of confirmed orders and customer returns (the "to ship" list).
        "inventory.ship": (Role.OWNER, Role.ADMIN, Role.WAREHOUSE, Role.MANAGER),
        # Samples out with customers: issue, return, consume, turn into an order (reps see their own).
        "inventory.sample": (Role.OWNER, Role.ADMIN, Role.WAREHOUSE, Role.MANAGER, Role.SALES),
    },
    menu=(
        MenuEntry(label=_("Stock"), url_name="inventory:stock", permission="inventory.view"),
        MenuEntry(label=_("Warehouses"), url_name="inventory:warehouse_list", permission="inventory.view"),
        MenuEntry(label=_("Transfers"), url_name="inventory:transfer_list", permission="inventory.view"),
        MenuEntry(label=_("Stock counts"), url_name="inventory:count_list", permission="inventory.view"),
        MenuEntry(label=_("Reorder"), url_name="inventory:reorder", permission="inventory.view"),
        MenuEntry(label=_("To ship"), url_name="inventory:to_ship", permission="inventory.ship"),
        MenuEntry(label=_("Deliveries"), url_name="inventory:delivery_list", permission="inventory.ship"),
        MenuEntry(label=_("Samples"), url_name="inventory:sample_list", permission="inventory.sample"),
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
        # A notice to the rep for each sample past its expected return date (once per sample).
        PeriodicTask(name="crm.modules.inventory.tasks.samples_remind", every_seconds=86400),
    ),
    # Confirming a sales contract or order reserves its stock-tracked lines; cancel / complete release.
    document_hooks=(
        DocumentHook(
            "sales.contract", "confirm", "crm.modules.inventory.services_fulfilment.on_contract_event"
        ),
        DocumentHook(
            "sales.contract", "cancel", "crm.modules.inventory.services_fulfilment.on_contract_event"
        ),
        DocumentHook(
            "sales.contract", "complete", "crm.modules.inventory.services_fulfilment.on_contract_event"
        ),
    ),
    document_panels=(
        DocumentPanel(
            doc_type="sales.contract",
            label=_("Deliveries"),
            template="inventory/_order_panel.html",
            context="crm.modules.inventory.selectors_fulfilment.order_panel_context",
        ),
    ),
    customer_panels=(
        CustomerPanel(
            label=_("Samples"),
            template="inventory/_customer_samples.html",
            context="crm.modules.inventory.selectors_fulfilment.customer_panel_context",
            permission="inventory.sample",
        ),
    ),
    customer_links=(
        CustomerLink(
            model="inventory.Sample",
            owner_field="owner",
            open_filter={"state": "open"},
            label=_("Samples"),
        ),
        CustomerLink(model="inventory.Delivery", label=_("Deliveries")),
    ),
)
