"""Operator console writes: operators and their second factor, suspensions, comps, impersonation (support
sessions). Every action on a tenant leaves an OperatorAudit row in the same transaction."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import get_public_schema_name, schema_context

from crm.platform.console import totp
from crm.platform.errors import NotFound, ServiceError
from crm.platform.models import ImpersonationSession, OperatorAudit
from crm.platform.permissions import Role, check_operator
from crm.tenants import services as tenant_services
from crm.tenants.accounts.handoff import make_token
from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.selectors import invalidate_modules

MIN_SUSPEND_REASON = 5
MIN_IMPERSONATION_REASON = 10
# A used TOTP step stays remembered a little longer than it could still be accepted (±1 step).
TOTP_USED_SECONDS = (2 * totp.WINDOW + 2) * totp.STEP_SECONDS


def _audit(*, actor: User, tenant: Tenant | None, action: str, detail: dict[str, Any]) -> OperatorAudit:
    return OperatorAudit.objects.create(operator=actor, tenant=tenant, action=action, detail=detail)


# --- operators and their second factor --------------------------------------------------------------


def operator_create(*, email: str, name: str, password: str) -> User:
    """A platform operator account in the public schema (never in a tenant schema)."""
    email = (email or "").strip().lower()
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    if not name:
        errors["name"] = [_("Enter a name.")]
    with schema_context(get_public_schema_name()):
        if "email" not in errors and User.objects.filter(email__iexact=email).exists():
            errors["email"] = [_("An account with this email already exists.")]
        try:
            validate_password(password, user=User(email=email, name=name))
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
        if errors:
            raise ServiceError(_("Please correct the errors below."), fields=errors)
        return User.objects.create_user(email, password, name=name, role=Role.OPERATOR, is_staff=True)


def operator_totp_check(*, user: User, code: str) -> bool:
    """Whether `code` is the operator's current TOTP code and has not been used before.

    A code is accepted once: the matched step is remembered, and that step and every earlier one are
    refused afterwards (RFC 6238 section 5.2), so a code seen over a shoulder cannot be replayed.
    """
    if not user.totp_secret:
        return False
    return _totp_accept(user_id=user.pk, secret=user.totp_secret, code=code)


def _totp_accept(*, user_id: int, secret: str, code: str) -> bool:
    counter = totp.match(secret, code)
    if counter is None:
        return False
    with schema_context(get_public_schema_name()):
        last = cache.get(f"totp-last:{user_id}")
        if last is not None and counter <= int(last):
            return False
        # add() is atomic in Redis: two requests racing with the same code cannot both win.
        if not cache.add(f"totp-used:{user_id}:{counter}", 1, TOTP_USED_SECONDS):
            return False
        cache.set(f"totp-last:{user_id}", counter, TOTP_USED_SECONDS)
    return True


def operator_totp_enable(*, actor: User, secret: str, code: str) -> None:
    """Turn on (or replace) the second factor once the operator proves their app has the new secret."""
    check_operator(actor)
    if not secret or not _totp_accept(user_id=actor.pk, secret=secret, code=code):
        raise ServiceError(
            _("The code is not valid. Check the time on your phone and try again."), field="code"
        )
    with transaction.atomic():
        User.objects.filter(pk=actor.pk).update(totp_secret=secret, updated_at=timezone.now())
        _audit(actor=actor, tenant=None, action="operator.totp_enabled", detail={})
    actor.totp_secret = secret


# --- tenants -------------------------------------------------------------------------------------------


def tenant_suspend(*, actor: User, tenant: Tenant, reason: str) -> None:
    """Suspend a workspace: its users see a clear page, nothing is deleted."""
    check_operator(actor)
    reason = (reason or "").strip()
    if len(reason) < MIN_SUSPEND_REASON:
        raise ServiceError(
            _("Give the reason for the suspension (at least %(n)d characters).") % {"n": MIN_SUSPEND_REASON},
            field="reason",
        )
    if tenant.status == TenantStatus.SUSPENDED:
        raise ServiceError(_("This workspace is already suspended."))
    with transaction.atomic():
        tenant_services.tenant_suspend(tenant=tenant, reason=reason, by=f"operator:{actor.email}")
        _audit(actor=actor, tenant=tenant, action="tenant.suspend", detail={"reason": reason})


def tenant_reactivate(*, actor: User, tenant: Tenant) -> None:
    check_operator(actor)
    with transaction.atomic():
        previous_reason = tenant.suspended_reason
        tenant_services.tenant_reactivate(tenant=tenant, by=f"operator:{actor.email}")
        _audit(
            actor=actor,
            tenant=tenant,
            action="tenant.reactivate",
            detail={"suspended_reason": previous_reason, "status": tenant.status},
        )


def module_comp_set(*, actor: User, tenant: Tenant, module: str, comp: bool, reason: str = "") -> None:
    """Grant a module free of charge (it is on whatever the tenant chooses) or withdraw the grant."""
    check_operator(actor)
    if not tenant.is_live:
        raise ServiceError(_("Only a live workspace can be given modules."))
    reason = (reason or "").strip()[:200]
    with transaction.atomic():
        tenant_services.module_set_comp(
            tenant=tenant, module=module, comp=comp, operator_email=actor.email, reason=reason
        )
        _audit(
            actor=actor,
            tenant=tenant,
            action="module.comp_on" if comp else "module.comp_off",
            detail={"module": module, "reason": reason},
        )
    # The module set is cached per tenant; forget it again once the change is visible to other requests.
    transaction.on_commit(lambda: invalidate_modules(tenant))


# --- impersonation (support sessions) -------------------------------------------------------------------


def impersonation_start(
    *, actor: User, tenant: Tenant, user_id: int, reason: str
) -> tuple[ImpersonationSession, str]:
    """Open a support session as a tenant user. Returns the session and the one-time URL on the tenant host
    that logs the operator in there (valid for two minutes, single use, only on that tenant's host).

    Impersonating the owner is allowed but flagged in the audit trail; a deactivated user cannot be
    impersonated.
    """
    check_operator(actor)
    errors: dict[str, list[str]] = {}
    reason = (reason or "").strip()
    if len(reason) < MIN_IMPERSONATION_REASON:
        errors["reason"] = [
            _("Explain why you need to act as this user (at least %(n)d characters).")
            % {"n": MIN_IMPERSONATION_REASON}
        ]
    if tenant.status not in (TenantStatus.TRIAL, TenantStatus.ACTIVE, TenantStatus.PAST_DUE):
        raise ServiceError(_("Support sessions are only possible in a live, unsuspended workspace."))
    with schema_context(tenant.schema_name):
        target = User.objects.filter(pk=user_id).exclude(role=Role.OPERATOR).first()
    if target is None:
        raise NotFound(_("No such user in this workspace."), field="user_id")
    if not target.is_active:
        errors["user_id"] = [_("This user is deactivated and cannot be impersonated.")]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    flagged = target.role == Role.OWNER
    with transaction.atomic():
        session = ImpersonationSession.objects.create(
            operator=actor, tenant=tenant, target_user_id=target.pk, target_email=target.email, reason=reason
        )
        _audit(
            actor=actor,
            tenant=tenant,
            action="impersonation.start",
            detail={
                "session": session.pk,
                "user_id": target.pk,
                "email": target.email,
                "role": target.role,
                "reason": reason,
                "owner": flagged,
            },
        )
    token = make_token(
        schema=tenant.schema_name, user_id=target.pk, purpose="impersonate", extra={"imp": session.pk}
    )
    return session, tenant_services.tenant_url(tenant, f"/auth/handoff/{token}/")


def impersonation_started(*, session_id: int) -> ImpersonationSession:
    """Called on the tenant host when the handoff link is used."""
    # The request runs in the tenant schema, whose search path puts the tenant's own accounts_user first:
    # joining the operator there would find a tenant user with the same id. Read in the public schema.
    with schema_context(get_public_schema_name()), transaction.atomic():
        session = (
            ImpersonationSession.objects.select_for_update().select_related("operator").get(pk=session_id)
        )
        if session.started_at is None:
            session.started_at = timezone.now()
            session.token_used = True
            session.save(update_fields=["started_at", "token_used", "updated_at"])
    return session


def impersonation_ended(*, session_id: int) -> None:
    """Called on the tenant host when the operator ends the support session (or logs out)."""
    with schema_context(get_public_schema_name()), transaction.atomic():
        ended = ImpersonationSession.objects.filter(pk=session_id, ended_at__isnull=True).update(
            ended_at=timezone.now(), updated_at=timezone.now()
        )
        if ended:
            session = ImpersonationSession.objects.get(pk=session_id)
            OperatorAudit.objects.create(
                operator_id=session.operator_id,
                tenant_id=session.tenant_id,
                action="impersonation.end",
                detail={"session": session.pk, "email": session.target_email},
            )


def two_factor_required() -> bool:
    return bool(getattr(settings, "OPERATOR_2FA_REQUIRED", False))
