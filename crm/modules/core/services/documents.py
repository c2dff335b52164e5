"""Documents attached to customers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from crm.platform.errors import PermissionDenied, ServiceError
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from .. import selectors
from ..models import (
    Activity,
    Customer,
    Document,
)

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
