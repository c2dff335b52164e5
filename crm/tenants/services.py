"""Writes about tenants: signup/provisioning, module enablement, lifecycle."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tenants.utils import schema_context

from crm.platform import events
from crm.platform.errors import ServiceError
from crm.platform.modes import SALES_MODES
from crm.platform.permissions import Role, check_operator
from crm.platform.registry import registry
from crm.tenants import provisioning
from crm.tenants.models import BillingTerms, Domain, ModuleChange, Tenant, TenantModule, TenantStatus
from crm.tenants.selectors import billing_terms, enabled_modules, invalidate_modules

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "app",
        "admin",
        "console",
        "ops",
        "operator",
        "static",
        "media",
        "mail",
        "smtp",
        "ftp",
        "public",
        "template",
        "pool",
        "help",
        "support",
        "status",
        "billing",
        "signup",
        "login",
        "docs",
        "blog",
        "cdn",
        "assets",
        "dev",
        "test",
        "staging",
        "demo-admin",
        "root",
        "system",
    }
)
# Mainland numbers: a mobile (1[3-9] + 9 digits) with or without +86; with +86 also a landline written
# without its trunk 0 (Beijing 10 + 8 digits, 2x + 8 digits, 3-digit area codes + 7-8 digits). Any other
# country code: E.164 length. "+86 138-0000-000" (a mobile one digit short) is refused.
_CN_MOBILE = r"1[3-9]\d{9}"
_CN_LANDLINE = r"(?:10\d{8}|2\d{9}|[3-9]\d{9,10})"
PHONE_RE = re.compile(rf"^(?:(?:\+?86)?{_CN_MOBILE}|\+?86{_CN_LANDLINE}|\+(?!86)[1-9]\d{{6,14}})$")
MAX_TRIAL_DAYS = 90
MAX_GRACE_DAYS = 60


def tenant_host(tenant: Tenant) -> str:
    return f"{tenant.slug}.{settings.BASE_DOMAIN}"


def tenant_url(tenant: Tenant, path: str = "/") -> str:
    port = f":{settings.SITE_PORT}" if settings.SITE_PORT else ""
    return f"{settings.SITE_SCHEME}://{tenant_host(tenant)}{port}{path}"


@dataclass(frozen=True)
class SignupResult:
    tenant: Tenant
    owner_id: int
    path: str  # "pool" or "clone"


def normalise_phone(phone: str) -> str:
    return re.sub(r"[\s-]", "", phone or "")


def signup_slug_errors(slug: str) -> list[str]:
    """Why a workspace address cannot be used (empty when it can). Also answers the live check on the form."""
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        return [_("Use 3 to 40 lowercase letters, digits or hyphens, starting with a letter.")]
    if slug in RESERVED_SLUGS or "--" in slug:
        return [_("This workspace address is reserved. Please choose another.")]
    if Tenant.objects.filter(slug=slug).exists():
        return [_("This workspace address is already taken.")]
    return []


def signup_validate(
    *,
    company: str,
    slug: str,
    owner_name: str,
    email: str,
    password: str,
    phone: str,
    modules: list[str],
    sales_modes: list[str] | None = None,
    language: str = "zh-hans",
    allow_unavailable: bool = False,
) -> dict[str, list[str]]:
    """All problems with a signup, by field, translated. Empty when the signup may proceed.

    A module that is not available yet ("coming soon") cannot be chosen; a sales mode whose module is not
    available can (it says how the company sells, and the workspace then starts with the core alone).
    `allow_unavailable` is for demo seeding and tests only, never for a visitor's signup."""
    errors: dict[str, list[str]] = {}

    def add(field: str, msg: str) -> None:
        errors.setdefault(field, []).append(msg)

    if not company.strip():
        add("company", _("Enter your company name."))
    elif len(company.strip()) > 200:
        add("company", _("Use at most 200 characters."))
    for message in signup_slug_errors(slug):
        add("slug", message)
    if not owner_name.strip():
        add("owner_name", _("Enter your name."))
    elif len(owner_name.strip()) > 100:
        add("owner_name", _("Use at most 100 characters."))
    try:
        validate_email(email.strip())
    except ValidationError:
        add("email", _("Enter a valid email address."))
    else:
        if Tenant.objects.filter(owner_email__iexact=email.strip()).exists():
            add("email", _("This email already owns a workspace. Log in to it or use another email."))
    try:
        validate_password(password)
    except ValidationError as exc:
        for message in exc.messages:
            add("password", message)
    if phone and not PHONE_RE.match(normalise_phone(phone)):
        add("phone", _("Enter a valid mobile number, e.g. 13800138000 or +8613800138000."))
    unknown = [m for m in modules if m not in registry or not registry.get(m).sellable]
    if unknown:
        add("modules", _("Unknown module: %(names)s") % {"names": ", ".join(unknown)})
    elif not allow_unavailable:
        soon = [str(registry.get(m).name) for m in modules if not registry.get(m).available]
        if soon:
            add("modules", _("Coming soon, cannot be chosen yet: %(names)s") % {"names": ", ".join(soon)})
    known_modes = {code for code, _label in SALES_MODES}
    bad_modes = [m for m in sales_modes or [] if m not in known_modes]
    if bad_modes:
        add("sales_modes", _("Unknown sales mode: %(names)s") % {"names": ", ".join(bad_modes)})
    if language not in dict(settings.LANGUAGES):
        add("language", _("Choose a language from the list."))
    return errors


