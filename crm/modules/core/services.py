"""Writes of the CRM core: customers, sharing, merge, handover, public pool, activities, tasks, products.

Every function validates first and writes inside one transaction, so refused input changes nothing.
Ownership moves and customer edits leave an AuditEntry (visible to admins in the audit trail).
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

import crm.modules.webhooks.public as webhooks
from crm.kernel import hooks
from crm.kernel.money import parse_amount
from crm.kernel.vat import validate_rate
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import Role, check_perm, has_perm
from crm.tenants.accounts.models import AuditEntry, User
from crm.tenants.accounts.services import audit

from . import selectors
from .models import (
    Activity,
    ActivityComment,
    Contact,
    CoreSettings,
    Customer,
    CustomerShare,
    CustomFieldDefinition,
    Document,
    Product,
    Task,
    WeeklyReport,
)

# Legal-form words ignored when comparing company names ("上海明达有限公司" == "上海明达").
_LEGAL_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "公司",
    "co ltd",
    "coltd",
    "ltd",
    "inc",
    "llc",
)
logger = logging.getLogger(__name__)
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


class DuplicateCustomer(ServiceError):
    """Creating would duplicate existing customers; the caller may merge, or retry allowing duplicates."""

    code = "duplicate"
    status = 409

    def __init__(self, duplicates: list[Customer]) -> None:
        super().__init__(_("A customer with the same phone, email or name already exists."))
        self.duplicates = duplicates


def normalize_name(name: str) -> str:
    text = unicodedata.normalize("NFKC", name or "").lower()
    text = text.replace("(", "").replace(")", "")
    text = _PUNCT.sub("", text)
    for suffix in _LEGAL_SUFFIXES:
        suffix = suffix.replace(" ", "")
        if text.endswith(suffix) and len(text) > len(suffix):
            text = text[: -len(suffix)]
            break
    return text[:200]


def normalize_phone(phone: str) -> str:
    """Digits only, without the +86 / 0086 country code, so "+86 138-0013-8000" == "13800138000"."""
    digits = re.sub(r"\D", "", phone or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) == 11:
            digits = digits[len(prefix) :]
    return digits[:30]


def initials(text: str) -> str:
    """Pinyin initials for Chinese characters, letters/digits kept: "明达科技" -> "mdkj"."""
    parts = lazy_pinyin(text or "", style=Style.FIRST_LETTER, errors="default")
    return re.sub(r"[^0-9a-z]", "", "".join(parts).lower())[:200]


def _require_edit(actor: User, customer: Customer) -> None:
    if not selectors.customer_can_edit(actor, customer):
        raise PermissionDenied(_("You may not change this customer."))


def _clean_email(value: str, field_name: str = "email") -> str:
    value = (value or "").strip().lower()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise ServiceError(_("Enter a valid email address."), field=field_name) from None
    return value


def _clean_tags(tags: Sequence[str] | str | None) -> list[str]:
    if isinstance(tags, str):
        tags = re.split(r"[,，;；\s]+", tags)
    seen: list[str] = []
    for tag in tags or []:
        tag = tag.strip()[:30]
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def custom_fields_clean(values: dict[str, Any] | None) -> dict[str, Any]:
    """Validate values against the admin-defined fields; unknown keys are refused, values normalised."""
    values = values or {}
    definitions = {d.key: d for d in CustomFieldDefinition.objects.all()}
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for key in values:
        if key not in definitions:
            errors[f"custom_fields.{key}"] = [_("Unknown field.")]
    for key, d in definitions.items():
        raw = values.get(key)
        if raw in (None, ""):
            if d.required:
                errors[f"custom_fields.{key}"] = [_("This field is required.")]
            continue
        try:
            if d.field_type == CustomFieldDefinition.FieldType.NUMBER:
                cleaned[key] = str(Decimal(str(raw)))
            elif d.field_type == CustomFieldDefinition.FieldType.DATE:
                cleaned[key] = (
                    raw.isoformat() if isinstance(raw, date) else date.fromisoformat(str(raw)).isoformat()
                )
            elif d.field_type == CustomFieldDefinition.FieldType.CHOICE:
                if str(raw) not in [str(c) for c in d.choices]:
                    raise ValueError
                cleaned[key] = str(raw)
            else:
                cleaned[key] = str(raw)[:500]
        except (ValueError, InvalidOperation):
            errors[f"custom_fields.{key}"] = [_("Enter a valid value for %(label)s.") % {"label": d.label}]
    if errors:
        raise ServiceError(_("Please correct the custom fields."), fields=errors)
    return cleaned


CUSTOMER_FIELDS = (
    "kind",
    "name",
    "phone",
    "email",
    "province",
    "city",
    "address",
    "tags",
    "source",
    "stage",
    "notes",
    "custom_fields",
)


def _customer_values(data: dict[str, Any]) -> dict[str, Any]:
    """Validated, normalised customer attributes (only the keys given)."""
    out: dict[str, Any] = {}
    if "name" in data:
        name = (data["name"] or "").strip()
        if not name:
            raise ServiceError(_("Enter the customer's name."), field="name")
        out["name"] = name[:200]
        out["name_normalized"] = normalize_name(name)
        out["name_initials"] = initials(name)
    if "phone" in data:
        out["phone"] = normalize_phone(data["phone"])
    if "email" in data:
        out["email"] = _clean_email(data["email"])
    if "tags" in data:
        out["tags"] = _clean_tags(data["tags"])
    for key, choices in (("kind", Customer.Kind), ("source", Customer.Source), ("stage", Customer.Stage)):
        if data.get(key):
            if data[key] not in choices.values:
                raise ServiceError(_("Choose a valid option."), field=key)
            out[key] = data[key]
    for key in ("province", "city", "address", "notes"):
        if key in data:
            out[key] = (data[key] or "").strip()
    if "custom_fields" in data:
        out["custom_fields"] = custom_fields_clean(data["custom_fields"])
    return out


def customer_create(
    *,
    actor: User,
    name: str,
    kind: str = Customer.Kind.COMPANY,
    phone: str = "",
    email: str = "",
    province: str = "",
    city: str = "",
    address: str = "",
    tags: Sequence[str] | str | None = None,
    source: str = Customer.Source.OTHER,
    stage: str = Customer.Stage.LEAD,
    notes: str = "",
    custom_fields: dict[str, Any] | None = None,
    owner: User | None = None,
    contact_name: str = "",
    contact_title: str = "",
    allow_duplicate: bool = False,
) -> Customer:
    """Create a customer owned by `owner` (default: the actor). Refuses with DuplicateCustomer when the same
    phone, email or normalised name exists, unless `allow_duplicate` (the UI offers merge instead)."""
    if not selectors.can_view_customers(actor):
        raise PermissionDenied(_("You do not have permission to do this."))
    values = _customer_values(
        {
            "name": name,
            "kind": kind,
            "phone": phone,
            "email": email,
            "province": province,
            "city": city,
            "address": address,
            "tags": tags,
            "source": source,
            "stage": stage,
            "notes": notes,
            "custom_fields": custom_fields,
        }
    )
    owner = owner or actor
    if owner.pk != actor.pk and not has_perm(actor, "core.assign_customers"):
        raise PermissionDenied(_("Only managers and admins can create customers for a colleague."))
    if (
        owner.pk != actor.pk
        and actor.role not in (Role.OWNER, Role.ADMIN)
        and (owner.pk not in selectors.team_user_ids(actor))
    ):
        raise PermissionDenied(_("Managers assign customers only within their team."))
    if not allow_duplicate:
        dups = selectors.duplicates_find(name=name, phone=values["phone"], email=values["email"])
        if dups:
            raise DuplicateCustomer(dups)
    now = timezone.now()
    with transaction.atomic():
        customer = Customer.objects.create(**values, owner=owner, created_by=actor, last_activity_at=now)
        if contact_name.strip():
            Contact.objects.create(
                customer=customer,
                name=contact_name.strip(),
                name_initials=initials(contact_name),
                title=contact_title.strip(),
                phone=values["phone"],
                is_primary=True,
            )
        audit(
            actor=actor,
            action="customer.create",
            target=customer,
            detail={"name": customer.name, "owner": owner.pk},
        )
        webhooks.emit("customer.created", data=customer_payload(customer))
    return customer


def customer_payload(customer: Customer) -> dict[str, Any]:
    """How a customer appears in outbound webhooks (the API's field names)."""
    return {
        "id": customer.pk,
        "name": customer.name,
        "kind": customer.kind,
        "stage": customer.stage,
        "source": customer.source,
        "phone": customer.phone,
        "email": customer.email,
        "province": customer.province,
        "city": customer.city,
        "owner": customer.owner_id,
        "created_at": customer.created_at.isoformat() if customer.created_at else None,
        "updated_at": customer.updated_at.isoformat() if customer.updated_at else None,
    }


def customer_update(*, actor: User, customer: Customer, **data: Any) -> Customer:
    """Change customer attributes; every changed field is recorded in the audit trail (old, new)."""
    _require_edit(actor, customer)
    unknown = set(data) - set(CUSTOMER_FIELDS)
    if unknown:
        raise ServiceError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(unknown))})
    values = _customer_values(data)
    changes: dict[str, Any] = {}
    for key, value in values.items():
        old = getattr(customer, key)
        if old != value:
            if key not in ("name_normalized", "name_initials"):
                changes[key] = [old, value]
            setattr(customer, key, value)
    if changes:
        with transaction.atomic():
            customer.save()
            audit(actor=actor, action="customer.update", target=customer, detail=changes)
            webhooks.emit("customer.updated", data={**customer_payload(customer), "changed": sorted(changes)})
    return customer


