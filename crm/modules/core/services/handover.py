"""Handover (客户资源转移): a departing rep's customers move in one audited step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

import crm.modules.webhooks.public as webhooks
from crm.kernel import hooks
from crm.platform.errors import ServiceError
from crm.platform.permissions import check_perm, has_perm
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from ..models import (
    Contact,
    Customer,
    CustomerShare,
    Document,
    Task,
)

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