def modules_for_modes(sales_modes: list[str]) -> list[str]:
    """The available sellable modules that serve the given sales modes (what signup pre-selects); a mode
    whose module is coming soon pre-selects nothing."""
    wanted = set(sales_modes)
    return sorted(m.slug for m in registry.sellable() if m.sales_mode in wanted and m.available)


def tenant_signup(
    *,
    company: str,
    slug: str,
    owner_name: str,
    email: str,
    password: str,
    phone: str = "",
    modules: list[str],
    sales_modes: list[str] | None = None,
    language: str = "zh-hans",
    allow_unavailable: bool = False,
) -> SignupResult:
    """Create a tenant in one transaction: claim or clone a schema, add the domain, the owner, the modules.

    Never migrates: the schema comes from the spare pool or is cloned from the migrated template.
    Raises ServiceError with per-field messages on bad input (a module that is coming soon among them);
    nothing is created then. `allow_unavailable`: demo seeding and tests may start a workspace with a
    module that is not available yet (it is on, shown as coming soon, and not billed).
    """
    errors = signup_validate(
        company=company,
        slug=slug,
        owner_name=owner_name,
        email=email,
        password=password,
        phone=phone,
        modules=modules,
        sales_modes=sales_modes,
        language=language,
        allow_unavailable=allow_unavailable,
    )
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    slug = slug.strip().lower()
    email = email.strip().lower()
    modes = list(sales_modes) if sales_modes is not None else [registry.get(m).sales_mode for m in modules]
    from crm.tenants.accounts.models import User

    # PBKDF2 is slow on purpose (most of a signup's time): hash before the transaction so the claimed spare
    # schema and the slug's unique index are locked only for the short writes.
    password_hash = make_password(password)
    trial_days = billing_terms().trial_days
    try:
        with transaction.atomic():
            tenant, path = provisioning.schema_acquire()
            tenant.slug = slug
            tenant.name = company.strip()
            tenant.status = TenantStatus.TRIAL
            tenant.owner_email = email
            tenant.phone = normalise_phone(phone)
            tenant.sales_modes = sorted(set(modes))
            tenant.default_language = language
            tenant.trial_ends_at = timezone.now() + timedelta(days=trial_days)
            # A spare schema's row was created when it was cloned; the tenant is created now.
            tenant.created_at = timezone.now()
            tenant.save()
            Domain.objects.create(domain=tenant_host(tenant), tenant=tenant, is_primary=True)
            with schema_context(tenant.schema_name):
                owner = User.objects.create(
                    email=email,
                    password=password_hash,
                    name=owner_name.strip(),
                    role=Role.OWNER,
                    phone=normalise_phone(phone),
                )
            for module in sorted(set(modules)):
                _module_write(
                    tenant=tenant,
                    module=module,
                    enabled=True,
                    actor_email=email,
                    actor_kind="user",
                    reason="signup",
                )
            events.publish(
                "tenant.created",
                tenant=tenant,
                payload={"slug": slug, "modules": sorted(set(modules)), "path": path},
            )
    except IntegrityError as exc:
        # Two signups raced for the same address or email between validation and insert.
        raise ServiceError(
            _("Please correct the errors below."),
            fields={"slug": [_("This workspace address is already taken.")]},
        ) from exc
    if path == "pool":
        from crm.kernel.dispatch import enqueue
        from crm.tenants.tasks import refill_pool

        # The claimed spare is replaced in the background, after the signup is committed.
        enqueue(refill_pool.name)  # durable: survives a broker outage
    invalidate_modules(tenant)
    return SignupResult(tenant=tenant, owner_id=owner.pk, path=path)


