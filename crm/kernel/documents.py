"""Services for numbered documents with lines: create, replace lines, recompute totals, copy, delete.

Totals are always the sums of the stored line amounts (capabilities.md section 2), recomputed in the
same transaction that writes the lines. A document is deleted only while in its initial state; after
that it is cancelled through its state machine (`states.transition`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from django.db import transaction
from django.utils.translation import gettext as _

from crm.kernel.models import ZERO, Document, DocumentLine
from crm.kernel.money import line_amounts, round_money
from crm.kernel.numbering import number_next
from crm.platform.errors import ServiceError

D = TypeVar("D", bound=Document)
HUNDRED = Decimal("100")


@dataclass(frozen=True)
class LineData:
    """What a caller gives for one line; the amounts are computed."""

    description: str
    quantity: Decimal
    unit_price_incl: Decimal
    vat_rate: Decimal = Decimal("0.13")
    unit: str = ""
    discount_percent: Decimal = ZERO
    product_id: int | None = None
    unit_cost_excl: Decimal | None = None


def line_model(model: type[Document]) -> Any:
    """The concrete line model of a document model (its FK to the document has related_name="lines")."""
    related = model._meta.get_field("lines").related_model  # type: ignore[misc]
    assert isinstance(related, type) and issubclass(related, DocumentLine)
    return related


def _validate(lines: Sequence[LineData]) -> None:
    errors: list[str] = []
    for i, data in enumerate(lines, start=1):
        if not data.description.strip():
            errors.append(_("Line %(n)s: a description is required.") % {"n": i})
        if data.quantity <= 0:
            errors.append(_("Line %(n)s: the quantity must be positive.") % {"n": i})
        if data.unit_price_incl < 0:
            errors.append(_("Line %(n)s: the price cannot be negative.") % {"n": i})
        if not (ZERO <= data.discount_percent <= HUNDRED):
            errors.append(_("Line %(n)s: the discount must be between 0 and 100 %%.") % {"n": i})
        if not (ZERO <= data.vat_rate < 1):
            errors.append(_("Line %(n)s: the VAT rate is not valid.") % {"n": i})
    if errors:
        raise ServiceError(" ".join(errors), fields={"lines": errors})


def _line_row(model: Any, document: Document, position: int, data: LineData) -> DocumentLine:
    price = data.unit_price_incl * (1 - data.discount_percent / HUNDRED)
    amounts = line_amounts(quantity=data.quantity, unit_price_incl=price, rate=data.vat_rate)
    return model(
        document=document,
        position=position,
        product_id=data.product_id,
        description=data.description.strip(),
        quantity=data.quantity,
        unit=data.unit,
        unit_price_incl=data.unit_price_incl,
        vat_rate=data.vat_rate,
        discount_percent=data.discount_percent,
        unit_cost_excl=data.unit_cost_excl,
        amount_incl=amounts.incl,
        amount_excl=amounts.excl,
        amount_tax=amounts.tax,
    )


def document_recompute(document: Document) -> Document:
    """Store the totals as sums of the stored lines (and the pre-discount total and cost for approval
    rules). Runs in the caller's transaction, or its own."""
    with transaction.atomic():
        lines = list(line_model(type(document))._default_manager.filter(document=document))
        document.total_incl = sum((ln.amount_incl for ln in lines), ZERO)
        document.total_excl = sum((ln.amount_excl for ln in lines), ZERO)
        document.total_tax = sum((ln.amount_tax for ln in lines), ZERO)
        document.gross_incl = sum((round_money(ln.quantity * ln.unit_price_incl) for ln in lines), ZERO)
        costs = [ln.unit_cost_excl for ln in lines]
        document.cost_excl = (
            None
            if not lines or any(c is None for c in costs)
            else sum((round_money(ln.quantity * (ln.unit_cost_excl or ZERO)) for ln in lines), ZERO)
        )
        type(document)._default_manager.filter(pk=document.pk).update(
            total_incl=document.total_incl,
            total_excl=document.total_excl,
            total_tax=document.total_tax,
            gross_incl=document.gross_incl,
            cost_excl=document.cost_excl,
        )
    return document


def _check_editable(document: Document) -> None:
    saved_state = type(document)._default_manager.values_list("state", flat=True).get(pk=document.pk)
    if saved_state not in type(document).editable_states:
        raise ServiceError(
            _("%(number)s can no longer be changed.") % {"number": document.number}, code="not_editable"
        )


def document_create(*, actor: Any, model: type[D], lines: Sequence[LineData] = (), **fields: Any) -> D:
    """A new document in its initial state, numbered in the same transaction, with its lines and totals."""
    _validate(lines)
    fields.setdefault("owner", actor)
    with transaction.atomic():
        number = number_next(doc_type=model.doc_type, prefix=model.number_prefix, digits=model.number_digits)
        document = model._default_manager.create(number=number, state=model.initial_state, **fields)
        if lines:
            lm = line_model(model)
            lm._default_manager.bulk_create(
                [_line_row(lm, document, i, data) for i, data in enumerate(lines, start=1)]
            )
        document_recompute(document)
    return document


def document_update(*, actor: Any, document: D, lines: Sequence[LineData] | None = None, **fields: Any) -> D:
    """Change header fields and/or replace all lines while the document is editable. A change of a
    material field (customer, terms, lines, prices) voids an earlier approval: see approvals."""
    if lines is not None:
        _validate(lines)
    with transaction.atomic():
        type(document)._default_manager.select_for_update().filter(pk=document.pk).first()
        _check_editable(document)
        for name, value in fields.items():
            setattr(document, name, value)
        if fields:
            document.save(update_fields=[*fields, "updated_at"])
        if lines is not None:
            lm = line_model(type(document))
            lm._default_manager.filter(document=document).delete()
            lm._default_manager.bulk_create(
                [_line_row(lm, document, i, data) for i, data in enumerate(lines, start=1)]
            )
            document_recompute(document)
    return document


def document_lines_data(document: Document) -> list[LineData]:
    return [
        LineData(
            description=ln.description,
            quantity=ln.quantity,
            unit_price_incl=ln.unit_price_incl,
            vat_rate=ln.vat_rate,
            unit=ln.unit,
            discount_percent=ln.discount_percent,
            product_id=ln.product_id,  # type: ignore[attr-defined]
            unit_cost_excl=ln.unit_cost_excl,
        )
        for ln in line_model(type(document))._default_manager.filter(document=document)
    ]


COPY_EXCLUDED = {"id", "number", "state", "owner", "created_at", "updated_at"}


def document_copy(*, actor: Any, document: D) -> D:
    """A new draft with the same header and lines, a new number and the actor as owner. Approvals are
    attached to a document, never to its contents, so a copy starts without any."""
    model = type(document)
    fields: dict[str, Any] = {}
    for f in model._meta.concrete_fields:
        if f.name in COPY_EXCLUDED or not f.editable:
            continue
        fields[f.attname] = getattr(document, f.attname)
    for name in ("total_incl", "total_excl", "total_tax"):
        fields.pop(name, None)
    return document_create(actor=actor, model=model, lines=document_lines_data(document), **fields)


def document_delete(*, actor: Any, document: Document) -> None:
    """Delete a document still in its initial state; later it can only be cancelled."""
    with transaction.atomic():
        saved = type(document)._default_manager.select_for_update().get(pk=document.pk)
        if saved.state != type(document).initial_state:
            raise ServiceError(
                _("%(number)s is no longer a draft: cancel it instead of deleting it.")
                % {"number": saved.number},
                code="not_deletable",
            )
        line_model(type(document))._default_manager.filter(document=saved).delete()
        saved.delete()
