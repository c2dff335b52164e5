"""Customers: create, update, custom fields, sharing, merge."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pypinyin import Style, lazy_pinyin

import crm.modules.webhooks.public as webhooks
from crm.kernel import hooks
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import Role, has_perm
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from .. import selectors
from ..models import (
    Contact,
    Customer,
    CustomerShare,
    CustomFieldDefinition,
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
