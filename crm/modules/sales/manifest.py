"""Manifest of the sales documents capability (never sold alone: selling modules pull it in by `depends`)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    DashboardWidget,
    MenuEntry,
    ModuleManifest,
)

SELLERS = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES)
MANAGERS = (Role.OWNER, Role.ADMIN, Role.MANAGER)
MONEY_PEOPLE = (Role.OWNER, Role.ADMIN, Role.FINANCE)

MANIFEST = ModuleManifest(
    slug="sales",
    name=_("Sales documents"),
    summary=_("Opportunities, quotes, contracts and orders, receivables, fapiao and targets."),
    kind="capability",
    app_label="sales",
    urls="crm.modules.sales.urls",
    api_urls="crm.modules.sales.api_urls",
    permissions={
        # Opportunities, quotes and contracts a user may see follow the data scope; these say who may write.
        "sales.opportunity_edit": SELLERS,
        "sales.pipeline_reports": MANAGERS,
        "sales.quote_edit": SELLERS,
        "sales.contract_edit": SELLERS,
        "sales.contract_cancel": MANAGERS,
        # Unit costs and margins (a tenant setting may show reps the margin percent, never unit costs).
        "sales.view_costs": MONEY_PEOPLE,
        # Receivables: reps record receipts of their customers; finance sees and reverses all of them.
        "sales.receipt_record": (*SELLERS, Role.FINANCE),
        "sales.receipt_reverse": MONEY_PEOPLE,
        "sales.receivables_all": MONEY_PEOPLE,
        "sales.receivables_reports": (*MANAGERS, Role.FINANCE),
        # Fapiao: reps request, finance records what was issued.
        "sales.invoice_request": (*SELLERS, Role.FINANCE),
        "sales.fapiao_record": MONEY_PEOPLE,
        "sales.targets_manage": MANAGERS,
        "sales.settings": (Role.OWNER, Role.ADMIN),
    },
    # --- pipeline area (opportunities) ---
    menu=(
        MenuEntry(
            label=_("Opportunities"),
            url_name="sales:opportunity_kanban",
            icon="kanban",
            permission="sales.opportunity_edit",
        ),
        MenuEntry(
            label=_("Pipeline reports"),
            url_name="sales:pipeline_reports",
            icon="graph-up",
            permission="sales.pipeline_reports",
        ),
        MenuEntry(
            label=_("Pipeline stages"),
            url_name="sales:stage_settings",
            icon="sliders",
            permission="sales.settings",
        ),
    ),
    widgets=(
        DashboardWidget(
            label=_("My pipeline"),
            template="sales/pipeline/_widget.html",
            permission="sales.opportunity_edit",
            context="crm.modules.sales.selectors_pipeline.widget_context",
        ),
    ),
    customer_panels=(
        CustomerPanel(
            label=_("Opportunities"),
            template="sales/pipeline/_panel.html",
            permission="sales.opportunity_edit",
            context="crm.modules.sales.selectors_pipeline.customer_panel_context",
        ),
    ),
    customer_links=(
        CustomerLink(
            model="sales.Opportunity",
            owner_field="owner",
            open_filter={"status": "open"},
            label=_("Open opportunities"),
        ),
    ),
    import_kinds=("crm.modules.sales.imports_pipeline.OPPORTUNITIES",),
    search="crm.modules.sales.search.search",
)