def contact_create(
    *,
    actor: User,
    customer: Customer,
    name: str,
    title: str = "",
    role: str = "",
    phone: str = "",
    email: str = "",
    is_primary: bool = False,
) -> Contact:
    _require_edit(actor, customer)
    name = (name or "").strip()
    if not name:
        raise ServiceError(_("Enter the contact's name."), field="name")
    with transaction.atomic():
        if is_primary:
            customer.contacts.update(is_primary=False)
        return Contact.objects.create(
            customer=customer,
            name=name[:100],
            name_initials=initials(name)[:100],
            title=title.strip(),
            role=role.strip(),
            phone=normalize_phone(phone),
            email=_clean_email(email),
            is_primary=is_primary or not customer.contacts.exists(),
        )


def contact_update(*, actor: User, contact: Contact, **data: Any) -> Contact:
    """Correct a contact (name, title, role, phone, email, primary); the change is audited on the customer."""
    _require_edit(actor, contact.customer)
    allowed = {"name", "title", "role", "phone", "email", "is_primary"}
    if set(data) - allowed:
        raise ServiceError(_("Unknown fields: %(f)s") % {"f": ", ".join(sorted(set(data) - allowed))})
    if "name" in data and not (data["name"] or "").strip():
        raise ServiceError(_("Enter the contact's name."), field="name")
    clean = {k: (v.strip() if isinstance(v, str) else v) for k, v in data.items()}
    if "phone" in clean:
        clean["phone"] = normalize_phone(clean["phone"])
    if "email" in clean:
        clean["email"] = _clean_email(clean["email"])
    changes = {k: [getattr(contact, k), v] for k, v in clean.items() if getattr(contact, k) != v}
    if not changes:
        return contact
    with transaction.atomic():
        if clean.get("is_primary"):
            contact.customer.contacts.exclude(pk=contact.pk).update(is_primary=False)
        for k, v in clean.items():
            setattr(contact, k, v)
        contact.name_initials = initials(contact.name)[:100]
        contact.save()
        # Old values stay in the audit trail: a contact's past role or phone is not lost.
        audit(
            actor=actor,
            action="contact.update",
            target=contact.customer,
            detail={"contact": contact.pk, **changes},
        )
    return contact


