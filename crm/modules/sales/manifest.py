"""Manifest of the sales documents capability (never sold alone: selling modules pull it in by `depends`)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    DashboardWidget,
    MenuEntry,
    ModuleManifest,
    OnboardingStep,
    PeriodicTask,
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
    menu=(
        # pipeline area
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
        # documents area
        MenuEntry(label=_("Quotes"), url_name="sales:quote_list", permission="sales.quote_edit"),
        MenuEntry(
            label=_("Contracts and orders"), url_name="sales:contract_list", permission="sales.contract_edit"
        ),
        MenuEntry(
            label=_("Contract changes to approve"),
            url_name="sales:contract_revision_queue",
            permission="sales.contract_cancel",
        ),
        # receivables area
        MenuEntry(
            label=_("Receivables"),
            url_name="sales:receivables_installments",
            permission="sales.receipt_record",
        ),
        MenuEntry(label=_("Receipts"), url_name="sales:receipt_list", permission="sales.receipt_record"),
        MenuEntry(
            label=_("Aging"), url_name="sales:receivables_aging", permission="sales.receivables_reports"
        ),
        MenuEntry(
            label=_("Collections forecast"),
            url_name="sales:receivables_forecast",
            permission="sales.receivables_reports",
        ),
        # margin: estimated and actual gross margin (reps see it too when they may see the margin percent)
        MenuEntry(
            label=_("Gross margin"), url_name="sales:margin", icon="graph-up", permission="sales.view_costs"
        ),
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
        MenuEntry(
            label=_("Pipeline stages"),
            url_name="sales:stage_settings",
            icon="sliders",
            permission="sales.settings",
        ),
        MenuEntry(label=_("Sales settings"), url_name="sales:sales_settings", permission="sales.settings"),
    ),
    onboarding=(
        OnboardingStep(
            "opportunity",
            _("Add a first opportunity"),
            "sales:opportunity_create",
            "crm.modules.sales.onboarding.has_opportunity",
        ),
        OnboardingStep(
            "approvals",
            _("Set who approves big discounts and amounts"),
            "kernel:approval-rules",
            "crm.modules.sales.onboarding.has_approval_rules",
        ),
    ),
    widgets=(
        DashboardWidget(
            label=_("My pipeline"),
            template="sales/pipeline/_widget.html",
            permission="sales.opportunity_edit",
            context="crm.modules.sales.selectors_pipeline.widget_context",
        ),
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
        CustomerPanel(
            label=_("Opportunities"),
            template="sales/pipeline/_panel.html",
            permission="sales.opportunity_edit",
            context="crm.modules.sales.selectors_pipeline.customer_panel_context",
        ),
        CustomerPanel(
            label=_("Quotes and contracts"),
            template="sales/documents/_customer_panel.html",
            context="crm.modules.sales.selectors_documents.customer_panel",
            permission="sales.quote_edit",
        ),
        CustomerPanel(
            label=_("Receivables"),
            template="sales/receivables/_customer_panel.html",
            context="crm.modules.sales.receivables_panel.customer_panel_context",
            permission="sales.receipt_record",
        ),
        CustomerPanel(
            label=_("Fapiao"),
            template="sales/money/panel_customer.html",
            context="crm.modules.sales.fapiao_panel.customer_panel_context",
            permission="sales.invoice_request",
        ),
    ),
    customer_links=(
        CustomerLink(
            model="sales.Opportunity",
            owner_field="owner",
            open_filter={"status": "open"},
            label=_("Open opportunities"),
        ),
        # documents area: merge moves every quote and contract; handover moves the owner of the open ones.
        CustomerLink(
            model="sales.Quote",
            owner_field="owner",
            open_filter={"state__in": ["draft", "sent"]},
            label=_("Open quotes"),
        ),
        CustomerLink(
            model="sales.Contract",
            owner_field="owner",
            open_filter={"state__in": ["draft", "submitted", "confirmed"]},
            label=_("Open contracts and orders"),
        ),
        # receivables: merge moves installments and receipts; handover moves the owner of open installments.
        CustomerLink(
            model="sales.Installment",
            owner_field="owner",
            open_filter="crm.modules.sales.services_receivables.open_installments_filter",
            label=_("open installments"),
        ),
        CustomerLink(model="sales.Receipt", label=_("receipts")),
        # money area: merge moves requests and fapiao; handover moves the owner of open requests
        CustomerLink(
            model="sales.InvoiceRequest",
            owner_field="owner",
            open_filter={"state": "open"},
            label=_("Invoicing requests"),
        ),
        CustomerLink(model="sales.Fapiao", label=_("Fapiao")),
    ),
    import_kinds=(
        "crm.modules.sales.imports_pipeline.OPPORTUNITIES",
        "crm.modules.sales.imports_documents.CONTRACTS_KIND",
        "crm.modules.sales.imports_receivables.PLANS",
        "crm.modules.sales.imports_receivables.RECEIPTS",
    ),
    periodic_tasks=(
        # documents area: sent quotes past their validity expire (idempotent).
        PeriodicTask(name="crm.modules.sales.tasks_documents.quotes_expire", every_seconds=86400),
        # receivables: reminders before and after due dates
        PeriodicTask(name="crm.modules.sales.tasks_receivables.reminders", every_seconds=86400),
    ),
    search="crm.modules.sales.search.search",
)