def _module_write(
    *, tenant: Tenant, module: str, enabled: bool, actor_email: str, actor_kind: str, reason: str = ""
) -> bool:
    row, _created = TenantModule.objects.select_for_update().get_or_create(tenant=tenant, module=module)
    if row.enabled == enabled:
        return False
    row.enabled = enabled
    row.save(update_fields=["enabled", "updated_at"])
    action = ModuleChange.Action.ENABLE if enabled else ModuleChange.Action.DISABLE
    ModuleChange.objects.create(
        tenant=tenant,
        module=module,
        action=action,
        actor_email=actor_email,
        actor_kind=actor_kind,
        reason=reason,
    )
    events.publish(
        f"module.{'enabled' if enabled else 'disabled'}",
        tenant=tenant,
        payload={
            "module": module,
            "actor": actor_email,
            "actor_kind": actor_kind,
            "at": timezone.now().isoformat(),
        },
    )
    return True


def _refuse_if_needed(tenant: Tenant, module: str) -> None:
    """Refuse to turn off a module that an enabled sellable module depends on, naming those modules."""
    needed_by = [m for m in registry.dependents(module, enabled_modules(tenant)) if registry.get(m).sellable]
    if needed_by:
        names = ", ".join(str(registry.get(m).name) for m in needed_by)
        raise ServiceError(
            _("Cannot turn this off: %(names)s need it.") % {"names": names}, code="required_by"
        )


def _refuse_unavailable(module: str) -> None:
    manifest = registry.get(module)
    if not manifest.available:
        raise ServiceError(
            _("%(name)s is coming soon: it cannot be turned on yet.") % {"name": manifest.name},
            code="unavailable",
            field="module",
        )


def module_set_enabled(
    *,
    tenant: Tenant,
    module: str,
    enabled: bool,
    actor_email: str,
    actor_kind: str = "user",
    allow_unavailable: bool = False,
) -> bool:
    """Turn a sellable module on or off for a tenant. Data is never deleted. Returns whether it changed.

    Disabling a module that an enabled module depends on is refused with the reason. Enabling a module
    that is not available yet (coming soon) is refused; disabling one that is on is allowed.
    `allow_unavailable` is for tests of modules being built, never for a request.
    """
    if module not in registry or not registry.get(module).sellable:
        if module in registry and not registry.get(module).always_on and not enabled:
            # A building block (e.g. sales documents) is on because sellable modules need it: say which.
            _refuse_if_needed(tenant, module)
        raise ServiceError(_("This module cannot be switched on or off."), code="not_toggleable")
    if tenant.status in (TenantStatus.SUSPENDED, TenantStatus.CLOSED):
        raise ServiceError(
            _("This workspace is suspended; modules cannot be changed."), code="tenant_read_only"
        )
    if enabled and not allow_unavailable:
        _refuse_unavailable(module)
    if not enabled:
        _refuse_if_needed(tenant, module)
    with transaction.atomic():
        changed = _module_write(
            tenant=tenant, module=module, enabled=enabled, actor_email=actor_email, actor_kind=actor_kind
        )
    invalidate_modules(tenant)
    return changed