def customer_share(*, actor: User, customer: Customer, user: User, can_edit: bool = False) -> CustomerShare:
    _require_edit(actor, customer)
    if not user.is_active or user.pk == customer.owner_id:
        raise ServiceError(_("Choose an active colleague other than the owner."), field="user")
    if not has_perm(user, "core.view_customers"):
        raise ServiceError(_("This colleague's role cannot see customers."), field="user")
    with transaction.atomic():
        share, _created = CustomerShare.objects.update_or_create(
            customer=customer, user=user, defaults={"can_edit": can_edit, "shared_by": actor}
        )
        audit(
            actor=actor, action="customer.share", target=customer, detail={"user": user.pk, "edit": can_edit}
        )
    return share


def customer_unshare(*, actor: User, customer: Customer, user: User) -> None:
    _require_edit(actor, customer)
    with transaction.atomic():
        if CustomerShare.objects.filter(customer=customer, user=user).delete()[0]:
            audit(actor=actor, action="customer.unshare", target=customer, detail={"user": user.pk})


# Foreign keys to Customer that are not customer links because the core moves them its own way: shares
# move one per user in customer_merge and end in a handover. Every other FK to Customer in any installed
# model must be declared as a CustomerLink in its module's manifest (tests/test_core_hooks.py checks).
MERGE_HANDLED_CUSTOMER_FKS = (("core.CustomerShare", "customer"),)


