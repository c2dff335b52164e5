"""A sellable module that exists only in tests, to prove the module contract on a module with a page,
an API route, a menu entry, a dashboard widget and a periodic task; and the core extension points: a role of
its own, a customer panel, a widget with its own data and a customer link (DummyNote)."""

from decimal import Decimal

from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    DashboardWidget,
    MenuEntry,
    ModuleManifest,
    ModuleRole,
    PeriodicTask,
)

MANIFEST = ModuleManifest(
    slug="dummy",
    name="Dummy",
    summary="Contract-test module",
    kind="sales_mode",
    app_label="dummy",
    sales_mode="dummy",
    monthly_price=Decimal("1.00"),
    urls="tests.dummy_module.urls",
    api_urls="tests.dummy_module.api_urls",
    menu=(MenuEntry(label="Dummy page", url_name="dummy:index"),),
    widgets=(
        DashboardWidget(
            label="Dummy widget",
            template="dummy/widget.html",
            context="tests.dummy_module.hooks.widget_context",
        ),
    ),
    periodic_tasks=(PeriodicTask(name="tests.dummy_module.tasks.tick", every_seconds=60),),
    roles=(ModuleRole("dummy_keeper", "Dummy keeper", scope="own"),),
    permissions={
        "dummy.view_notes": ("owner", "admin", "manager", "sales", "dummy_keeper"),
        # The dummy order (kernel documents): reps edit and confirm, managers and admins also cancel.
        "dummy.order_edit": ("owner", "admin", "manager", "sales"),
        "dummy.order_cancel": ("owner", "admin", "manager"),
    },
    customer_panels=(
        CustomerPanel(
            label="Dummy notes",
            template="dummy/panel.html",
            context="tests.dummy_module.hooks.panel_context",
            permission="dummy.view_notes",
        ),
    ),
    import_kinds=("tests.dummy_module.imports.NOTES",),
    customer_links=(
        CustomerLink(
            model="dummy.DummyNote", owner_field="owner", open_filter={"done": False}, label="Dummy notes"
        ),
        # Orders move with a merged customer; open ones (not cancelled) follow the customer at handover.
        CustomerLink(
            model="dummy.DummyOrder",
            owner_field="owner",
            open_filter={"state__in": ["draft", "submitted", "confirmed"]},
            label="Dummy orders",
        ),
    ),
)
