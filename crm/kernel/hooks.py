"""Core extension points: what modules declare in their manifest about customers, read in one place.

- `CustomerLink`: a module's model pointing at core.Customer. `links_merge` moves the rows of every
  registered module (enabled or not: a switched-off module keeps its data) from one customer to another;
  `links_handover_counts` / `links_handover_move` move the owner of open rows along with the customers.
- `DocumentHook`: a module's synchronous handler of another module's document event (`document_event`,
  called by the document's service inside its transaction; enabled modules only, registry order).
- `DocumentPanel`: a module's panel on another module's document page (`document_panels_render`).
- `CustomerPanel` and `DashboardWidget`: cards a module adds to the customer page and the dashboard, each
  fetched by one generic view so that every card queries its own data (`panel_get`, `widget_get`).

The kernel imports no module: models are found by their "app_label.Model" name, callables by dotted path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.utils.module_loading import import_string

from crm.platform.permissions import has_perm
from crm.platform.registry import (
    CustomerLink,
    CustomerPanel,
    DashboardWidget,
    DocumentHook,
    DocumentPanel,
    ModuleManifest,
    ModuleRegistry,
    registry,
)


def customer_links(reg: ModuleRegistry | None = None) -> list[tuple[ModuleManifest, CustomerLink]]:
    """Every declared customer link of every registered module, enabled or not, in registry order."""
    reg = reg or registry
    return [(m, link) for m in reg.all() for link in m.customer_links]


def link_model(link: CustomerLink) -> type[models.Model]:
    return apps.get_model(link.model)


def _open(link: CustomerLink, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
    if not link.open_filter:
        return qs
    if isinstance(link.open_filter, str):
        result: models.QuerySet[Any] = import_string(link.open_filter)(qs)
        return result
    return qs.filter(**link.open_filter)


def links_merge(*, source_id: int, target_id: int, reg: ModuleRegistry | None = None) -> dict[str, int]:
    """Point every linked row of customer `source_id` at `target_id` (call inside the merge's transaction).
    Returns rows moved per model label."""
    moved: dict[str, int] = {}
    for _manifest, link in customer_links(reg):
        model = link_model(link)
        rows = model._default_manager.filter(**{f"{link.field}_id": source_id})
        unique = getattr(model._meta.get_field(link.field), "unique", False)
        if unique and model._default_manager.filter(**{f"{link.field}_id": target_id}).exists():
            # A one-to-one link (a customer linked once): the target keeps its own row; the source's row
            # loses its customer instead of breaking the merge on the unique key.
            rows.update(**{link.field: None})
            continue
        n = rows.update(**{link.field: target_id})
        moved[link.model] = moved.get(link.model, 0) + n
    return moved


@dataclass(frozen=True)
class LinkCount:
    module: str
    model: str
    label: str
    count: int


def _owned_links(
    reg: ModuleRegistry | None, exclude: Iterable[str]
) -> list[tuple[ModuleManifest, CustomerLink]]:
    skip = set(exclude)
    return [(m, link) for m, link in customer_links(reg) if link.owner_field and m.slug not in skip]


def links_handover_counts(
    *,
    customer_ids: Sequence[int],
    from_user_id: int,
    exclude_modules: Iterable[str] = (),
    reg: ModuleRegistry | None = None,
) -> list[LinkCount]:
    """Open linked rows of these customers owned by `from_user_id`: what a handover moves with them."""
    out = []
    for manifest, link in _owned_links(reg, exclude_modules):
        model = link_model(link)
        qs = model._default_manager.filter(
            **{f"{link.field}_id__in": list(customer_ids), f"{link.owner_field}_id": from_user_id}
        )
        label = str(link.label or model._meta.verbose_name_plural)
        out.append(LinkCount(manifest.slug, link.model, label, _open(link, qs).count()))
    return out


def links_handover_move(
    *,
    by_target: dict[int, list[int]],
    from_user_id: int,
    exclude_modules: Iterable[str] = (),
    reg: ModuleRegistry | None = None,
) -> dict[str, int]:
    """Give the open linked rows owned by `from_user_id` of each moved customer to its new owner
    (`by_target`: new owner id -> customer ids). Call inside the handover's transaction."""
    moved: dict[str, int] = {}
    for _manifest, link in _owned_links(reg, exclude_modules):
        model = link_model(link)
        for uid, cids in by_target.items():
            qs = model._default_manager.filter(
                **{f"{link.field}_id__in": cids, f"{link.owner_field}_id": from_user_id}
            )
            ids = list(_open(link, qs).values_list("pk", flat=True))
            n = model._default_manager.filter(pk__in=ids).update(**{f"{link.owner_field}_id": uid})
            moved[link.model] = moved.get(link.model, 0) + n
    return moved


# --- panels and widgets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One panel or widget placed on a page: the module, its index in the manifest and the declaration."""

    module: str
    index: int
    item: CustomerPanel | DashboardWidget


def _visible(item: CustomerPanel | DashboardWidget, user: Any) -> bool:
    return not item.permission or has_perm(user, item.permission)


def panels_for(user: Any, enabled: Iterable[str], reg: ModuleRegistry | None = None) -> list[Slot]:
    """Customer panels of the enabled modules that `user` may see, in registry order."""
    reg, on = reg or registry, set(enabled)
    return [
        Slot(m.slug, i, p)
        for m in reg.all()
        if m.slug in on
        for i, p in enumerate(m.customer_panels)
        if _visible(p, user)
    ]


def widgets_for(user: Any, enabled: Iterable[str], reg: ModuleRegistry | None = None) -> list[Slot]:
    """Dashboard widgets of the enabled modules that `user` may see, in registry order."""
    reg, on = reg or registry, set(enabled)
    return [
        Slot(m.slug, i, w)
        for m in reg.all()
        if m.slug in on
        for i, w in enumerate(m.widgets)
        if _visible(w, user)
    ]


def _slot(kind: str, module: str, index: int, user: Any, enabled: Iterable[str]) -> Slot | None:
    slots = panels_for(user, enabled) if kind == "panel" else widgets_for(user, enabled)
    return next((s for s in slots if s.module == module and s.index == index), None)


def panel_get(module: str, index: int, user: Any, enabled: Iterable[str]) -> Slot | None:
    """The panel, if its module is enabled and `user` may see it; else None (the view answers 404)."""
    return _slot("panel", module, index, user, enabled)


def widget_get(module: str, index: int, user: Any, enabled: Iterable[str]) -> Slot | None:
    """The widget, if its module is enabled and `user` may see it; else None (the view answers 404)."""
    return _slot("widget", module, index, user, enabled)


def slot_context(slot: Slot, *args: Any) -> dict[str, Any]:
    """The declared context callable's result (panels: (customer, user); widgets: (user,))."""
    if not slot.item.context:
        return {}
    result: dict[str, Any] = import_string(slot.item.context)(*args)
    return result


# --- global search ---------------------------------------------------------------------------------------


def module_search(
    user: Any, q: str, enabled: Iterable[str], limit: int = 10, reg: ModuleRegistry | None = None
) -> list[dict[str, Any]]:
    """Results of the enabled modules' search callables (manifest `search`), in registry order; each result
    a dict with label, url, kind, plus "module" (the slug)."""
    reg, on = reg or registry, set(enabled)
    q = (q or "").strip()
    if not q:
        return []
    out: list[dict[str, Any]] = []
    for manifest in reg.all():
        if manifest.slug not in on or not manifest.search:
            continue
        for row in import_string(manifest.search)(user, q, limit):
            out.append({**row, "module": manifest.slug})
    return out


# --- document events and panels ---------------------------------------------------------------------------


def _enabled_now() -> set[str]:
    from django.db import connection

    from crm.tenants.models import Tenant
    from crm.tenants.selectors import enabled_modules

    schema = getattr(connection, "schema_name", "public")
    if schema == "public":
        return set()
    tenant = getattr(connection, "tenant", None)
    if not isinstance(tenant, Tenant):  # schema_context() sets a stand-in without the row
        tenant = Tenant.objects.filter(schema_name=schema).first()
        if tenant is None:
            return set()
    return set(enabled_modules(tenant))


def document_hooks_for(
    doc_type: str, event: str, enabled: Iterable[str], reg: ModuleRegistry | None = None
) -> list[tuple[ModuleManifest, DocumentHook]]:
    """The hooks of the enabled modules for this document type and event, in registry order."""
    reg, on = reg or registry, set(enabled)
    return [
        (m, h)
        for m in reg.all()
        if m.slug in on
        for h in m.document_hooks
        if h.doc_type == doc_type and h.event == event
    ]


def document_event(
    *,
    doc_type: str,
    event: str,
    actor: Any,
    document: Any,
    enabled: Iterable[str] | None = None,
    reg: ModuleRegistry | None = None,
) -> int:
    """Call the handlers of the tenant's enabled modules for (doc_type, event), in registry order, each as
    handler(actor=..., document=..., event=...). Call inside the document service's transaction: a
    ServiceError raised by a handler propagates and the whole change rolls back. Returns handlers called."""
    on = _enabled_now() if enabled is None else set(enabled)
    hooks = document_hooks_for(doc_type, event, on, reg)
    for _manifest, hook in hooks:
        import_string(hook.handler)(actor=actor, document=document, event=event)
    return len(hooks)


@dataclass(frozen=True)
class DocumentSlot:
    module: str
    index: int
    item: DocumentPanel


def document_panels_for(
    doc_type: str, user: Any, enabled: Iterable[str], reg: ModuleRegistry | None = None
) -> list[DocumentSlot]:
    """Document panels of the enabled modules for this document type that `user` may see."""
    reg, on = reg or registry, set(enabled)
    return [
        DocumentSlot(m.slug, i, p)
        for m in reg.all()
        if m.slug in on
        for i, p in enumerate(m.document_panels)
        if p.doc_type == doc_type and (not p.permission or has_perm(user, p.permission))
    ]


def document_panels_render(
    doc_type: str, document: Any, user: Any, request: Any = None, enabled: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Each visible panel as {"module", "label", "html"}: its template rendered with its context."""
    from django.template.loader import render_to_string

    on = _enabled_now() if enabled is None else set(enabled)
    out = []
    for slot in document_panels_for(doc_type, user, on):
        ctx: dict[str, Any] = {"document": document, "panel": slot.item}
        if slot.item.context:
            ctx.update(import_string(slot.item.context)(document, user))
        html = render_to_string(slot.item.template, ctx, request=request)
        out.append({"module": slot.module, "label": slot.item.label, "html": html})
    return out