def customer_merge(*, actor: User, target: Customer, source: Customer) -> Customer:
    """Merge `source` into `target`: everything pointing at the source moves (the core's contacts,
    activities, tasks and documents and the customer links of every registered module, enabled or not),
    shares move unless the user already has one on the target; blank fields of the target are filled from
    the source; the source is deleted. Both must be editable by the actor."""
    if target.pk == source.pk:
        raise ServiceError(_("Choose two different customers."))
    _require_edit(actor, target)
    _require_edit(actor, source)
    with transaction.atomic():
        # Lock both rows (in id order): a row pointing at the source inserted meanwhile waits for the merge
        # and then fails on the deleted source, instead of being moved by nobody and deleted by the cascade.
        list(Customer.objects.select_for_update().filter(pk__in=[source.pk, target.pk]).order_by("pk"))
        by_model = hooks.links_merge(source_id=source.pk, target_id=target.pk)
        moved = {
            "contacts": by_model.pop("core.Contact", 0),
            "activities": by_model.pop("core.Activity", 0),
            "tasks": by_model.pop("core.Task", 0),
            "documents": by_model.pop("core.Document", 0),
            "linked": {label: n for label, n in by_model.items() if n},  # other modules' rows
        }
        existing = set(target.shares.values_list("user_id", flat=True))
        CustomerShare.objects.filter(customer=source).exclude(user_id__in=existing).update(customer=target)
        for key in ("phone", "email", "province", "city", "address", "notes"):
            if not getattr(target, key) and getattr(source, key):
                setattr(target, key, getattr(source, key))
        target.tags = _clean_tags([*target.tags, *source.tags])
        target.custom_fields = {**source.custom_fields, **target.custom_fields}
        if source.last_activity_at and (
            not target.last_activity_at or source.last_activity_at > target.last_activity_at
        ):
            target.last_activity_at = source.last_activity_at
        target.save()
        audit(
            actor=actor,
            action="customer.merge",
            target=target,
            detail={"merged": source.pk, "name": source.name, **moved},
        )
        source.delete()
    return target


# --- handover (客户资源转移) -------------------------------------------------------------------------------


@dataclass
class HandoverPlan:
    """What a handover moves: customer id -> new owner id, plus the counts shown in the preview."""

    from_user: User
    assignments: dict[int, int] = field(default_factory=dict)
    contacts: int = 0
    open_tasks: int = 0
    shares: int = 0
    documents: int = 0
    # Open records of other modules (orders, ...) owned by the departing rep that move with the customers.
    links: list[hooks.LinkCount] = field(default_factory=list)
    per_user: dict[int, int] = field(default_factory=dict)
    target_ids: list[int] = field(default_factory=list)


def _handover_plan(
    *, actor: User, from_user: User, to_users: Sequence[User], mapping: dict[int, int] | None = None
) -> HandoverPlan:
    check_perm(actor, "core.handover")
    targets = [u for u in to_users if u.pk != from_user.pk]
    if not targets:
        raise ServiceError(_("Choose at least one colleague to receive the customers."), field="to_users")
    if any(not u.is_active or not has_perm(u, "core.view_customers") for u in targets):
        raise ServiceError(
            _("Every receiving colleague must be active and able to see customers."), field="to_users"
        )
    target_ids = {u.pk for u in targets}
    customer_ids = list(Customer.objects.filter(owner=from_user).order_by("id").values_list("id", flat=True))
    plan = HandoverPlan(from_user=from_user, target_ids=[u.pk for u in targets])
    if mapping:
        bad = {cid: uid for cid, uid in mapping.items() if uid not in target_ids or cid not in customer_ids}
        if bad:
            raise ServiceError(
                _("The mapping names customers or colleagues outside this handover."), field="mapping"
            )
    # Round robin in id order (deterministic, so the confirmed result equals the preview); explicit
    # mapping entries win over the rotation.
    order = plan.target_ids
    for i, cid in enumerate(customer_ids):
        plan.assignments[cid] = (mapping or {}).get(cid, order[i % len(order)])
    for uid in plan.assignments.values():
        plan.per_user[uid] = plan.per_user.get(uid, 0) + 1
    plan.contacts = Contact.objects.filter(customer_id__in=customer_ids).count()
    plan.open_tasks = Task.objects.filter(owner=from_user, done_at__isnull=True).count()
    plan.shares = CustomerShare.objects.filter(user=from_user).count()
    # Documents hang off the customers and move with them.
    plan.documents = Document.objects.filter(customer_id__in=customer_ids).count()
    # The core's own links are counted above; open tasks move by the rule in customer_handover.
    plan.links = hooks.links_handover_counts(
        customer_ids=customer_ids, from_user_id=from_user.pk, exclude_modules=("core",)
    )
    return plan