def module_set_comp(
    *, tenant: Tenant, module: str, comp: bool, operator_email: str, reason: str = ""
) -> None:
    """Operator: grant (or withdraw) a module free of charge; a comped module is on whatever the tenant
    says."""
    if module not in registry or not registry.get(module).sellable:
        raise ServiceError(_("Unknown module."), code="unknown_module")
    if comp:
        # A comped module is on: granting one that is not built would switch on an empty module.
        _refuse_unavailable(module)
    with transaction.atomic():
        row, _created = TenantModule.objects.select_for_update().get_or_create(tenant=tenant, module=module)
        if row.comp == comp:
            return
        row.comp = comp
        row.save(update_fields=["comp", "updated_at"])
        action = ModuleChange.Action.COMP_ON if comp else ModuleChange.Action.COMP_OFF
        ModuleChange.objects.create(
            tenant=tenant,
            module=module,
            action=action,
            actor_email=operator_email,
            actor_kind="operator",
            reason=reason,
        )
        events.publish(f"module.{action}", tenant=tenant, payload={"module": module, "actor": operator_email})
    invalidate_modules(tenant)


# Which status may follow which. Template, pool and platform rows are schemas, not customers: they never
# change status here (provisioning owns them). Closed is final and reached only through closing a workspace
# (billing's tenant_close, which exports the data first), hence `closing=True`.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    TenantStatus.TRIAL: frozenset({TenantStatus.ACTIVE, TenantStatus.PAST_DUE, TenantStatus.SUSPENDED}),
    TenantStatus.ACTIVE: frozenset({TenantStatus.PAST_DUE, TenantStatus.SUSPENDED}),
    TenantStatus.PAST_DUE: frozenset({TenantStatus.ACTIVE, TenantStatus.SUSPENDED}),
    TenantStatus.SUSPENDED: frozenset({TenantStatus.ACTIVE, TenantStatus.TRIAL, TenantStatus.CLOSED}),
}


def _status_event(old: str, new: str) -> str:
    """The domain event a status change publishes (the names billing and the console already read:
    `tenant.suspended` starts the retention clock)."""
    if new in (TenantStatus.SUSPENDED, TenantStatus.CLOSED):
        return f"tenant.{new}"
    if old == TenantStatus.SUSPENDED:
        return "tenant.reactivated"
    if old == TenantStatus.TRIAL and new == TenantStatus.ACTIVE:
        return "tenant.activated"
    return f"tenant.{new}"


def tenant_set_status(
    *,
    tenant: Tenant,
    status: str,
    by: str,
    reason: str = "",
    closing: bool = False,
    fields: dict[str, object] | None = None,
    payload: dict[str, object] | None = None,
) -> bool:
    """Move a tenant to `status` if STATUS_TRANSITIONS allows it; the one place a tenant's status changes.

    `by` says who moved it ("billing", "stripe", "operator:<email>", "system"). `fields` are other tenant
    columns written in the same update (e.g. the suspension reason). The change is recorded as a domain
    event with from/to/by/reason. A refused move raises ServiceError (code "bad_transition") and changes
    nothing; moving to the status the tenant already has writes nothing and returns False.
    """
    with transaction.atomic():
        # Re-read under a lock: two writers (dunning and a webhook) must not both judge the old status.
        current = Tenant.objects.select_for_update().get(pk=tenant.pk)
        old = str(current.status)
        if old == status:
            tenant.status = old
            return False
        if status not in STATUS_TRANSITIONS.get(old, frozenset()) or (
            status == TenantStatus.CLOSED and not closing
        ):
            raise ServiceError(
                _("A workspace cannot go from %(old)s to %(new)s.")
                % {"old": _status_label(old), "new": _status_label(status)},
                code="bad_transition",
            )
        now = timezone.now()
        updates: dict[str, object] = {**(fields or {}), "status": status, "updated_at": now}
        if old == TenantStatus.TRIAL and status == TenantStatus.ACTIVE and not current.activated_at:
            updates.setdefault("activated_at", now)
        Tenant.objects.filter(pk=tenant.pk).update(**updates)
        for name, value in updates.items():
            setattr(tenant, name, value)
        events.publish(
            _status_event(old, status),
            tenant=tenant,
            payload={"from": old, "to": status, "by": by, "reason": reason, **(payload or {})},
        )
    # No cache holds the status itself (django-tenants reads the tenant row on every request). The
    # per-tenant module set is dropped anyway, after commit, so nothing computed before the change
    # (e.g. while the workspace was read-only) is served after it.
    transaction.on_commit(lambda: invalidate_modules(tenant))
    return True


