"""Roles, permissions and data scopes (architecture section 6).

Roles are a field on the user; permissions are named capabilities granted to roles, here for the platform
and in manifests for modules. Reads go through selectors that call `data_scope()`.

The built-in roles are `Role` (stored values never change); a module adds its own in its manifest
(`roles=(ModuleRole("storekeeper", _("Storekeeper"), scope="own"),)`) and they are appended to the choices:
assignable in the users page and API, valid in permission maps, with their declared data scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from crm.platform.errors import PermissionDenied

if TYPE_CHECKING:
    from crm.platform.registry import ModuleRegistry
    from crm.tenants.accounts.models import User


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Administrator")
    MANAGER = "manager", _("Sales manager")
    SALES = "sales", _("Sales rep")
    CLERK = "clerk", _("Store clerk")
    WAREHOUSE = "warehouse", _("Warehouse")
    FINANCE = "finance", _("Finance")
    OPERATOR = "operator", _("Platform operator")  # public schema only


# The built-in roles a tenant user may hold; tenant_role_choices() adds the modules' roles.
TENANT_ROLES = [r for r in Role if r != Role.OPERATOR]
ADMINS = (Role.OWNER, Role.ADMIN)

# Platform-level permissions; modules add theirs through ModuleManifest.permissions.
BASE_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "workspace.manage_modules": (Role.OWNER, Role.ADMIN),
    "workspace.manage_users": (Role.OWNER, Role.ADMIN),
    "workspace.manage_api_keys": (Role.OWNER,),
    "workspace.view_audit": (Role.OWNER, Role.ADMIN),
    "workspace.manage_settings": (Role.OWNER, Role.ADMIN),
    "billing.manage": (Role.OWNER,),
    "billing.view": (Role.OWNER, Role.ADMIN, Role.FINANCE),
}


def module_role_choices(reg: ModuleRegistry | None = None) -> list[tuple[str, Any]]:
    """Roles declared by module manifests, (code, label), in registry order."""
    from crm.platform.registry import registry

    return [(r.code, r.label) for r in (reg or registry).module_roles()]


def tenant_role_choices() -> list[tuple[str, Any]]:
    """Every role a tenant user may hold: the built-in ones, then the modules' roles."""
    return [(r.value, r.label) for r in TENANT_ROLES] + module_role_choices()


def role_choices() -> list[tuple[str, Any]]:
    """Choices of the stored `role` field (users and invitations): every role, operator included."""
    return list(Role.choices) + module_role_choices()


def is_tenant_role(code: str) -> bool:
    return any(code == value for value, _label in tenant_role_choices())


def role_label(code: str) -> str:
    return str(dict(role_choices()).get(code, code))


def permission_map(reg: ModuleRegistry | None = None) -> dict[str, tuple[str, ...]]:
    from crm.platform.registry import registry

    merged = dict(BASE_PERMISSIONS)
    for manifest in (reg or registry).all():
        for perm, roles in manifest.permissions.items():
            merged[perm] = tuple(roles)
    return merged


def has_perm(user: User | None, perm: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    roles = permission_map().get(perm)
    if roles is None:
        raise KeyError(f"unknown permission {perm!r}")
    return user.role in roles


def check_perm(actor: Any, perm: str, message: str | None = None) -> None:
    """Services: refuse (PermissionDenied, with `message` or the generic one) unless `actor` holds `perm`."""
    if not has_perm(actor, perm):
        raise PermissionDenied(message or gettext("You do not have permission to do this."))


def is_operator(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.role == Role.OPERATOR)


def check_operator(actor: Any) -> None:
    """Services: refuse (PermissionDenied) unless `actor` is an active platform operator."""
    if not is_operator(actor):
        raise PermissionDenied(gettext("Only platform operators can do this."))


Scope = Literal["all", "team", "own", "none"]


def data_scope(user: User) -> Scope:
    """How much of the tenant's owned records a user sees: all, their team's subtree, or their own."""
    if user.role in ADMINS:
        return "all"
    if user.role == Role.MANAGER:
        return "team"
    if user.role in (Role.SALES, Role.FINANCE, Role.WAREHOUSE):
        return "own"
    return _module_role_scope(user.role)


def _module_role_scope(code: str) -> Scope:
    from crm.platform.registry import registry

    for role in registry.module_roles():
        if role.code == code:
            return role.scope
    return "none"