def customer_handover_preview(
    *, actor: User, from_user: User, to_users: Sequence[User], mapping: dict[int, int] | None = None
) -> HandoverPlan:
    """What `customer_handover` would move, without writing anything."""
    return _handover_plan(actor=actor, from_user=from_user, to_users=to_users, mapping=mapping)


def customer_handover(
    *, actor: User, from_user: User, to_users: Sequence[User], mapping: dict[int, int] | None = None
) -> HandoverPlan:
    """Move ALL of a departing rep's customers (their contacts and history follow), open tasks and shares to
    one or several colleagues in one transaction, with one audit record. The former owner loses access."""
    with transaction.atomic():
        # Lock the rep's customers so a concurrent create/claim cannot slip between plan and move.
        list(
            Customer.objects.select_for_update(of=("self",))
            .filter(owner=from_user)
            .values_list("id", flat=True)
        )
        plan = _handover_plan(actor=actor, from_user=from_user, to_users=to_users, mapping=mapping)
        by_target: dict[int, list[int]] = {}
        for cid, uid in plan.assignments.items():
            by_target.setdefault(uid, []).append(cid)
        for uid, cids in by_target.items():
            Customer.objects.filter(pk__in=cids).update(owner_id=uid, updated_at=timezone.now())
            # Open tasks about a customer follow the customer.
            Task.objects.filter(owner=from_user, done_at__isnull=True, customer_id__in=cids).update(
                owner_id=uid
            )
        hooks.links_handover_move(by_target=by_target, from_user_id=from_user.pk, exclude_modules=("core",))
        # Open tasks without a (moved) customer go to the first colleague.
        Task.objects.filter(owner=from_user, done_at__isnull=True).update(owner_id=plan.target_ids[0])
        CustomerShare.objects.filter(user=from_user).delete()
        if plan.assignments:
            webhooks.emit(
                "customer.handed_over",
                data={
                    "from_user": from_user.pk,
                    "customers": [{"id": cid, "owner": uid} for cid, uid in sorted(plan.assignments.items())],
                },
            )
        audit(
            actor=actor,
            action="customer.handover",
            target=from_user,
            detail={
                "from": from_user.pk,
                "customers": {str(k): v for k, v in plan.assignments.items()},
                "contacts": plan.contacts,
                "open_tasks": plan.open_tasks,
                "shares": plan.shares,
                "documents": plan.documents,
                "linked": {c.model: c.count for c in plan.links if c.count},
            },
        )
    return plan


# --- public pool (公海) ---------------------------------------------------------------------------


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


# --- activities and tasks ---------------------------------------------------------------------------------


def activity_create(
    *,
    actor: User,
    customer: Customer,
    kind: str = Activity.Kind.VISIT,
    purpose: str = "",
    result: str = "",
    next_step: str = "",
    next_step_at: datetime | None = None,
    occurred_at: datetime | None = None,
) -> Activity:
    """Log a follow-up. It resets the customer's pool clock; a next step with a date becomes a task for the
    actor, so the rep never re-types it."""
    if not selectors.customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not log activities for this customer."))
    if kind not in Activity.Kind.values:
        raise ServiceError(_("Choose a valid option."), field="kind")
    if not (purpose.strip() or result.strip()):
        raise ServiceError(_("Say what the follow-up was about or what came out of it."), field="result")
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise ServiceError(
            _("A follow-up cannot be in the future; plan it as a next step."), field="occurred_at"
        )
    if next_step_at is not None and not next_step.strip():
        raise ServiceError(_("Describe the next step."), field="next_step")
    with transaction.atomic():
        activity = Activity.objects.create(
            customer=customer,
            author=actor,
            kind=kind,
            purpose=purpose.strip()[:255],
            result=result.strip(),
            next_step=next_step.strip()[:255],
            next_step_at=next_step_at,
            occurred_at=occurred_at,
        )
        if customer.last_activity_at is None or occurred_at > customer.last_activity_at:
            customer.last_activity_at = occurred_at
        customer.pool_warned_at = None
        if customer.stage == Customer.Stage.LEAD and kind in (Activity.Kind.VISIT, Activity.Kind.MEETING):
            customer.stage = Customer.Stage.PROSPECT  # met in person: the lead is qualified
        customer.save(update_fields=["last_activity_at", "pool_warned_at", "stage", "updated_at"])
        if next_step_at is not None:
            Task.objects.create(
                title=activity.next_step,
                due_at=next_step_at,
                owner=actor,
                customer=customer,
                activity=activity,
            )
    return activity


