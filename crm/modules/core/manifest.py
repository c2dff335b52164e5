"""Manifest of the crm core module."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import CustomerLink, MenuEntry, ModuleManifest, OnboardingStep, PeriodicTask

SELLERS = (Role.OWNER, Role.ADMIN, Role.MANAGER, Role.SALES)

MANIFEST = ModuleManifest(
    slug="core",
    name=_("CRM core"),
    summary=_("Customers, contacts, ownership, follow-ups, products and reports: in every workspace."),
    kind="core",
    app_label="core",
    depends=("webhooks",),  # outbound webhooks: customer events
    urls="crm.modules.core.urls",
    api_urls="crm.modules.core.api_urls",
    permissions={
        # Store clerks never list customers (retail finds members by exact match instead).
        "core.view_customers": (*SELLERS, Role.FINANCE),
        "core.assign_customers": (Role.OWNER, Role.ADMIN, Role.MANAGER),
        "core.claim_pool": (Role.MANAGER, Role.SALES),
        "core.comment_activities": (Role.OWNER, Role.ADMIN, Role.MANAGER),
        "core.handover": (Role.OWNER, Role.ADMIN),
        # Deleting a customer (only while no other module has rows on it) and anyone's activity.
        "core.delete_customers": (Role.OWNER, Role.ADMIN),
        "core.manage_settings": (Role.OWNER, Role.ADMIN),
        "core.view_products": tuple(r for r in Role if r != Role.OPERATOR),
        "core.manage_products": (Role.OWNER, Role.ADMIN, Role.MANAGER),
    },
    menu=(
        MenuEntry(label=_("Home"), url_name="core:home"),
        MenuEntry(label=_("Customers"), url_name="core:customer_list", permission="core.view_customers"),
        MenuEntry(label=_("Tasks"), url_name="core:task_list", permission="core.view_customers"),
        MenuEntry(label=_("Weekly reports"), url_name="core:weekly_list", permission="core.view_customers"),
        MenuEntry(label=_("Products"), url_name="core:product_list", permission="core.view_products"),
        MenuEntry(label=_("Pool"), url_name="core:pool", permission="core.view_customers"),
        MenuEntry(label=_("Handover"), url_name="core:handover", permission="core.handover"),
        MenuEntry(label=_("CRM settings"), url_name="core:pool_settings", permission="core.manage_settings"),
    ),
    onboarding=(
        OnboardingStep(
            "customers",
            _("Import your customers (or add the first one)"),
            "core:import_start",
            "crm.modules.core.onboarding.has_customers",
            query="kind=customers",
        ),
        OnboardingStep(
            "products",
            _("Add your products"),
            "core:product_list",
            "crm.modules.core.onboarding.has_products",
        ),
        OnboardingStep(
            "colleague",
            _("Invite a colleague"),
            "settings-users",
            "crm.modules.core.onboarding.has_colleague",
        ),
        OnboardingStep(
            "visit", _("Log a first visit"), "core:customer_list", "crm.modules.core.onboarding.has_visit"
        ),
    ),
    # What merge moves with a customer (crm/kernel/hooks.py). core.CustomerShare is not a link: merge
    # moves shares itself (one per user) and handover ends the departing rep's shares.
    customer_links=(
        CustomerLink(model="core.Contact", label=_("Contacts")),
        CustomerLink(model="core.Activity", label=_("Activities")),
        CustomerLink(
            model="core.Task",
            owner_field="owner",
            open_filter={"done_at__isnull": True},
            label=_("Open tasks"),
        ),
        CustomerLink(model="core.Document", label=_("Documents")),
    ),
    periodic_tasks=(
        # Warn owners, then return customers without follow-up to the public pool (idempotent).
        PeriodicTask(name="crm.modules.core.tasks.pool_sweep", every_seconds=3600),
        # Email reminders for tasks due within the hour (each task reminded once).
        PeriodicTask(name="crm.modules.core.tasks.task_reminders", every_seconds=300),
        PeriodicTask(name="crm.modules.core.tasks.import_cleanup", every_seconds=86400),
    ),
    # The shared /import/ offers these first (modules' kinds follow in registry order).
    import_kinds=(
        "crm.modules.core.imports.CUSTOMERS_KIND",
        "crm.modules.core.imports.CONTACTS_KIND",
        "crm.modules.core.imports.PRODUCTS_KIND",
    ),
    demo_seeder="crm.modules.core.demo.seed",
    webhook_events=(
        ("customer.created", _("Customer created")),
        ("customer.updated", _("Customer updated")),
        ("customer.handed_over", _("Customer handed over")),
        ("customer.deleted", _("Customer deleted")),
    ),
    features=(
        _("Customers, contacts, ownership and handover"),
        _("Visits, tasks, weekly reports"),
        _("Products, import/export, dashboards"),
    ),
)
