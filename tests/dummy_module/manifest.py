"""A sellable module that exists only in tests, to prove the module contract on a module with a page,
an API route, a menu entry, a dashboard widget and a periodic task."""

from decimal import Decimal

from crm.platform.registry import DashboardWidget, MenuEntry, ModuleManifest, PeriodicTask

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
    widgets=(DashboardWidget(label="Dummy widget", template="dummy/widget.html"),),
    periodic_tasks=(PeriodicTask(name="tests.dummy_module.tasks.tick", every_seconds=60),),
    # The dummy order (kernel documents): reps edit and confirm, managers and admins also cancel.
    permissions={
        "dummy.order_edit": ("owner", "admin", "manager", "sales"),
        "dummy.order_cancel": ("owner", "admin", "manager"),
    },
)