def activity_comment(*, actor: User, activity: Activity, body: str) -> ActivityComment:
    """A manager's reply to a rep's activity (批复); the author may answer in the same thread."""
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("Write a comment."), field="body")
    if actor.pk != activity.author_id and not has_perm(actor, "core.comment_activities"):
        raise PermissionDenied(_("Only managers can comment on a colleague's follow-up."))
    if not selectors.customers_visible(actor).filter(pk=activity.customer_id).exists():
        raise PermissionDenied(_("You may not see this customer."))
    return ActivityComment.objects.create(activity=activity, author=actor, body=body)


def task_create(
    *, actor: User, title: str, due_at: datetime, owner: User | None = None, customer: Customer | None = None
) -> Task:
    title = (title or "").strip()
    if not title:
        raise ServiceError(_("Enter a title."), field="title")
    owner = owner or actor
    if (
        owner.pk != actor.pk
        and owner.pk not in selectors.team_user_ids(actor)
        and actor.role not in (Role.OWNER, Role.ADMIN)
    ):
        raise PermissionDenied(_("You can assign tasks only to yourself and your team."))
    if customer is not None and not selectors.customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not see this customer."))
    return Task.objects.create(title=title[:255], due_at=due_at, owner=owner, customer=customer)


def task_complete(*, actor: User, task: Task, done: bool = True) -> Task:
    if (
        task.owner_id != actor.pk
        and task.owner_id not in selectors.team_user_ids(actor)
        and actor.role not in (Role.OWNER, Role.ADMIN)
    ):
        raise PermissionDenied(_("This is not your task."))
    task.done_at = timezone.now() if done else None
    task.save(update_fields=["done_at", "updated_at"])
    return task


# --- products -----------------------------------------------------------------------------------------------


def _money(value: Any, field_name: str, *, required: bool = True) -> Decimal | None:
    if value in (None, "") and not required:
        return None
    amount = parse_amount(value, field=field_name)
    if amount < 0:
        raise ServiceError(_("The amount cannot be negative."), field=field_name)
    return amount


def product_save(
    *,
    actor: User,
    name: str,
    code: str = "",
    specification: str = "",
    unit: str = "",
    price: Any = "0",
    currency: str = "",
    cost: Any = None,
    category: str = "",
    vat_rate: Any = None,
    product: Product | None = None,
) -> Product:
    """Create or update a catalogue entry; the same code + name + specification is refused."""
    check_perm(actor, "core.manage_products")
    name, code, specification = (name or "").strip(), (code or "").strip(), (specification or "").strip()
    if not name:
        raise ServiceError(_("Enter the product name."), field="name")
    dup = Product.objects.filter(code=code, name=name, specification=specification)
    if product is not None:
        dup = dup.exclude(pk=product.pk)
    if dup.exists():
        raise ServiceError(
            _("A product with this code, name and specification already exists."),
            code="duplicate",
            field="code",
        )
    product = product or Product()
    product.code, product.name, product.specification = code, name, specification
    product.name_initials = initials(name)
    product.unit, product.category = (unit or "").strip()[:20], (category or "").strip()[:100]
    product.price = _money(price, "price") or Decimal("0")
    product.cost = _money(cost, "cost", required=False)
    if vat_rate not in (None, ""):
        product.vat_rate = validate_rate(vat_rate)
    product.currency = (currency or settings.DEFAULT_CURRENCY).upper()[:3]
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError:  # a concurrent insert of the same key
        raise ServiceError(
            _("A product with this code, name and specification already exists."),
            code="duplicate",
            field="code",
        ) from None
    return product


def custom_field_define(
    *, actor: User, key: str, label: str, field_type: str, choices: Sequence[str] = (), required: bool = False
) -> CustomFieldDefinition:
    check_perm(actor, "core.manage_settings")
    key = (key or "").strip().lower()
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,49}", key):
        raise ServiceError(
            _("Use lower-case letters, digits and underscores, starting with a letter."), field="key"
        )
    if CustomFieldDefinition.objects.filter(key=key).exists():
        raise ServiceError(_("A field with this key already exists."), field="key")
    if field_type not in CustomFieldDefinition.FieldType.values:
        raise ServiceError(_("Choose a valid option."), field="field_type")
    clean_choices = [c.strip() for c in choices if c.strip()]
    if field_type == CustomFieldDefinition.FieldType.CHOICE and not clean_choices:
        raise ServiceError(_("A choice field needs at least one option."), field="choices")
    if not (label or "").strip():
        raise ServiceError(_("Enter a label."), field="label")
    return CustomFieldDefinition.objects.create(
        key=key,
        label=label.strip(),
        field_type=field_type,
        choices=clean_choices,
        required=required,
        position=CustomFieldDefinition.objects.count(),
    )


