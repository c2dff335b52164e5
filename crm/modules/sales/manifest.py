"""Manifest of the sales documents capability (never sold alone: selling modules pull it in by `depends`)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    MenuEntry,
    ModuleManifest,
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
        # receivables
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
    ),
    customer_panels=(
        # receivables
        CustomerPanel(
            label=_("Receivables"),
            template="sales/receivables/_customer_panel.html",
            context="crm.modules.sales.receivables_panel.customer_panel_context",
            permission="sales.receipt_record",
        ),
    ),
    customer_links=(
        # receivables: merge moves installments and receipts; handover moves the owner of open installments.
        CustomerLink(
            model="sales.Installment",
            owner_field="owner",
            open_filter="crm.modules.sales.services_receivables.open_installments_filter",
            label=_("open installments"),
        ),
        CustomerLink(model="sales.Receipt", label=_("receipts")),
    ),
    import_kinds=(
        # receivables
        "crm.modules.sales.imports_receivables.PLANS",
        "crm.modules.sales.imports_receivables.RECEIPTS",
    ),
    periodic_tasks=(
        # receivables: reminders before and after due dates
        PeriodicTask(name="crm.modules.sales.tasks_receivables.reminders", every_seconds=86400),
    ),
)
