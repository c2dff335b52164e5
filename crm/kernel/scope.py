"""Data scope for any owned model (capabilities.md section 2): one primitive every selector uses.

By role (``crm.platform.permissions.data_scope``): owners and admins see all records, managers those owned
by themselves and by the members of the teams they manage and of those teams' sub-teams, sales, finance and
warehouse their own, clerks none; plus the records explicitly shared with the user when the model has a
share table (a related name whose rows carry a ``user`` FK and, for writing, a ``can_edit`` flag).

    visible_to(Customer.objects.all(), user, shares="shares", perm="core.view_customers")
    visible_to(Contact.objects.all(), user, owner_field="customer__owner", shares="customer__shares")

The result is the same queryset filtered by one condition built from subqueries (team subtree as a
recursive CTE, shares as ``pk IN (...)``), so it stays one SQL query and lists every record once.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.db.models.expressions import RawSQL

from crm.platform.permissions import data_scope, has_perm

M = TypeVar("M", bound=Model)

# Members of the teams a user manages and of all their sub-teams (Team.parent tree), as one SQL subquery
# so that list pages embed it instead of running extra queries.
_TEAM_MEMBERS_SQL = """
    WITH RECURSIVE subtree AS (
        SELECT id FROM accounts_team WHERE manager_id = %s
        UNION SELECT t.id FROM accounts_team t JOIN subtree ON t.parent_id = subtree.id
    )
    SELECT id FROM accounts_user WHERE team_id IN (SELECT id FROM subtree)
"""


def team_members_q(user: Any, field: str = "owner_id") -> Q:
    """`field` is the user or a member of a team the user manages (directly or through sub-teams)."""
    # Constant SQL with a bound parameter: nothing user-supplied is interpolated.
    return Q(**{field: user.pk}) | Q(**{f"{field}__in": RawSQL(_TEAM_MEMBERS_SQL, [user.pk])})  # noqa: S611


def team_user_ids(user: Any) -> set[int]:
    """The user plus everyone in the teams they manage and those teams' sub-teams."""
    from crm.tenants.accounts.models import User

    return set(User.objects.filter(team_members_q(user, "pk")).values_list("pk", flat=True))


def _signed_in(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def _scoped(
    queryset: QuerySet[M], user: Any, *, owner_field: str, shares: str | None, perm: str | None, edit: bool
) -> QuerySet[M]:
    if not _signed_in(user) or (perm is not None and not has_perm(user, perm)):
        return queryset.none()
    scope = data_scope(user)
    if scope == "all":
        return queryset
    if scope == "none":
        return queryset.none()
    cond = Q(**{owner_field: user.pk}) if scope == "own" else team_members_q(user, owner_field)
    if shares:
        lookup: dict[str, Any] = {f"{shares}__user": user.pk}
        if edit:
            lookup[f"{shares}__can_edit"] = True
        # A subquery, not a join: a record shared with the user and also owned by them is listed once.
        cond |= Q(pk__in=queryset.model._default_manager.filter(**lookup).values("pk"))
    return queryset.filter(cond)


def visible_to(
    queryset: QuerySet[M],
    user: Any,
    *,
    owner_field: str = "owner",
    shares: str | None = None,
    perm: str | None = None,
) -> QuerySet[M]:
    """The records of `queryset` that `user` may see: all / team subtree / own by role, plus shared ones.

    `owner_field` is the path to the owning user (``"owner"``, ``"customer__owner"`` for a child record),
    `shares` the path to the share rows (``"shares"``, ``"customer__shares"``), `perm` a permission the
    user must also hold (else nothing)."""
    return _scoped(queryset, user, owner_field=owner_field, shares=shares, perm=perm, edit=False)


def editable_to(
    queryset: QuerySet[M],
    user: Any,
    *,
    owner_field: str = "owner",
    shares: str | None = None,
    perm: str | None = None,
) -> QuerySet[M]:
    """The records of `queryset` that `user` may change: as `visible_to`, but shares count only when they
    allow writing (``can_edit``). The bulk form of `can_edit`, for imports and batch actions."""
    return _scoped(queryset, user, owner_field=owner_field, shares=shares, perm=perm, edit=True)


def _owner_id(obj: Model, owner_field: str) -> int | None:
    *path, last = owner_field.split("__")
    target: Any = obj
    for name in path:
        target = getattr(target, name, None)
        if target is None:
            return None
    return getattr(target, f"{last}_id", None)


def can_edit(
    user: Any, obj: Model, *, owner_field: str = "owner", shares: str | None = None, perm: str | None = None
) -> bool:
    """Whether `user` may change `obj`: admins and owners always, its owner, the owner's manager chain
    (managers of the owner's team or of a parent team), or a colleague it is shared with for writing."""
    if not _signed_in(user) or (perm is not None and not has_perm(user, perm)):
        return False
    scope = data_scope(user)
    if scope == "all":
        return True
    if scope == "none":
        return False
    owner_id = _owner_id(obj, owner_field)
    if owner_id is not None and owner_id == user.pk:
        return True
    if scope == "team" and owner_id is not None and owner_id in team_user_ids(user):
        return True
    if not shares:
        return False
    lookup = {"pk": obj.pk, f"{shares}__user": user.pk, f"{shares}__can_edit": True}
    return type(obj)._default_manager.filter(**lookup).exists()
