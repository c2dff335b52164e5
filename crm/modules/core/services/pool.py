"""The public pool (公海): settings, warnings, returns, claims."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import Role, check_perm, has_perm
from crm.tenants.accounts.models import AuditEntry, User
from crm.tenants.accounts.services import audit

from .. import selectors
from ..models import (
    CoreSettings,
    Customer,
    CustomerShare,
    Task,
)
from .customers import _require_edit

# --- public pool (公海) ---------------------------------------------------------------------------

logger = logging.getLogger(__name__)


def core_settings_update(
    *, actor: User, pool_days: int, pool_warning_days: int, pool_claims_per_day: int
) -> CoreSettings:
    check_perm(actor, "core.manage_settings")
    if pool_days < 1 or pool_days > 3650:
        raise ServiceError(_("Enter a number of days between 1 and 3650."), field="pool_days")
    if pool_warning_days >= pool_days:
        raise ServiceError(_("The warning must come before the return."), field="pool_warning_days")
    s = selectors.core_settings()
    with transaction.atomic():
        s.pool_days, s.pool_warning_days, s.pool_claims_per_day = (
            pool_days,
            pool_warning_days,
            pool_claims_per_day,
        )
        s.save()
        audit(
            actor=actor,
            action="core.settings",
            target=s,
            detail={"pool_days": pool_days, "warn": pool_warning_days, "claims": pool_claims_per_day},
        )
    return s


@dataclass
class SweepResult:
    warned: list[int]
    returned: list[int]


def _stale_since(q_cutoff: datetime) -> Q:
    # A customer never followed up counts from its creation.
    return Q(last_activity_at__lt=q_cutoff) | Q(last_activity_at__isnull=True, created_at__lt=q_cutoff)


def pool_sweep(*, now: datetime | None = None) -> SweepResult:
    """Warn owners of customers about to go stale, then return stale ones to the pool. Idempotent: a
    customer is warned once (pool_warned_at) and returned only after a warning. Signed customers (stage
    "customer") stay with their owner: the pool is for leads and prospects nobody follows up."""
    now = now or timezone.now()
    s = selectors.core_settings()
    base = Customer.objects.filter(owner__isnull=False, in_pool=False).exclude(stage=Customer.Stage.CUSTOMER)
    warn_cutoff = now - timedelta(days=s.pool_days - s.pool_warning_days)
    return_cutoff = now - timedelta(days=s.pool_days)
    with transaction.atomic():
        to_return = list(
            base.filter(_stale_since(return_cutoff), pool_warned_at__isnull=False)
            .select_for_update(of=("self",))
            .select_related("owner")
        )
        for customer in to_return:
            old_owner = customer.owner
            customer.owner, customer.in_pool, customer.pool_warned_at = None, True, None
            customer.save(update_fields=["owner", "in_pool", "pool_warned_at", "updated_at"])
            Task.objects.filter(customer=customer, done_at__isnull=True).delete()
            CustomerShare.objects.filter(customer=customer).delete()
            audit(
                actor=None,
                action="customer.to_pool",
                target=customer,
                detail={"owner": old_owner.pk if old_owner else None, "name": customer.name},
            )
        to_warn = list(
            base.filter(_stale_since(warn_cutoff), pool_warned_at__isnull=True)
            .select_for_update(of=("self",))
            .select_related("owner")
        )
        by_owner: dict[int, list[Customer]] = {}
        for customer in to_warn:
            customer.pool_warned_at = now
            customer.save(update_fields=["pool_warned_at", "updated_at"])
            assert customer.owner is not None
            Task.objects.create(
                title=_("Follow up %(name)s or it returns to the public pool") % {"name": customer.name},
                due_at=now + timedelta(days=s.pool_warning_days),
                owner=customer.owner,
                customer=customer,
            )
            by_owner.setdefault(customer.owner_id or 0, []).append(customer)
        for customers in by_owner.values():
            owner = customers[0].owner
            assert owner is not None
            body = "\n".join(f"- {c.name}" for c in customers)
            subject = _("%(n)d customers return to the public pool in %(d)d days without a follow-up") % {
                "n": len(customers),
                "d": s.pool_warning_days,
            }
            email = owner.email
            transaction.on_commit(
                partial(send_mail, subject, body, settings.DEFAULT_FROM_EMAIL, [email], fail_silently=True)
            )
    return SweepResult(warned=[c.pk for c in to_warn], returned=[c.pk for c in to_return])


def customer_touch(*, customer_id: int, at: datetime, source: str) -> bool:
    """A module records a follow-up on a customer (an order, a receipt, ...: `source` names it, e.g.
    "sales.order"): the customer's last follow-up moves to `at` if that is newer, and a pending pool warning
    is cleared, so the pool sweep does not reclaim a customer someone is working with. Returns whether the
    customer changed. Not a user action: the calling module's service has already checked its actor."""
    if timezone.is_naive(at):
        raise ValueError("customer_touch needs an aware datetime")
    changed = (
        Customer.objects.filter(pk=customer_id)
        .filter(Q(last_activity_at__isnull=True) | Q(last_activity_at__lt=at))
        .update(last_activity_at=at, pool_warned_at=None, updated_at=timezone.now())
    )
    if changed:
        logger.info("customer %s followed up by %s at %s", customer_id, source, at.isoformat())
    return bool(changed)


