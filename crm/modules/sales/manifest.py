"""Manifest of the sales documents capability (never sold alone: selling modules pull it in by `depends`)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import CustomerLink, CustomerPanel, DashboardWidget, MenuEntry, ModuleManifest

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
    menu=(
        # money area: fapiao, invoicing requests, targets, achievement, sales settings
        MenuEntry(label=_("Fapiao"), url_name="sales:fapiao_list", permission="sales.invoice_request"),
        MenuEntry(
            label=_("Invoicing requests"),
            url_name="sales:invoice_request_list",
            permission="sales.invoice_request",
        ),
        MenuEntry(label=_("Targets"), url_name="sales:target_grid", permission="sales.targets_manage"),
        MenuEntry(
            label=_("Target achievement"), url_name="sales:achievement", permission="sales.opportunity_edit"
        ),
        MenuEntry(label=_("Sales settings"), url_name="sales:sales_settings", permission="sales.settings"),
    ),
    widgets=(
        # money area: the rep's target this month, the manager's per-rep targets
        DashboardWidget(
            label=_("My target this month"),
            template="sales/money/widget_my_target.html",
            permission="sales.opportunity_edit",
            context="crm.modules.sales.fapiao_panel.my_target_context",
        ),
        DashboardWidget(
            label=_("Team targets"),
            template="sales/money/widget_team_targets.html",
            permission="sales.targets_manage",
            context="crm.modules.sales.fapiao_panel.team_targets_context",
        ),
    ),
    customer_panels=(
        # money area: invoiced, uninvoiced, last fapiao
        CustomerPanel(
            label=_("Fapiao"),
            template="sales/money/panel_customer.html",
            context="crm.modules.sales.fapiao_panel.customer_panel_context",
            permission="sales.invoice_request",
        ),
    ),
    customer_links=(
        # money area: merge moves requests and fapiao; handover moves the owner of open requests
        CustomerLink(
            model="sales.InvoiceRequest",
            owner_field="owner",
            open_filter={"state": "open"},
            label=_("Invoicing requests"),
        ),
        CustomerLink(model="sales.Fapiao", label=_("Fapiao")),
    ),
)
