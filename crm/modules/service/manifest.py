"""Manifest of the service sales module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    DashboardWidget,
    MenuEntry,
    ModuleManifest,
    ModuleRole,
    OnboardingStep,
    PeriodicTask,
)

TECHNICIAN = "technician"
MANAGERS = (Role.OWNER, Role.ADMIN, Role.MANAGER)
SELLERS = (*MANAGERS, Role.SALES)

MANIFEST = ModuleManifest(
    slug="service",
    name=_("Service sales"),
    summary=_(
        "Opportunities, contracts, instalment payments and service delivery for "
        "consulting and technical services."
    ),
    kind="sales_mode",
    app_label="service",
    sales_mode="service",
    available=True,
    monthly_price=Decimal("149"),
    depends=("sales",),
    urls="crm.modules.service.urls",
    api_urls="crm.modules.service.api_urls",
    # Technicians see and work the service orders assigned to them, nothing else.
    roles=(ModuleRole(TECHNICIAN, _("Technician"), scope="own"),),
    permissions={
        # Service orders a user sees follow the data scope (owner: the customer's rep; assignee: technician).
        "service.view": (*SELLERS, TECHNICIAN),
        # Log work, move an order through its states, take the customer's sign-off.
        "service.order_work": (*SELLERS, TECHNICIAN),
        # Open orders for a customer or agreement.
        "service.order_create": SELLERS,
        # Assign an order to a technician.
        "service.order_assign": MANAGERS,
        "service.agreement_edit": SELLERS,
        "service.visit_edit": SELLERS,
        "service.reports": MANAGERS,
        "service.settings": (Role.OWNER, Role.ADMIN),
    },
    menu=(
        MenuEntry(label=_("Service orders"), url_name="service:order_list", permission="service.view"),
        MenuEntry(
            label=_("Service agreements"),
            url_name="service:agreement_list",
            permission="service.agreement_edit",
        ),
        MenuEntry(label=_("Return visits"), url_name="service:visit_list", permission="service.visit_edit"),
        MenuEntry(label=_("Service reports"), url_name="service:reports", permission="service.reports"),
        MenuEntry(label=_("Service settings"), url_name="service:settings", permission="service.settings"),
    ),
    onboarding=(
        OnboardingStep(
            "agreement",
            _("Add a service agreement"),
            "service:agreement_list",
            "crm.modules.service.onboarding.has_agreement",
        ),
        OnboardingStep(
            "order",
            _("Open a first service order"),
            "service:order_list",
            "crm.modules.service.onboarding.has_order",
        ),
    ),
    widgets=(
        DashboardWidget(
            label=_("My open service orders"),
            template="service/_widget_orders.html",
            permission="service.view",
            context="crm.modules.service.selectors.widget_context",
        ),
    ),
    customer_panels=(
        CustomerPanel(
            label=_("Service"),
            template="service/_customer_panel.html",
            context="crm.modules.service.selectors.customer_panel_context",
            permission="service.view",
        ),
    ),
    customer_links=(
        CustomerLink(
            model="service.Agreement",
            owner_field="owner",
            open_filter={"status": "active"},
            label=_("Service agreements"),
        ),
        CustomerLink(
            model="service.ServiceOrder",
            owner_field="owner",
            open_filter={"status__in": ["new", "assigned", "in_progress", "waiting"]},
            label=_("Open service orders"),
        ),
        CustomerLink(
            model="service.ReturnVisit",
            owner_field="owner",
            open_filter={"done_at__isnull": True},
            label=_("Return visits due"),
        ),
    ),
    periodic_tasks=(PeriodicTask(name="crm.modules.service.tasks.renewals", every_seconds=86400),),
    import_kinds=("crm.modules.service.imports.AGREEMENTS",),
    demo_seeder="crm.modules.service.demo.seed",
    features=(
        _("Opportunity pipeline"),
        _("Contracts and instalments"),
        _("Service agreements with SLA plans, entitlements and renewal opportunities"),
        _("Service orders with SLA in business hours, work log and customer sign-off"),
        _("Return visits with satisfaction scores"),
        _("Renewals, SLA, hours and receivables reports"),
    ),
)