# --- weekly report (销售周报) and reminders --------------------------------------------------------------


def week_start_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_report_generate(*, actor: User, week_start: date | None = None) -> WeeklyReport:
    """The actor's report for a week, pre-filled from that week's activities so nothing is typed twice.
    A draft is refreshed (its summary rebuilt only while the rep has not edited it); a submitted one is
    returned unchanged."""
    week_start = week_start_of(week_start or timezone.localdate())
    start = timezone.make_aware(datetime.combine(week_start, time.min))
    end = start + timedelta(days=7)
    activities = list(
        Activity.objects.filter(author=actor, occurred_at__gte=start, occurred_at__lt=end)
        .select_related("customer")
        .order_by("occurred_at")
    )
    lines = []
    for a in activities:
        when = timezone.localtime(a.occurred_at).strftime("%m-%d")
        text = "; ".join(x for x in (a.purpose, a.result) if x)
        step = f" → {a.next_step}" if a.next_step else ""
        lines.append(f"{when} {a.get_kind_display()} {a.customer.name}: {text}{step}")
    plan_lines = [
        f"{timezone.localtime(t.due_at).strftime('%m-%d')} {t.title}"
        + (f" ({t.customer.name})" if t.customer else "")
        for t in Task.objects.filter(owner=actor, done_at__isnull=True, due_at__lt=end + timedelta(days=7))
        .select_related("customer")
        .order_by("due_at")[:30]
    ]
    stats = {
        "activities": len(activities),
        "customers": len({a.customer_id for a in activities}),
        "by_kind": {k: sum(1 for a in activities if a.kind == k) for k in Activity.Kind.values},
        "new_customers": Customer.objects.filter(
            created_by=actor, created_at__gte=start, created_at__lt=end
        ).count(),
    }
    with transaction.atomic():
        report, created = WeeklyReport.objects.select_for_update(of=("self",)).get_or_create(
            author=actor,
            week_start=week_start,
            defaults={"summary": "\n".join(lines), "plan": "\n".join(plan_lines), "stats": stats},
        )
        if not created and report.status == WeeklyReport.Status.DRAFT:
            report.stats = stats
            if not report.summary.strip():
                report.summary = "\n".join(lines)
            if not report.plan.strip():
                report.plan = "\n".join(plan_lines)
            report.save()
    return report


def weekly_report_update(
    *, actor: User, report: WeeklyReport, summary: str, plan: str, suggestions: str
) -> WeeklyReport:
    if report.author_id != actor.pk:
        raise PermissionDenied(_("Only the author can edit a weekly report."))
    if report.status != WeeklyReport.Status.DRAFT:
        raise ServiceError(_("This report was already submitted."), code="submitted")
    report.summary, report.plan, report.suggestions = summary.strip(), plan.strip(), suggestions.strip()
    report.save(update_fields=["summary", "plan", "suggestions", "updated_at"])
    return report


def _managers_of(user: User) -> list[User]:
    """The manager of the user's team and of every team above it (nearest first)."""
    managers: list[User] = []
    team = user.team
    seen: set[int] = set()
    while team is not None and team.pk not in seen:
        seen.add(team.pk)
        if team.manager is not None and team.manager.pk != user.pk and team.manager.is_active:
            managers.append(team.manager)
        team = team.parent
    return managers


def weekly_report_submit(*, actor: User, report: WeeklyReport) -> WeeklyReport:
    """Submit to the manager (emailed on commit); the report is read-only afterwards."""
    if report.author_id != actor.pk:
        raise PermissionDenied(_("Only the author can submit a weekly report."))
    if report.status != WeeklyReport.Status.DRAFT:
        raise ServiceError(_("This report was already submitted."), code="submitted")
    if not (report.summary.strip() or report.plan.strip()):
        raise ServiceError(_("Write what you did or what you plan before submitting."), field="summary")
    with transaction.atomic():
        report.status, report.submitted_at = WeeklyReport.Status.SUBMITTED, timezone.now()
        report.save(update_fields=["status", "submitted_at", "updated_at"])
        managers = _managers_of(actor)[:1]
        if managers:
            subject = _("Weekly report of %(name)s, week of %(week)s") % {
                "name": actor.name,
                "week": report.week_start.isoformat(),
            }
            body = "\n\n".join([report.summary, report.plan, report.suggestions])
            transaction.on_commit(
                partial(
                    send_mail,
                    subject,
                    body,
                    settings.DEFAULT_FROM_EMAIL,
                    [managers[0].email],
                    fail_silently=True,
                )
            )
    return report


