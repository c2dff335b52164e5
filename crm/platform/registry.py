"""Module registry: every module declares itself in one `manifest.py`; the registry closes after start-up.

A tenant's enabled set (expanded by `depends`) decides, per request, which URLs, API routes, menu entries,
dashboard widgets and periodic tasks exist for it (architecture section 5).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from django.utils.functional import Promise

Kind = Literal["core", "sales_mode", "capability"]
# User-facing text in manifests is lazily translated.
Text = str | Promise


@dataclass(frozen=True)
class MenuEntry:
    """One link in the workspace navigation; `url_name` is namespaced by the module slug."""

    label: Text
    url_name: str
    icon: str = ""
    permission: str = ""  # empty: every tenant user


@dataclass(frozen=True)
class DashboardWidget:
    """A card on the dashboard. The home page renders a placeholder that fetches `/w/<module>/<index>/`
    (one generic view), so each widget queries its own data and the home page's query count stays fixed.
    `context` is the dotted path of a callable(user) -> dict passed to `template`."""

    label: Text
    template: str
    permission: str = ""  # empty: every tenant user
    context: str = ""


@dataclass(frozen=True)
class OnboardingStep:
    """One item of the getting-started checklist that owners and admins see after signup, chosen by the
    modules the workspace has. `done` is the dotted path of a callable() -> bool run in the tenant schema
    (one cheap query, e.g. an exists()); `url_name` is where the step is done."""

    key: str
    label: Text
    url_name: str
    done: str
    query: str = ""  # appended to the URL, e.g. "kind=members" for the import page


@dataclass(frozen=True)
class CustomerPanel:
    """A panel on the customer detail page, fetched lazily from `/customers/<pk>/panels/<module>/<index>/`.
    `context` is the dotted path of a callable(customer, user) -> dict passed to `template`."""

    label: Text
    template: str
    context: str = ""
    permission: str = ""  # empty: everyone who may see the customer


@dataclass(frozen=True)
class DocumentHook:
    """A synchronous handler of a document event of another module (no business logic in signals: the
    document's service calls `crm.kernel.hooks.document_event` inside its transaction). `handler` is the
    dotted path of a callable(*, actor, document, event) run for the tenant's enabled modules in registry
    order; a ServiceError it raises refuses the event (the caller's transaction rolls back)."""

    doc_type: str  # e.g. "sales.contract"
    event: str  # e.g. "confirm", "cancel", "complete"
    handler: str


@dataclass(frozen=True)
class DocumentPanel:
    """A panel a module adds to another module's document page (e.g. deliveries on the sales order page).
    `context` is the dotted path of a callable(document, user) -> dict passed to `template`."""

    doc_type: str
    label: Text
    template: str
    context: str = ""
    permission: str = ""  # empty: everyone who may see the document


@dataclass(frozen=True)
class CustomerLink:
    """A model of the module with a foreign key to core.Customer: merge moves its rows to the surviving
    customer and handover moves the owner of its open rows with the customers.

    `open_filter` selects the rows still open (a dict of lookups, or the dotted path of a callable
    (queryset) -> queryset; empty: every row is open); `owner_field` empty: the rows have no owner and
    handover leaves them alone."""

    model: str  # "app_label.Model"
    field: str = "customer"
    owner_field: str = ""
    open_filter: dict[str, object] | str = ""
    label: Text = ""


@dataclass(frozen=True)
class ModuleRole:
    """A role a module adds (assignable in the users page and API); `scope` is the data scope of its
    holders over owned records: "own", "team", "all" or "none"."""

    code: str
    label: Text
    scope: Literal["all", "team", "own", "none"] = "own"


@dataclass(frozen=True)
class PeriodicTask:
    """A per-tenant task run on a schedule; the beat fan-out skips tenants without the module."""

    name: str  # dotted Celery task name taking no arguments, run inside the tenant schema
    every_seconds: float


@dataclass(frozen=True)
class ModuleManifest:
    """What a module is, what it costs and what it adds. Pure data."""

    slug: str
    name: Text
    summary: Text
    kind: Kind
    app_label: str
    sales_mode: str = ""  # one of SALES_MODES for sellable modules
    depends: tuple[str, ...] = ()
    monthly_price: Decimal = Decimal("0")
    currency: str = "CNY"
    # Extra roles: ModuleRole(code, label, scope) or (code, label) with the "own" scope.
    roles: tuple[ModuleRole | tuple[str, Text], ...] = ()
    permissions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # permission -> roles
    menu: tuple[MenuEntry, ...] = ()
    widgets: tuple[DashboardWidget, ...] = ()
    onboarding: tuple[OnboardingStep, ...] = ()  # the getting-started checklist's steps of this module
    periodic_tasks: tuple[PeriodicTask, ...] = ()
    urls: str = ""  # dotted module path of HTML urlpatterns, mounted at /<slug>/
    api_urls: str = ""  # dotted module path of API urlpatterns, mounted at /api/v1/<slug>/
    # Dotted paths of ImportKind objects offered in the core's shared /import/ (read by the core's kind
    # registry at start-up, in registry order).
    import_kinds: tuple[str, ...] = ()
    customer_links: tuple[CustomerLink, ...] = ()
    customer_panels: tuple[CustomerPanel, ...] = ()
    # Handlers of other modules' document events and panels on their document pages (crm.kernel.hooks).
    document_hooks: tuple[DocumentHook, ...] = ()
    document_panels: tuple[DocumentPanel, ...] = ()
    demo_seeder: str = ""  # dotted path of a callable(tenant) that adds demo data
    features: tuple[Text, ...] = ()  # user-facing bullet points for the pricing page
    # False while a sellable module has no screens: shown as "coming soon", cannot be enabled, never billed.
    # Making it available is flipping this flag (issue 9 section 1).
    available: bool = True
    # Outbound webhook events this module emits: (name, label), e.g. ("customer.created", _("...")).
    webhook_events: tuple[tuple[str, Text], ...] = ()
    # The global search: dotted path of a callable(user, q, limit) -> list of result dicts with "label",
    # "url" and "kind" (a translated word such as "Opportunity"), called for the tenant's enabled modules
    # (crm.kernel.hooks.module_search). It applies the data scope and runs a fixed number of queries.
    search: str = ""

    def module_roles(self) -> tuple[ModuleRole, ...]:
        return tuple(r if isinstance(r, ModuleRole) else ModuleRole(r[0], r[1]) for r in self.roles)

    @property
    def sellable(self) -> bool:
        return self.kind == "sales_mode"

    @property
    def always_on(self) -> bool:
        return self.kind == "core"


class RegistryClosed(RuntimeError):
    pass


class ModuleRegistry:
    def __init__(self) -> None:
        self._modules: dict[str, ModuleManifest] = {}
        self._closed = False

    def register(self, manifest: ModuleManifest) -> None:
        if self._closed:
            raise RegistryClosed(f"registry is closed; cannot register {manifest.slug!r}")
        if manifest.slug in self._modules and self._modules[manifest.slug] is not manifest:
            raise ValueError(f"duplicate module slug {manifest.slug!r}")
        self._modules[manifest.slug] = manifest

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def all(self) -> list[ModuleManifest]:
        return list(self._modules.values())

    def sellable(self) -> list[ModuleManifest]:
        return [m for m in self._modules.values() if m.sellable]

    def get(self, slug: str) -> ModuleManifest:
        return self._modules[slug]

    def __contains__(self, slug: object) -> bool:
        return slug in self._modules

    def name_of(self, slug: str, default: str | None = None) -> str:
        """The module's display name in the active language; for a slug no longer registered (history rows
        of a removed module) `default`, else the slug itself."""
        if slug in self._modules:
            return str(self._modules[slug].name)
        return slug if default is None else default

    def always_on(self) -> set[str]:
        return {m.slug for m in self._modules.values() if m.always_on}

    def expand(self, slugs: Iterable[str]) -> set[str]:
        """The given modules plus everything they depend on, transitively, plus the always-on ones."""
        result: set[str] = set()
        stack = [s for s in slugs if s in self._modules] + sorted(self.always_on())
        while stack:
            slug = stack.pop()
            if slug in result:
                continue
            result.add(slug)
            stack.extend(d for d in self._modules[slug].depends if d not in result)
        return result

    def dependents(self, slug: str, enabled: Iterable[str]) -> list[str]:
        """Enabled modules that need `slug` (directly or not): disabling `slug` must wait for them."""
        enabled = set(enabled)
        return sorted(s for s in enabled if s != slug and slug in self.expand([s]) - {s})

    def module_roles(self) -> list[ModuleRole]:
        """Roles added by manifests, in registry order."""
        return [role for m in self._modules.values() for role in m.module_roles()]

    def module_for_namespace(self, namespace: str) -> str | None:
        if namespace in self._modules:
            return namespace
        if namespace.startswith("api-") and namespace[4:] in self._modules:
            return namespace[4:]
        return None

    def validate(self) -> list[str]:
        """Problems with the registered manifests, as messages (used by the system check)."""
        problems: list[str] = []
        for m in self._modules.values():
            for dep in m.depends:
                if dep not in self._modules:
                    problems.append(f"{m.slug}: depends on unknown module {dep!r}")
            if m.sellable and m.monthly_price <= 0:
                problems.append(f"{m.slug}: a sellable module needs a monthly price")
            if m.sellable and not m.sales_mode:
                problems.append(f"{m.slug}: a sellable module needs a sales_mode")
            for entry in m.menu:
                if not entry.url_name.startswith(f"{m.slug}:"):
                    problems.append(f"{m.slug}: menu url {entry.url_name!r} is not in namespace {m.slug!r}")
        # cycles
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(slug: str, path: list[str]) -> None:
            if slug in done or slug not in self._modules:
                return
            if slug in visiting:
                problems.append("dependency cycle: " + " -> ".join([*path, slug]))
                return
            visiting.add(slug)
            for dep in self._modules[slug].depends:
                visit(dep, [*path, slug])
            visiting.discard(slug)
            done.add(slug)

        for slug in self._modules:
            visit(slug, [])
        return problems


registry = ModuleRegistry()


def discover(
    app_modules: Iterable[str], import_module: Callable[[str], object] = importlib.import_module
) -> None:
    """Import `<app>.manifest` for each app that has one and register its MANIFEST; then close."""
    for app in app_modules:
        try:
            mod = import_module(f"{app}.manifest")
        except ModuleNotFoundError as exc:
            if exc.name == f"{app}.manifest":
                continue
            raise
        registry.register(mod.MANIFEST)  # type: ignore[attr-defined]
    registry.close()
