"""The product catalogue."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from crm.kernel.money import parse_amount
from crm.kernel.vat import validate_rate
from crm.platform.errors import ServiceError
from crm.platform.permissions import check_perm
from crm.tenants.accounts.models import User

from ..models import (
    CustomFieldDefinition,
    Product,
)
from .customers import initials

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
