"""Manifest of the retail and members module."""

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import MenuEntry, ModuleManifest, OnboardingStep, PeriodicTask

MANAGERS = (Role.OWNER, Role.ADMIN, Role.MANAGER)

MANIFEST = ModuleManifest(
    slug="retail",
    name=_("Retail and members"),
    summary=_("Stores, members, points, tiers and care; clerks find a member only by exact name and number."),
    kind="sales_mode",
    app_label="retail",
    sales_mode="retail",
    monthly_price=Decimal("199"),
    depends=("messaging",),
    urls="crm.modules.retail.urls",
    api_urls="crm.modules.retail.api_urls",
    permissions={
        # Exact lookup, the member card, recording a sale and redeeming points at the counter.
        "retail.lookup": (Role.CLERK, *MANAGERS),
        # Member list and export, stores, tiers, points rules, voiding sales. Never clerks.
        "retail.manage": MANAGERS,
    },
    menu=(
        MenuEntry(label=_("Member lookup"), url_name="retail:lookup", permission="retail.lookup"),
        MenuEntry(label=_("Members"), url_name="retail:member_list", permission="retail.manage"),
        MenuEntry(label=_("Stores"), url_name="retail:store_list", permission="retail.manage"),
        MenuEntry(label=_("Tiers and points"), url_name="retail:setup", permission="retail.manage"),
        MenuEntry(label=_("Expiring"), url_name="retail:reminders", permission="retail.manage"),
        MenuEntry(label=_("Store results"), url_name="retail:results", permission="retail.manage"),
        MenuEntry(label=_("Member care"), url_name="retail:care", permission="retail.manage"),
    ),
    periodic_tasks=(
        PeriodicTask(name="crm.modules.retail.tasks.points_expire", every_seconds=86400),
        # Member care: birthdays, upgrades, expiring points and memberships (crm/modules/retail/care.py).
        PeriodicTask(name="crm.modules.retail.tasks.care", every_seconds=86400),
    ),
    onboarding=(
        OnboardingStep(
            "store", _("Add a store"), "retail:store_list", "crm.modules.retail.onboarding.has_store"
        ),
        OnboardingStep(
            "tier", _("Add a member tier"), "retail:setup", "crm.modules.retail.onboarding.has_tier"
        ),
        OnboardingStep(
            "members",
            _("Import your members"),
            "core:import_start",
            "crm.modules.retail.onboarding.has_members",
            query="kind=members",
        ),
    ),
    # Members in the core's shared import; offered while retail is on, to holders of retail.manage.
    import_kinds=("crm.modules.retail.imports.MEMBERS",),
    demo_seeder="crm.modules.retail.demo.seed",
    features=(
        _("Stores and clerks"),
        _("Points, tiers and member care"),
        _("Per-store and per-clerk results"),
    ),
)
