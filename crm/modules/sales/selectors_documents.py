"""Reads of the documents area: quote and contract lists (data scope, filters, the overdue flag as a
subquery so a list stays constant-query), one document for its page, versions, PDFs, the customer panel."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from crm.kernel import approvals
from crm.kernel.pdf import document_pdf
from crm.kernel.scope import can_edit, visible_to
from crm.kernel.tenant_time import tenant_today
from crm.platform.errors import NotFound
from crm.platform.permissions import has_perm

from . import costs
from .models import Contract, ContractRevision, Installment, Quote


def _month(value: str) -> date | None:
    try:
        year, month = value.split("-")
        return date(int(year), int(month), 1)
    except (ValueError, AttributeError):
        return None


def _filter(
    qs: QuerySet[Any],
    *,
    state: str,
    customer: int | None,
    owner: int | None,
    month: str,
    q: str,
    date_field: str,
) -> QuerySet[Any]:
    if state:
        qs = qs.filter(state=state)
    if customer:
        qs = qs.filter(customer_id=customer)
    if owner:
        qs = qs.filter(owner_id=owner)
    start = _month(month) if month else None
    if start is not None:
        end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
        qs = qs.filter(**{f"{date_field}__gte": start, f"{date_field}__lt": end})
    q = q.strip()
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(title__icontains=q) | Q(customer__name__icontains=q))
    return qs


def quotes_visible(user: Any) -> QuerySet[Quote]:
    return visible_to(Quote.objects.all(), user)


def contracts_visible(user: Any) -> QuerySet[Contract]:
    return visible_to(Contract.objects.all(), user)


def quote_list(
    *,
    actor: Any,
    state: str = "",
    customer: int | None = None,
    owner: int | None = None,
    month: str = "",
    q: str = "",
) -> QuerySet[Quote]:
    qs = quotes_visible(actor).select_related("customer", "owner").order_by("-id")
    return _filter(
        qs, state=state, customer=customer, owner=owner, month=month, q=q, date_field="created_at__date"
    )


def overdue_q(today: date | None = None) -> Exists:
    """Has an installment past due with an open amount (one subquery, no extra query per row)."""
    today = today or tenant_today()
    return Exists(
        Installment.objects.filter(
            contract_id=OuterRef("pk"), due_date__lt=today, paid_amount__lt=F("amount")
        )
    )


def contract_list(
    *,
    actor: Any,
    state: str = "",
    customer: int | None = None,
    owner: int | None = None,
    month: str = "",
    q: str = "",
    kind: str = "",
) -> QuerySet[Contract]:
    qs = (
        contracts_visible(actor)
        .select_related("customer", "owner")
        .annotate(is_overdue=overdue_q())
        .order_by("-id")
    )
    if kind:
        qs = qs.filter(kind=kind)
    return _filter(qs, state=state, customer=customer, owner=owner, month=month, q=q, date_field="signed_on")


def quote_get(*, actor: Any, pk: int) -> Quote:
    found = (
        quotes_visible(actor)
        .select_related("customer", "contact", "owner", "opportunity")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(_("No such quote."))
    return found


def contract_get(*, actor: Any, pk: int) -> Contract:
    found = (
        contracts_visible(actor)
        .select_related("customer", "contact", "owner", "quote", "opportunity")
        .annotate(is_overdue=overdue_q())
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(_("No such contract."))
    return found


def quote_versions(quote: Quote) -> list[Quote]:
    root_id = quote.root_id or quote.pk
    return list(Quote.objects.filter(Q(pk=root_id) | Q(root_id=root_id)).order_by("version", "id"))


def revisions_of(contract: Contract) -> list[ContractRevision]:
    return list(
        ContractRevision.objects.filter(contract=contract).select_related("requested_by").order_by("-number")
    )


def revision_get(*, actor: Any, pk: int) -> ContractRevision:
    found = (
        ContractRevision.objects.select_related("contract__customer", "contract__owner", "requested_by")
        .filter(pk=pk, contract__in=contracts_visible(actor))
        .first()
    )
    if found is None:
        raise NotFound(_("No such revision."))
    return found


def revisions_waiting_for(user: Any) -> list[ContractRevision]:
    """Submitted revisions this user may decide (for the approver's page)."""
    from .services_documents import revision_approvers

    waiting = ContractRevision.objects.filter(state=ContractRevision.State.SUBMITTED).select_related(
        "contract__customer", "contract__owner", "requested_by"
    )
    return [r for r in waiting if user.pk in {u.pk for u in revision_approvers(r)}]


def margin_view(document: Any, user: Any) -> dict[str, Any]:
    """What the user may see of a document's cost and margin (costs.py decides)."""
    see_costs = costs.can_see_costs(user)
    see_pct = costs.can_see_margin_percent(user)
    margin = None
    if see_costs and document.cost_excl is not None:
        margin = document.total_excl - document.cost_excl
    return {
        "see_costs": see_costs,
        "see_margin_percent": see_pct,
        "cost_excl": document.cost_excl if see_costs else None,
        "margin_excl": margin,
        "margin_percent": document.margin_percent if see_pct else None,
    }


def document_context(document: Any, user: Any) -> dict[str, Any]:
    from crm.kernel.states import available_transitions, document_history

    return {
        "can_edit": can_edit(user, document),
        "transitions": available_transitions(actor=user, document=document),
        "history": document_history(document),
        "approval": approvals.approval_status(document),
        "matching_rules": approvals.matching_rules(document),
        **margin_view(document, user),
    }


def company_name() -> str:
    from crm.tenants.models import Tenant

    name = Tenant.objects.filter(schema_name=connection.schema_name).values_list("name", flat=True).first()  # type: ignore[attr-defined]
    return name or ""


def quote_pdf(quote: Quote) -> bytes:
    facts: list[tuple[Any, Any]] = [(_("Version"), quote.version)]
    if quote.valid_until:
        facts.append((_("Valid until"), quote.valid_until.isoformat()))
    if quote.contact_id:
        facts.append((_("Contact"), quote.contact.name))  # type: ignore[union-attr]
    return document_pdf(
        quote,
        title=_("Quotation"),
        company=company_name(),
        customer=quote.customer.name,
        extra_facts=facts,
        language="zh-hans",
    )


def contract_pdf(contract: Contract) -> bytes:
    facts: list[tuple[Any, Any]] = [(_("Account period (days)"), contract.payment_days)]
    if contract.signed_on:
        facts.append((_("Signed on"), contract.signed_on.isoformat()))
    title = _("Sales order") if contract.kind == Contract.Kind.ORDER else _("Sales contract")
    return document_pdf(
        contract,
        title=title,
        company=company_name(),
        customer=contract.customer.name,
        extra_facts=facts,
        language="zh-hans",
    )


def customer_panel(customer: Any, user: Any) -> dict[str, Any]:
    """The customer page's "quotes and contracts" card: the latest few of each the user may see."""
    return {
        "customer": customer,
        "quotes": list(
            quotes_visible(user).filter(customer=customer).select_related("owner").order_by("-id")[:5]
        ),
        "contracts": list(
            contracts_visible(user).filter(customer=customer).select_related("owner").order_by("-id")[:5]
        ),
        "can_create": has_perm(user, "sales.contract_edit"),
    }
