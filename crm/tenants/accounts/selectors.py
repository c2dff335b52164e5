"""Reads about tenant users, teams, invitations and API keys (current schema).

Workspace settings are visible to administrators only (views check `workspace.manage_users`), so these
lists are not narrowed by data scope; each returns a queryset with its relations loaded so that list pages
run a constant number of queries however many rows there are.
"""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone

from crm.tenants.accounts.models import ApiKey, Invitation, Team, User


def user_list() -> QuerySet[User]:
    """Every user of the workspace (active first), with the team loaded."""
    return User.objects.select_related("team").order_by("-is_active", "name", "email")


def user_get(*, pk: int) -> User | None:
    return User.objects.select_related("team").filter(pk=pk).first()


def team_list() -> QuerySet[Team]:
    """Teams with manager and parent loaded."""
    return Team.objects.select_related("manager", "parent").order_by("name")


def invitation_pending_list() -> QuerySet[Invitation]:
    """Invitations still waiting for an answer (not accepted, revoked or expired), newest first."""
    return (
        Invitation.objects.select_related("team", "invited_by")
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
    )


def api_key_list() -> QuerySet[ApiKey]:
    """Every API key of the workspace (active first), with its user loaded."""
    return ApiKey.objects.select_related("user", "created_by").order_by(
        F("revoked_at").asc(nulls_first=True), "-created_at"
    )


def invitation_get(*, pk: int) -> Invitation | None:
    return Invitation.objects.filter(pk=pk).first()


def api_key_get(*, pk: int) -> ApiKey | None:
    return ApiKey.objects.filter(pk=pk).first()


def team_get(*, pk: int) -> Team | None:
    return team_list().filter(pk=pk).first()