def pool_claim(*, actor: User, customer: Customer) -> Customer:
    """Take a customer from the pool, within the per-rep daily claim limit."""
    check_perm(actor, "core.claim_pool")
    s = selectors.core_settings()
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    with transaction.atomic():
        locked = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
        if not locked.in_pool or locked.owner_id is not None:
            raise ServiceError(_("Someone else has already claimed this customer."), code="conflict")
        claimed = AuditEntry.objects.filter(
            actor=actor, action="customer.claim", created_at__gte=today
        ).count()
        if claimed >= s.pool_claims_per_day:
            raise ServiceError(
                _("You can claim at most %(n)d customers from the pool per day.")
                % {"n": s.pool_claims_per_day},
                code="limit",
            )
        locked.owner, locked.in_pool, locked.pool_warned_at = actor, False, None
        locked.last_activity_at = timezone.now()  # the claim starts a fresh follow-up period
        locked.save(update_fields=["owner", "in_pool", "pool_warned_at", "last_activity_at", "updated_at"])
        audit(actor=actor, action="customer.claim", target=locked, detail={"name": locked.name})
    return locked


def customer_assign(*, actor: User, customer: Customer, owner: User) -> Customer:
    """A manager or admin gives a customer (also one from the pool) to a rep; managers only within their
    team. Open tasks of the former owner about the customer follow it."""
    check_perm(actor, "core.assign_customers")
    if actor.role not in (Role.OWNER, Role.ADMIN):
        team = selectors.team_user_ids(actor)
        if owner.pk not in team or (customer.owner_id is not None and customer.owner_id not in team):
            raise PermissionDenied(_("Managers assign customers only within their team."))
    if not owner.is_active or not has_perm(owner, "core.view_customers"):
        raise ServiceError(_("Choose an active colleague who can see customers."), field="owner")
    if owner.pk == customer.owner_id:
        return customer
    with transaction.atomic():
        old = customer.owner_id
        if old is not None:
            Task.objects.filter(customer=customer, owner_id=old, done_at__isnull=True).update(owner=owner)
        customer.owner, customer.in_pool, customer.pool_warned_at = owner, False, None
        customer.last_activity_at = customer.last_activity_at or timezone.now()
        if old is None:  # from the pool: a fresh follow-up period
            customer.last_activity_at = timezone.now()
        customer.save(update_fields=["owner", "in_pool", "pool_warned_at", "last_activity_at", "updated_at"])
        audit(actor=actor, action="customer.assign", target=customer, detail={"from": old, "to": owner.pk})
    return customer


def customer_release(*, actor: User, customer: Customer) -> Customer:
    """The owner (or a manager/admin) puts a customer back into the pool."""
    _require_edit(actor, customer)
    with transaction.atomic():
        old = customer.owner_id
        customer.owner, customer.in_pool, customer.pool_warned_at = None, True, None
        customer.save(update_fields=["owner", "in_pool", "pool_warned_at", "updated_at"])
        Task.objects.filter(customer=customer, done_at__isnull=True).delete()
        audit(actor=actor, action="customer.to_pool", target=customer, detail={"owner": old})
    return customer
