"""Deleting core records (the UI and the API use the same rules).

- A customer: owners and admins (core.delete_customers), only while no other module has rows on it
  (contracts, orders, members...: those are business records; merge the customer instead). Its contacts,
  activities, tasks and files go with it; the files are removed from disk after the commit.
- A contact: whoever may edit its customer.
- An activity: its author, or an owner or admin; its comments go with it, its files stay on the customer.
- A product: holders of core.manage_products, only while no document line uses it (deactivate it then).
Each delete is audited (who, what, the name) and is one transaction.
"""

from __future__ import annotations

from pathlib import Path

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils.translation import gettext as _

import crm.modules.webhooks.public as webhooks
from crm.kernel import hooks
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.permissions import check_perm, has_perm
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from .. import selectors
from ..models import Activity, Contact, Customer, Document, Product


def _linked_elsewhere(customer: Customer) -> list[str]:
    """Labels of other modules' rows that point at the customer (every registered module: a module that is
    off keeps its rows, and they must not be cascaded away)."""
    found = []
    for manifest, link in hooks.customer_links():
        if manifest.slug == "core":
            continue
        model = hooks.link_model(link)
        if model._default_manager.filter(**{link.field: customer.pk}).exists():
            found.append(str(link.label or model._meta.verbose_name_plural))
    return found


def _remove(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


def customer_delete(*, actor: User, customer: Customer) -> None:
    check_perm(actor, "core.delete_customers", _("Only owners and administrators can delete customers."))
    if not selectors.customer_can_edit(actor, customer):
        raise PermissionDenied(_("You cannot edit this customer."))
    with transaction.atomic():
        locked = Customer.objects.select_for_update().get(pk=customer.pk)
        linked = _linked_elsewhere(locked)
        if linked:
            raise ServiceError(
                _("%(name)s still has %(what)s; merge it into another customer instead of deleting it.")
                % {"name": locked.name, "what": "、".join(sorted(set(linked)))}
            )
        files = [d.file.path for d in Document.objects.filter(customer=locked) if d.file]
        audit(actor=actor, action="customer.delete", target=locked, detail={"name": locked.name})
        webhooks.emit("customer.deleted", data={"id": locked.pk, "name": locked.name})
        try:
            locked.delete()
        except (ProtectedError, RestrictedError) as exc:  # a link not declared in any manifest
            raise ServiceError(
                _("%(name)s is still used elsewhere; merge it into another customer instead of deleting it.")
                % {"name": locked.name}
            ) from exc
        transaction.on_commit(lambda: _remove(files))


def contact_delete(*, actor: User, contact: Contact) -> None:
    if not selectors.customer_can_edit(actor, contact.customer):
        raise PermissionDenied(_("You cannot edit this customer."))
    with transaction.atomic():
        audit(
            actor=actor,
            action="contact.delete",
            target=contact.customer,
            detail={"contact": contact.pk, "name": contact.name},
        )
        contact.delete()


def activity_delete(*, actor: User, activity: Activity) -> None:
    if activity.author_id != actor.pk and not has_perm(actor, "core.delete_customers"):
        raise PermissionDenied(_("Only its author or an administrator can delete an activity."))
    with transaction.atomic():
        audit(
            actor=actor,
            action="activity.delete",
            target=activity.customer,
            detail={
                "activity": activity.pk,
                "kind": activity.kind,
                "occurred_at": activity.occurred_at.isoformat(),
            },
        )
        activity.delete()


def product_delete(*, actor: User, product: Product) -> None:
    check_perm(actor, "core.manage_products")
    try:
        with transaction.atomic():
            audit(
                actor=actor,
                action="product.delete",
                target=product,
                detail={"product": product.pk, "name": str(product)},
            )
            product.delete()
    except (ProtectedError, RestrictedError) as exc:
        raise ServiceError(
            _("%(name)s is used on documents; deactivate it instead of deleting it.") % {"name": product}
        ) from exc