def weekly_report_comment(*, actor: User, report: WeeklyReport, comment: str) -> WeeklyReport:
    """The manager's reply to a submitted report."""
    allowed = actor.role in (Role.OWNER, Role.ADMIN) or (
        has_perm(actor, "core.comment_activities")
        and report.author_id != actor.pk
        and report.author_id in selectors.team_user_ids(actor)
    )
    if not allowed:
        raise PermissionDenied(_("Only the author's manager can comment."))
    if report.status != WeeklyReport.Status.SUBMITTED:
        raise ServiceError(_("The report has not been submitted yet."))
    report.manager_comment = comment.strip()
    report.save(update_fields=["manager_comment", "updated_at"])
    return report


def task_reminders_send(*, now: datetime | None = None, ahead: timedelta = timedelta(hours=1)) -> list[int]:
    """Email each owner about open tasks due within `ahead` (or overdue) once; in-app, the same tasks head
    the dashboard and the task list. Idempotent through Task.reminder_sent_at."""
    now = now or timezone.now()
    with transaction.atomic():
        due = list(
            Task.objects.select_for_update(of=("self",))
            .filter(
                done_at__isnull=True,
                reminder_sent_at__isnull=True,
                due_at__lte=now + ahead,
                owner__is_active=True,
            )
            .select_related("owner", "customer")
            .order_by("owner_id", "due_at")
        )
        by_owner: dict[int, list[Task]] = {}
        for t in due:
            by_owner.setdefault(t.owner_id, []).append(t)
        for tasks in by_owner.values():
            lines = [
                f"- {timezone.localtime(t.due_at).strftime('%Y-%m-%d %H:%M')} {t.title}"
                + (f" ({t.customer.name})" if t.customer else "")
                for t in tasks
            ]
            subject = _("Reminder: %(n)d tasks due") % {"n": len(tasks)}
            transaction.on_commit(
                partial(
                    send_mail,
                    subject,
                    "\n".join(lines),
                    settings.DEFAULT_FROM_EMAIL,
                    [tasks[0].owner.email],
                    fail_silently=True,
                )
            )
        Task.objects.filter(pk__in=[t.pk for t in due]).update(reminder_sent_at=now)
    return [t.pk for t in due]


# --- documents ---------------------------------------------------------------------------------------------

MAX_DOCUMENT_BYTES = 20 * 1024 * 1024


def document_upload(
    *, actor: User, customer: Customer, upload: Any, activity: Activity | None = None
) -> Document:
    """Attach a file to a customer the actor can see (reps attach visit photos to shared customers too)."""
    if not selectors.customers_visible(actor).filter(pk=customer.pk).exists():
        raise PermissionDenied(_("You may not see this customer."))
    if upload is None or not getattr(upload, "size", 0):
        raise ServiceError(_("Choose a file."), field="file")
    if upload.size > MAX_DOCUMENT_BYTES:
        raise ServiceError(_("Files may be at most 20 MB."), field="file")
    if activity is not None and activity.customer_id != customer.pk:
        raise ServiceError(_("The activity belongs to another customer."), field="activity")
    name = Path(upload.name or "file").name[:200]
    with transaction.atomic():
        doc = Document(
            customer=customer,
            activity=activity,
            name=name,
            size=upload.size,
            content_type=(getattr(upload, "content_type", "") or "")[:100],
            uploaded_by=actor,
        )
        doc.file.save(name, upload, save=False)
        doc.save()
        audit(
            actor=actor, action="customer.document_add", target=customer, detail={"name": name, "id": doc.pk}
        )
    return doc


def document_delete(*, actor: User, document: Document) -> None:
    if document.uploaded_by_id != actor.pk and not selectors.customer_can_edit(actor, document.customer):
        raise PermissionDenied(_("You may not delete this file."))
    with transaction.atomic():
        audit(
            actor=actor,
            action="customer.document_delete",
            target=document.customer,
            detail={"name": document.name, "id": document.pk},
        )
        storage, path = document.file.storage, document.file.name
        document.delete()
        transaction.on_commit(lambda: storage.delete(path))
