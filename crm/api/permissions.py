"""DRF permission built on the platform's named permissions (crm.platform.permissions.has_perm)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class _NamedPermission(BasePermission):
    perm = ""
    writes_only = False

    def has_permission(self, request: Request, view: Any) -> bool:
        from crm.platform.permissions import has_perm

        user = request.user
        if not (user and user.is_authenticated):
            return False
        if self.writes_only and request.method in SAFE_METHODS:
            return True
        return has_perm(user, self.perm)  # type: ignore[arg-type]


def HasPerm(perm: str, *, writes_only: bool = False) -> type[BasePermission]:
    """`permission_classes = [HasPerm("workspace.manage_users")]`: a permission class for one named
    permission. With `writes_only`, reads (GET/HEAD/OPTIONS) need only a signed-in user."""
    from crm.platform.permissions import permission_map

    # Fail when the view module loads on a typo, rather than with a 500 on the first request.
    if perm not in permission_map():
        raise KeyError(f"unknown permission {perm!r}")
    name = "HasPerm_" + perm.replace(".", "_")
    return type(name, (_NamedPermission,), {"perm": perm, "writes_only": writes_only})
