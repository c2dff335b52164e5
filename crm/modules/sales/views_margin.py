"""Gross margin page (/sales/margin/): group-by tabs, the margin by month chart, the grouped table with its
totals, CSV / Excel export. Who may open it and what they see: crm/modules/sales/costs.py."""

from __future__ import annotations

from collections.abc import Iterator
from functools import wraps
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.kernel.exports import export_response
from crm.modules.core.public import Customer, customers_visible
from crm.platform.errors import ServiceError

from . import costs
from . import selectors_margin as sel
from .forms_receivables import DateInput

ID_MAX = 2**31 - 1


def require_margin_view(view: Any) -> Any:
    """Signed in and allowed to see margins (cost holders; sellers when the workspace lets reps see the
    margin percent), else 403. The route declares sales.view_costs: with the default settings exactly its
    holders pass (the generic module suite checks that); the setting opens it to sellers as well."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not sel.can_view(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.required_permission = "sales.view_costs"  # type: ignore[attr-defined]
    return wrapped


class MarginFilterForm(forms.Form):
    group = forms.ChoiceField(required=False, choices=[(g, g) for g in sel.GROUPS], widget=forms.HiddenInput)
    start = forms.DateField(label=gettext_lazy("From"), required=False, widget=DateInput)
    end = forms.DateField(label=gettext_lazy("To"), required=False, widget=DateInput)
    owner = forms.TypedChoiceField(label=gettext_lazy("Rep"), required=False, coerce=int, empty_value=None)
    customer = forms.IntegerField(required=False, min_value=1, max_value=ID_MAX, widget=forms.HiddenInput)
    format = forms.ChoiceField(
        required=False, choices=[("", "html"), ("csv", "CSV"), ("xlsx", "Excel")], widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, owners: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        owner = self.fields["owner"]
        assert isinstance(owner, forms.TypedChoiceField)
        owner.choices = [("", _("Everyone"))] + [(str(pk), name) for pk, name in owners]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            raise forms.ValidationError(_("The end date is before the start date."))
        return data


def _owners(user: Any) -> list[tuple[int, str]]:
    from crm.kernel.scope import team_members_q
    from crm.platform.permissions import has_perm
    from crm.tenants.accounts.models import User

    qs = User.objects.filter(is_active=True)
    if not has_perm(user, "sales.view_costs"):
        qs = qs.filter(team_members_q(user, "pk"))
    return list(qs.order_by("name").values_list("pk", "name")[:200])


def _columns(see_costs: bool) -> list[tuple[str, str]]:
    """(measure, header) of the table and the export, by what the user may see."""
    if not see_costs:
        return [
            ("lines", _("Lines")),
            ("unknown_lines", _("Lines without cost")),
            ("est_percent", _("Estimated margin %")),
            ("act_percent", _("Actual margin %")),
        ]
    return [
        ("sales", _("Sales (tax excl.)")),
        ("unknown_sales", _("Sales without cost")),
        ("est_revenue", _("Estimated revenue")),
        ("est_cost", _("Estimated cost")),
        ("est_margin", _("Estimated margin")),
        ("est_percent", _("Estimated margin %")),
        ("act_revenue", _("Delivered revenue")),
        ("act_cost", _("Actual cost")),
        ("act_margin", _("Actual margin")),
        ("act_percent", _("Actual margin %")),
    ]


def _label(group: str, row: dict[str, Any]) -> str:
    if group == "product":
        return str(sel.unknown_label(row.get("label")))
    return str(row.get("label") or "-")


@require_margin_view
def margin(request: HttpRequest) -> HttpResponseBase:
    user: Any = request.user
    form = MarginFilterForm(request.GET or None, owners=_owners(user))
    group, filters, fmt = "order", sel.MarginFilters(), ""
    if form.is_valid():
        d = form.cleaned_data
        group = d.get("group") or "order"
        fmt = d.get("format") or ""
        filters = sel.MarginFilters(
            start=d.get("start"), end=d.get("end"), owner_id=d.get("owner"), customer_id=d.get("customer")
        )
    see_costs = costs.can_see_costs(user)
    limit = sel.MAX_LIMIT if fmt else sel.DEFAULT_LIMIT
    report = sel.margin_report(actor=user, group=group, filters=filters, limit=limit)
    if fmt:
        return _download(report, see_costs, fmt)
    months = sel.margin_report(actor=user, group="month", filters=filters, limit=sel.MAX_LIMIT)
    customer = None
    if filters.customer_id:
        qs = Customer.objects.all() if see_costs else customers_visible(user)
        customer = qs.filter(pk=filters.customer_id).first() or Customer(
            pk=filters.customer_id, name=f"#{filters.customer_id}"
        )
    query = request.GET.copy()
    for key in ("group", "format"):
        query.pop(key, None)
    columns = _columns(see_costs)
    rows = [
        {
            "row": r,
            "label": _label(group, r),
            "cells": [(k, r.get(k)) for k, _h in columns],
        }
        for r in report.rows
    ]
    ctx = {
        "form": form,
        "group": group,
        "groups": list(sel.group_labels().items()),
        "report": report,
        "rows": rows,
        "columns": columns,
        "total_cells": [(k, report.totals.get(k)) for k, _h in columns],
        "see_costs": see_costs,
        "chart": months.chart,
        "customer": customer,
        "query": query.urlencode(),
    }
    return render(request, "sales/margin/report.html", ctx)


def _download(report: sel.MarginReport, see_costs: bool, fmt: str) -> HttpResponseBase:
    columns = _columns(see_costs)
    head = [str(sel.group_labels()[report.group])]
    if report.group == "order":
        head += [_("Customer"), _("Rep")]

    def rows() -> Iterator[list[Any]]:
        for row in report.rows:
            out: list[Any] = [_label(report.group, row)]
            if report.group == "order":
                out += [row.get("customer_name", ""), row.get("owner_name", "")]
            yield [*out, *(row.get(k) for k, _h in columns)]
        blanks = ["", ""] if report.group == "order" else []
        yield [_("Total"), *blanks, *(report.totals.get(k) for k, _h in columns)]

    try:
        return export_response(
            rows=rows(),
            columns=[*head, *(h for _k, h in columns)],
            filename=f"margin-{report.group}",
            fmt=fmt,
        )
    except ServiceError as exc:  # pragma: no cover - the form allows csv and xlsx only
        return HttpResponse(str(exc.message), status=400)
