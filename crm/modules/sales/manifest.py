"""Manifest of the sales documents capability (never sold alone: selling modules pull it in by `depends`)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import CustomerLink, CustomerPanel, MenuEntry, ModuleManifest, PeriodicTask

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
    ),
    customer_panels=(
        # documents area
        CustomerPanel(
            label=_("Quotes and contracts"),
            template="sales/documents/_customer_panel.html",
            context="crm.modules.sales.selectors_documents.customer_panel",
            permission="sales.quote_edit",
        ),
    ),
    customer_links=(
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
    ),
    periodic_tasks=(
        # documents area: sent quotes past their validity expire (idempotent).
        PeriodicTask(name="crm.modules.sales.tasks_documents.quotes_expire", every_seconds=86400),
    ),
    import_kinds=(
        # documents area
        "crm.modules.sales.imports_documents.CONTRACTS_KIND",
    ),
)