def _status_label(status: str) -> str:
    try:
        return str(TenantStatus(status).label)
    except ValueError:
        return status


def tenant_suspend(*, tenant: Tenant, reason: str, by_billing: bool = False, by: str = "") -> None:
    """Suspend a workspace (read-only when billing did it, a notice page when an operator did). Nothing is
    deleted. A suspended workspace keeps its status; only the reason is updated."""
    if tenant.status in (TenantStatus.TEMPLATE, TenantStatus.POOL, TenantStatus.CLOSED):
        raise ServiceError(_("Only a live workspace can be suspended."), code="bad_transition")
    extra = {"suspended_reason": reason[:200], "suspended_by_billing": by_billing}
    with transaction.atomic():
        changed = tenant_set_status(
            tenant=tenant,
            status=TenantStatus.SUSPENDED,
            by=by or ("billing" if by_billing else "operator"),
            reason=reason,
            fields=extra,
            payload={"by_billing": by_billing},
        )
        if not changed:
            Tenant.objects.filter(pk=tenant.pk).update(**extra, updated_at=timezone.now())
            tenant.suspended_reason, tenant.suspended_by_billing = reason[:200], by_billing


def tenant_reactivate(*, tenant: Tenant, by: str = "") -> None:
    """End a suspension: back to the trial if it is still running and the workspace was never activated,
    else active (billing moves it to past_due again if an invoice is still overdue)."""
    if tenant.status != TenantStatus.SUSPENDED:
        raise ServiceError(_("This workspace is not suspended."), code="bad_transition")
    in_trial = tenant.trial_ends_at is not None and tenant.trial_ends_at > timezone.now()
    tenant_set_status(
        tenant=tenant,
        status=TenantStatus.TRIAL if in_trial and not tenant.activated_at else TenantStatus.ACTIVE,
        by=by or ("billing" if tenant.suspended_by_billing else "operator"),
        fields={"suspended_reason": "", "suspended_by_billing": False},
    )


def billing_terms_set(*, actor: Any, trial_days: int | None, grace_days: int | None) -> BillingTerms:
    """Operator: a new trial length (for workspaces signing up from now on) and grace period (for invoices
    falling due from now on). Recorded as a new row and an operator audit entry; nothing else changes."""
    from crm.platform.models import OperatorAudit

    check_operator(actor)
    errors: dict[str, list[str]] = {}
    limits = (("trial_days", trial_days, MAX_TRIAL_DAYS), ("grace_days", grace_days, MAX_GRACE_DAYS))
    for name, value, most in limits:
        if value is None or not 0 <= value <= most:
            errors[name] = [_("Enter a whole number of days from 0 to %(max)d.") % {"max": most}]
    if errors:
        raise ServiceError(_("Please correct the errors below."), fields=errors)
    assert trial_days is not None and grace_days is not None
    before = billing_terms()
    with transaction.atomic():
        row = BillingTerms.objects.create(trial_days=trial_days, grace_days=grace_days, set_by=actor.email)
        OperatorAudit.objects.create(
            operator=actor,
            tenant=None,
            action="billing_terms.set",
            detail={
                "trial_days": [before.trial_days, trial_days],
                "grace_days": [before.grace_days, grace_days],
            },
        )
    return row
