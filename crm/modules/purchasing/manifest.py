"""Manifest of the purchasing capability (never sold alone: the trade module pulls it in by `depends`)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import CustomerLink, CustomerPanel, MenuEntry, ModuleManifest, ModuleRole

BUYER = "buyer"

MANIFEST = ModuleManifest(
    slug="purchasing",
    name=_("Purchasing"),
    summary=_("Suppliers, price comparison, purchase orders, goods receipts and payables."),
    kind="capability",
    app_label="purchasing",
    depends=("inventory",),
    urls="crm.modules.purchasing.urls",
    api_urls="crm.modules.purchasing.api_urls",
    # Buyers (采购员) see every supplier, order and bill of the workspace.
    search="crm.modules.purchasing.selectors.search",
    demo_seeder="crm.modules.purchasing.demo.seed",
    customer_panels=(
        # A customer that is also a supplier: its open purchase orders and what we owe it.
        CustomerPanel(
            label=_("As supplier"),
            template="purchasing/_customer_panel.html",
            context="crm.modules.purchasing.selectors.customer_panel_context",
            permission="purchasing.view",
        ),
    ),
    # Merging customers moves the supplier link to the surviving customer; when that one is already linked
    # to a supplier, the merged-away customer's supplier keeps no customer (a customer is linked once).
    customer_links=(CustomerLink(model="purchasing.Supplier", label=_("Supplier link")),),
    import_kinds=(
        "crm.modules.purchasing.imports.SUPPLIERS",
        "crm.modules.purchasing.imports.SUPPLIER_PRICES",
    ),
    roles=(ModuleRole(BUYER, _("Buyer"), scope="all"),),
    permissions={
        # Suppliers, prices, RFQs and comparisons, orders, receipts, bills and payables (read).
        "purchasing.view": (Role.OWNER, Role.ADMIN, Role.MANAGER, BUYER, Role.WAREHOUSE),
        # Suppliers, RFQs and quotes, orders and their states, bills, payments, settings.
        "purchasing.manage": (Role.OWNER, Role.ADMIN, BUYER),
        # Receiving goods into a warehouse and returning them to the supplier.
        "purchasing.receive": (Role.OWNER, Role.ADMIN, BUYER, Role.WAREHOUSE),
    },
    menu=(
        MenuEntry(label=_("Suppliers"), url_name="purchasing:supplier_list", permission="purchasing.view"),
        MenuEntry(label=_("Price comparison"), url_name="purchasing:rfq_list", permission="purchasing.view"),
        MenuEntry(label=_("Purchase orders"), url_name="purchasing:order_list", permission="purchasing.view"),
        MenuEntry(label=_("Payables"), url_name="purchasing:payables", permission="purchasing.view"),
    ),
)
