"""The registry of document models: every concrete `crm.kernel.models.Document` subclass of an installed
app, found from the app registry (the kernel imports no module). Approval rules pick their document type
here; the approvals queue finds a document's page by the convention "<app_label>:<model_name>_detail"."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from crm.kernel.models import Document


@dataclass(frozen=True)
class DocType:
    doc_type: str  # e.g. "sales.contract"
    label: str  # the model's verbose name, translated
    model: type[Document]


def document_types() -> list[DocType]:
    """Every concrete document model with a doc_type, ordered by label."""
    found = [
        DocType(doc_type=m.doc_type, label=str(m._meta.verbose_name), model=m)
        for m in apps.get_models()
        if issubclass(m, Document) and not m._meta.abstract and m.doc_type
    ]
    return sorted(found, key=lambda d: (d.label, d.doc_type))


def doc_type_choices() -> list[tuple[str, str]]:
    return [(d.doc_type, d.label) for d in document_types()]


def doc_type_label(doc_type: str) -> str:
    return next((d.label for d in document_types() if d.doc_type == doc_type), doc_type)


def document_url(document: Any) -> str:
    """The document's page, if its module names it "<app_label>:<model_name>_detail" (else "")."""
    meta = type(document)._meta
    try:
        return reverse(f"{meta.app_label}:{meta.model_name}_detail", args=[document.pk])
    except NoReverseMatch:
        return ""


@dataclass(frozen=True)
class QueueRow:
    """What an approver sees of one pending request: the request and the document's key figures."""

    request: Any
    number: str
    customer: str
    amount: Any
    currency: str
    discount_percent: Any
    margin_percent: Any  # None unless the approver may see costs (or no cost is known)
    url: str


def queue_rows(requests: list[Any], user: Any) -> list[QueueRow]:
    """The approver's queue with each document's number, customer, amount, discount and margin: one
    query per document type whatever the number of requests."""
    from crm.platform.permissions import has_perm, permission_map

    by_type: dict[int, list[int]] = {}
    for req in requests:
        by_type.setdefault(req.content_type_id, []).append(req.object_id)
    docs: dict[tuple[int, int], Any] = {}
    doc: Any
    costs_for: dict[int, bool] = {}
    known = permission_map()
    for ct_id, ids in by_type.items():
        from django.contrib.contenttypes.models import ContentType

        model = ContentType.objects.get_for_id(ct_id).model_class()
        if model is None:
            continue
        qs = model._default_manager.filter(pk__in=ids)
        if any(f.name == "customer" for f in model._meta.get_fields()):
            qs = qs.select_related("customer")
        for found in qs:
            docs[(ct_id, found.pk)] = found
        perm = f"{model._meta.app_label}.view_costs"
        costs_for[ct_id] = perm in known and has_perm(user, perm)
    rows = []
    for req in requests:
        doc = docs.get((req.content_type_id, req.object_id))
        customer = getattr(getattr(doc, "customer", None), "name", "") if doc is not None else ""
        rows.append(
            QueueRow(
                request=req,
                number=req.number,
                customer=customer,
                amount=doc.total_incl if doc is not None else req.amount,
                currency=req.currency,
                discount_percent=doc.discount_percent if doc is not None else None,
                margin_percent=doc.margin_percent
                if doc is not None and costs_for.get(req.content_type_id)
                else None,
                url=document_url(doc) if doc is not None else "",
            )
        )
    return rows
