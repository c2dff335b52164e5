"""The sales capability's part of the global search (manifest `search`, crm.kernel.hooks.module_search):
opportunities by name, quotes and contracts by number or title, each in the user's data scope. Three
queries whatever is found."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from crm.kernel.scope import visible_to
from crm.platform.permissions import has_perm

from .models import Contract, Opportunity, Quote


def _url(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:  # the documents area adds these pages
        return ""


def search(user: Any, q: str, limit: int = 10) -> list[dict[str, Any]]:
    q = (q or "").strip()
    if not q or (
        not has_perm(user, "sales.opportunity_edit") and not has_perm(user, "sales.receivables_all")
    ):
        return []
    out: list[dict[str, Any]] = []
    opps = (
        visible_to(Opportunity.objects.all(), user)
        .filter(name__icontains=q)
        .select_related("customer")
        .order_by("-updated_at", "-id")[:limit]
    )
    for o in opps:
        out.append(
            {
                "kind": _("Opportunity"),
                "label": o.name,
                "detail": o.customer.name,
                "url": reverse("sales:opportunity_detail", args=[o.pk]),
            }
        )
    match = Q(number__icontains=q) | Q(title__icontains=q)
    documents: tuple[tuple[Any, str, str], ...] = (
        (Quote, _("Quote"), "sales:quote_detail"),
        (Contract, _("Contract"), "sales:contract_detail"),
    )
    for model, kind, url_name in documents:
        rows = visible_to(model.objects.all(), user).filter(match).select_related("customer").order_by("-id")
        for doc in rows[:limit]:
            out.append(
                {
                    "kind": kind,
                    "label": f"{doc.number} {doc.title}".strip(),
                    "detail": doc.customer.name,
                    "url": _url(url_name, doc.pk),
                }
            )
    return out
