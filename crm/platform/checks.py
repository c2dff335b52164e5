"""System check: the manifests are valid and everything they name exists.

Besides `ModuleRegistry.validate` (unique slugs, acyclic depends, prices, namespaced menus): the app_label
is an installed app's label; every permission
a menu entry, widget, customer panel or import kind names is in the permission map; every role a permission
grants exists (built in or declared by a manifest); module roles are new, short enough to store and have a
scope; customer links name a real foreign key to core.Customer (and a real owner field and open filter);
every dotted path (contexts, filters, import kinds, demo seeder) imports and every template exists; every
HTML route's `require_perm` permission exists (API views' `HasPerm` refuses unknown ones when imported).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, register
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.module_loading import import_string

from crm.platform.registry import ModuleManifest, ModuleRegistry, registry

SCOPES = ("all", "team", "own", "none")
ROLE_MAX_LENGTH = 20  # User.role / Invitation.role max_length


def _imports(path: str) -> Any:
    try:
        return import_string(path)
    except ImportError:
        return None


def _role_problems(reg: ModuleRegistry) -> list[str]:
    from crm.platform.permissions import Role

    problems: list[str] = []
    seen = {r.value for r in Role}
    for m in reg.all():
        for role in m.module_roles():
            if role.code in seen:
                problems.append(f"{m.slug}: role {role.code!r} is already defined")
            if len(role.code) > ROLE_MAX_LENGTH or not role.code:
                problems.append(
                    f"{m.slug}: role code {role.code!r} must be 1 to {ROLE_MAX_LENGTH} characters"
                )
            if role.scope not in SCOPES:
                problems.append(f"{m.slug}: role {role.code!r} has unknown scope {role.scope!r}")
            seen.add(role.code)
    return problems


def _permission_problems(m: ModuleManifest, perms: set[str], roles: set[str]) -> list[str]:
    problems: list[str] = []
    for perm, granted in m.permissions.items():
        for role in granted:
            if str(role) not in roles:
                problems.append(f"{m.slug}: permission {perm!r} names unknown role {role!r}")
    named = [("menu entry", e.label, e.permission) for e in m.menu]
    named += [("widget", w.label, w.permission) for w in m.widgets]
    named += [("customer panel", p.label, p.permission) for p in m.customer_panels]
    named += [("document panel", p.label, p.permission) for p in m.document_panels]
    for what, label, perm in named:
        if perm and perm not in perms:
            problems.append(f"{m.slug}: {what} {str(label)!r} names unknown permission {perm!r}")
    return problems


def _path_problems(m: ModuleManifest, perms: set[str]) -> list[str]:
    problems: list[str] = []
    paths = [("widget context", w.context) for w in m.widgets]
    paths += [("panel context", p.context) for p in m.customer_panels]
    paths += [("document panel context", p.context) for p in m.document_panels]
    paths += [("document hook", h.handler) for h in m.document_hooks]
    paths += [("demo seeder", m.demo_seeder)]
    for what, path in paths:
        if path and not callable(_imports(path)):
            problems.append(f"{m.slug}: {what} {path!r} does not import as a callable")
    templates = [w.template for w in m.widgets] + [p.template for p in m.customer_panels]
    for template in templates + [p.template for p in m.document_panels]:
        try:
            get_template(template)
        except TemplateDoesNotExist:
            problems.append(f"{m.slug}: template {template!r} does not exist")
    for path in m.import_kinds:
        kind = _imports(path)
        if kind is None or not hasattr(kind, "perm"):
            problems.append(f"{m.slug}: import kind {path!r} does not import")
        elif kind.perm not in perms:
            problems.append(f"{m.slug}: import kind {path!r} names unknown permission {kind.perm!r}")
    return problems


def _link_problems(m: ModuleManifest) -> list[str]:
    problems: list[str] = []
    for link in m.customer_links:
        try:
            model = apps.get_model(link.model)
        except (LookupError, ValueError):
            problems.append(f"{m.slug}: customer link model {link.model!r} does not exist")
            continue
        names = {f.name: f for f in model._meta.get_fields()}
        fk = names.get(link.field)
        if fk is None or getattr(fk, "related_model", None) is not apps.get_model("core.Customer"):
            problems.append(f"{m.slug}: {link.model}.{link.field} is not a foreign key to core.Customer")
        if link.owner_field and not getattr(names.get(link.owner_field), "is_relation", False):
            problems.append(f"{m.slug}: {link.model}.{link.owner_field} is not an owner foreign key")
        if not link.open_filter:
            pass
        elif isinstance(link.open_filter, str):
            if not callable(_imports(link.open_filter)):
                problems.append(f"{m.slug}: open filter {link.open_filter!r} does not import as a callable")
        else:
            try:
                str(model._default_manager.filter(**link.open_filter).query)
            except Exception as exc:  # FieldError, ValueError, ...: any bad lookup
                problems.append(f"{m.slug}: open filter of {link.model} is invalid: {exc}")
    return problems


def route_problems(
    patterns: Iterable[URLPattern | URLResolver], perms: set[str], prefix: str = ""
) -> list[str]:
    """Routes whose view names (through `require_perm`) a permission missing from `perms`."""
    problems: list[str] = []
    for p in patterns:
        if isinstance(p, URLResolver):
            problems += route_problems(p.url_patterns, perms, prefix + str(p.pattern))
            continue
        perm = getattr(p.callback, "required_permission", "")
        if perm and perm not in perms:
            problems.append(f"route {prefix}{p.pattern} names unknown permission {perm!r}")
    return problems


def manifest_problems(reg: ModuleRegistry) -> list[str]:
    """Every problem with the manifests of `reg`, as messages."""
    from crm.platform.permissions import Role, permission_map

    problems = reg.validate() + _role_problems(reg)
    perms = set(permission_map(reg))
    roles = {r.value for r in Role} | {r.code for r in reg.module_roles()}
    labels = {a.label for a in apps.get_app_configs()}
    for m in reg.all():
        if m.app_label not in labels:
            problems.append(f"{m.slug}: app_label {m.app_label!r} is not an installed app")
        problems += _permission_problems(m, perms, roles)
        problems += _path_problems(m, perms)
        problems += _link_problems(m)
    return problems


@register()
def check_manifests(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from crm.platform.permissions import permission_map

    problems = manifest_problems(registry)
    perms = set(permission_map())
    for urlconf in sorted(
        {settings.ROOT_URLCONF, getattr(settings, "PUBLIC_SCHEMA_URLCONF", settings.ROOT_URLCONF)}
    ):
        problems += route_problems(get_resolver(urlconf).url_patterns, perms)
    return [Error(msg, id="crm.E001") for msg in problems]
