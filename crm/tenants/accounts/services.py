"""Writes about tenant users: invitations, roles, teams, deactivation, API keys, audit entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import Role, check_perm, is_tenant_role
from crm.tenants.accounts.models import ApiKey, AuditEntry, Invitation, Team, User, hash_token, new_token

INVITE_DAYS = 7


def audit(
    *,
    actor: User | None,
    action: str,
    label: str = "",
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=label or (actor.email if actor else "system"),
        action=action,
        target_type=type(target).__name__ if target is not None else "",
        target_id=str(getattr(target, "pk", "")) if target is not None else "",
        detail=detail or {},
    )


def _check_role(role: str, actor: User) -> None:
    if not is_tenant_role(role):
        raise ServiceError(_("Unknown role."), field="role")
    if role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied(_("Only the owner can grant the owner role."))


def invitation_create(
    *, actor: User, email: str, role: str, name: str = "", team: Team | None = None, base_url: str
) -> tuple[Invitation, str]:
    """Invite a colleague by email; the link expires after INVITE_DAYS days. Returns the invitation and
    the raw token (only its hash is stored)."""
    check_perm(actor, "workspace.manage_users")
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ServiceError(_("Enter a valid email address."), field="email") from None
    _check_role(role, actor)
    if User.objects.filter(email=email).exists():
        raise ServiceError(_("A user with this email already exists in this workspace."), field="email")
    raw = new_token()
    with transaction.atomic():
        Invitation.objects.filter(email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation = Invitation.objects.create(
            email=email,
            name=name.strip(),
            role=role,
            team=team,
            token_hash=hash_token(raw),
            invited_by=actor,
            expires_at=timezone.now() + timedelta(days=INVITE_DAYS),
        )
        audit(actor=actor, action="user.invite", target=invitation, detail={"email": email, "role": role})
        link = f"{base_url.rstrip('/')}/auth/invite/{raw}/"
        workspace = str(getattr(getattr(connection, "tenant", None), "name", ""))
        context = {
            "invitation": invitation,
            "link": link,
            "inviter": actor,
            "days": INVITE_DAYS,
            "workspace": workspace,
        }
        body = render_to_string("accounts/invite_email.txt", context)
        subject = _("You are invited to join %(workspace)s") % {"workspace": workspace}
        # Sent only once the invitation is committed (a rolled-back invite sends nothing).
        transaction.on_commit(lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email]))
    return invitation, raw


def invitation_for_token(token: str) -> Invitation | None:
    invitation = Invitation.objects.filter(token_hash=hash_token(token)).first()
    if invitation is None or not invitation.is_usable:
        return None
    return invitation


def invitation_accept(*, token: str, name: str, password: str) -> User:
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().filter(token_hash=hash_token(token)).first()
        if invitation is None or not invitation.is_usable:
            raise ServiceError(
                _("This invitation has expired or was already used."), code="invitation_invalid"
            )
        candidate = User(email=invitation.email, name=name)
        try:
            validate_password(password, user=candidate)
        except ValidationError as exc:
            raise ServiceError(_("Choose a stronger password."), fields={"password": exc.messages}) from None
        if User.objects.filter(email=invitation.email).exists():
            raise ServiceError(_("A user with this email already exists in this workspace."))
        user = User.objects.create_user(
            invitation.email,
            password,
            name=name.strip() or invitation.email,
            role=invitation.role,
            team=invitation.team,
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at", "updated_at"])
        audit(actor=user, action="user.join", target=user, detail={"role": user.role})
    return user


def invitation_revoke(*, actor: User, invitation: Invitation) -> None:
    check_perm(actor, "workspace.manage_users")
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at", "updated_at"])
        audit(actor=actor, action="user.invite_revoke", target=invitation, detail={"email": invitation.email})


class _Unset:
    """Marker for "leave this field as it is" (None means "no team")."""


UNSET = _Unset()


def user_update(
    *,
    actor: User,
    user: User,
    role: str | None = None,
    team: Team | _Unset | None = UNSET,
    name: str | None = None,
) -> User:
    """Change a colleague's role, team or name. Only the owner grants or removes the owner role, and the
    workspace always keeps one active owner."""
    check_perm(actor, "workspace.manage_users")
    changes: dict[str, Any] = {}
    if role is not None and role != user.role:
        _check_role(role, actor)
        if user.role == Role.OWNER and actor.role != Role.OWNER:
            raise PermissionDenied(_("Only the owner can change the owner's role."))
        if (
            user.role == Role.OWNER
            and not User.objects.filter(role=Role.OWNER, is_active=True).exclude(pk=user.pk).exists()
        ):
            raise ServiceError(_("The workspace needs at least one active owner."), field="role")
        changes["role"] = [user.role, role]
        user.role = role
    if not isinstance(team, _Unset) and team != user.team:
        changes["team"] = [user.team_id, team.pk if team else None]
        user.team = team
    if name is not None and name.strip() and name.strip() != user.name:
        changes["name"] = [user.name, name.strip()]
        user.name = name.strip()
    if changes:
        with transaction.atomic():
            user.save()
            audit(actor=actor, action="user.update", target=user, detail=changes)
    return user


def user_set_active(*, actor: User, user: User, active: bool) -> User:
    """Deactivate (cannot log in, sessions and API keys stop working, records stay) or reactivate."""
    check_perm(actor, "workspace.manage_users")
    if user.pk == actor.pk and not active:
        raise ServiceError(_("You cannot deactivate yourself."))
    if user.role == Role.OWNER and actor.role != Role.OWNER:
        raise PermissionDenied(_("Only the owner can deactivate or reactivate an owner."))
    if (
        not active
        and user.role == Role.OWNER
        and not User.objects.filter(role=Role.OWNER, is_active=True).exclude(pk=user.pk).exists()
    ):
        raise ServiceError(_("The workspace needs at least one active owner."))
    if user.is_active == active:
        return user
    with transaction.atomic():
        user.is_active = active
        user.deactivated_at = None if active else timezone.now()
        user.save(update_fields=["is_active", "deactivated_at", "updated_at"])
        if not active:
            from django.contrib.sessions.models import Session

            # Sessions are per schema; end the user's open ones now.
            for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
                if session.get_decoded().get("_auth_user_id") == str(user.pk):
                    session.delete()
        audit(actor=actor, action="user.activate" if active else "user.deactivate", target=user)
    return user


def profile_update(*, actor: User, name: str, phone: str = "", language: str = "") -> User:
    """A user edits their own name, phone and language (empty language: the workspace default)."""
    from crm.tenants.services import PHONE_RE, normalise_phone

    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    phone = normalise_phone(phone)
    if not name:
        errors["name"] = [_("Enter your name.")]
    if phone and not PHONE_RE.match(phone):
        errors["phone"] = [_("Enter a valid mobile number, e.g. 13800138000 or +8613800138000.")]
    if language and language not in dict(settings.LANGUAGES):
        errors["language"] = [_("Choose one of the offered languages.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    actor.name, actor.phone, actor.language = name, phone, language
    actor.save(update_fields=["name", "phone", "language", "updated_at"])
    return actor


def user_language_set(*, actor: User, language: str) -> User:
    """The language switcher in the header: remembered on the user (it beats the cookie and the
    workspace default on every device)."""
    if language and language not in dict(settings.LANGUAGES):
        raise ServiceError(_("Choose one of the offered languages."), field="language")
    if actor.language != language:
        actor.language = language
        actor.save(update_fields=["language", "updated_at"])
    return actor


def team_save(
    *,
    actor: User,
    name: str,
    manager: User | None = None,
    parent: Team | None = None,
    team: Team | None = None,
) -> Team:
    check_perm(actor, "workspace.manage_users")
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Enter a team name."), field="name")
    same_name = Team.objects.filter(name=name)
    if team is not None:
        same_name = same_name.exclude(pk=team.pk)
    if same_name.exists():
        raise ServiceError(_("A team with this name already exists."), field="name")
    if manager is not None and manager.role not in (Role.MANAGER, Role.ADMIN, Role.OWNER):
        raise ServiceError(_("A team manager must have the manager, admin or owner role."), field="manager")
    ancestor = parent
    while ancestor is not None:
        if team is not None and ancestor.pk == team.pk:
            raise ServiceError(_("A team cannot be inside itself."), field="parent")
        ancestor = ancestor.parent
    with transaction.atomic():
        created = team is None
        team = team or Team()
        team.name, team.manager, team.parent = name, manager, parent
        team.save()
        audit(
            actor=actor,
            action="team.create" if created else "team.update",
            target=team,
            detail={"name": name, "manager": manager.pk if manager else None},
        )
    return team


def api_key_create(
    *,
    actor: User,
    name: str,
    user: User | None = None,
    read_only: bool = False,
    modules: Sequence[str] = (),
) -> tuple[ApiKey, str]:
    """Create a key that acts as `user` (default: the actor), with that user's role and data scope, for
    every module or only `modules`, read-only if asked. The raw key is shown once; only its hash is kept."""
    from crm.platform.registry import registry

    check_perm(actor, "workspace.manage_api_keys")
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100 or "\x00" in name:
        errors["name"] = [_("Give the key a name of at most 100 characters.")]
    user = user or actor
    if not user.is_active or user.role == "operator":
        errors["user"] = [_("Choose an active colleague of this workspace.")]
    chosen = sorted(set(modules))
    api_modules = {m.slug for m in registry.all() if m.api_urls}
    if unknown := [m for m in chosen if m not in api_modules]:
        errors["modules"] = [_("Unknown module: %(names)s") % {"names": ", ".join(unknown)}]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    raw = f"crm_{new_token()}"
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            prefix=raw[:12],
            key_hash=hash_token(raw),
            user=user,
            created_by=actor,
            read_only=read_only,
            modules=chosen,
        )
        audit(
            actor=actor,
            action="api_key.create",
            target=key,
            detail={"name": name, "user": user.pk, "read_only": read_only, "modules": chosen},
        )
    return key, raw


def api_key_revoke(*, actor: User, key: ApiKey) -> None:
    check_perm(actor, "workspace.manage_api_keys")
    if key.revoked_at is None:
        with transaction.atomic():
            key.revoked_at = timezone.now()
            key.save(update_fields=["revoked_at", "updated_at"])
            audit(actor=actor, action="api_key.revoke", target=key, detail={"name": key.name})


# Added for the REST API (crm/tenants/api.py): deleting a team.
def team_delete(*, actor: User, team: Team) -> None:
    """Delete a team; its members stay (without a team) and sub-teams move up to the parent."""
    check_perm(actor, "workspace.manage_users")
    with transaction.atomic():
        Team.objects.filter(parent=team).update(parent=team.parent)
        audit(actor=actor, action="team.delete", target=team, detail={"name": team.name})
        team.delete()
