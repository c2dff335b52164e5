"""Pages of the documents area: quote and contract lists, the one-page line editor (htmx: add/remove a
line, live totals computed by the server), detail pages with their actions, PDF, email, revisions."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel.documents import LineData, document_lines_data
from crm.kernel.scope import can_edit, visible_to
from crm.modules.core.public import Product, customer_get
from crm.platform.decorators import require_perm
from crm.platform.errors import NotFound, ServiceError, flash_call, show_on_form
from crm.platform.permissions import has_perm

from . import costs, fapiao_panel, receivables_panel, selectors_margin
from . import selectors_documents as sel
from . import services_documents as svc
from .forms_documents import (
    VAT_CHOICES,
    ContractForm,
    EmailForm,
    ListFilter,
    QuoteForm,
    ReasonForm,
    RevisionForm,
    rows_from_post,
)
from .models import Contract, ContractRevision, Opportunity, Quote

PAGE_SIZE = 25


def _user(request: HttpRequest) -> Any:
    return request.user


# --- the line editor -----------------------------------------------------------------------------------


def _products() -> list[Product]:
    return list(Product.objects.filter(is_active=True).order_by("name")[:300])


def _editor(
    user: Any, rows: list[dict[str, Any]], whole_discount: Any = None, error: str = ""
) -> dict[str, Any]:
    """Rows as the editor shows them (catalogue defaults filled in), per-line amounts and the totals."""
    see_costs = costs.can_see_costs(user)
    display: list[dict[str, Any]] = []
    totals = None
    try:
        plain = svc.lines_from_rows(rows)
        for data in plain:
            row = svc.line_to_row(data)
            row["amount_incl"] = svc.totals_of([data]).incl
            display.append(row)
        totals = svc.totals_of(svc.lines_from_rows(rows, whole_discount=whole_discount))
    except ServiceError as exc:
        error = error or str(exc.message)
        display = [dict(r) for r in rows]
    if not see_costs:
        for row in display:
            row.pop("unit_cost_excl", None)
    return {
        "rows": display,
        "totals": totals,
        "line_error": error,
        "vat_choices": VAT_CHOICES,
        "products": _products(),
        "see_costs": see_costs,
        "see_margin_percent": costs.can_see_margin_percent(user),
        "next_index": len(display) + 1,
    }


def _posted_rows(request: HttpRequest, existing: list[LineData] | None = None) -> list[dict[str, Any]]:
    """The posted lines; a user who may not see costs never sets them: catalogue lines take the product's
    cost, other lines keep the cost of the same line before the edit."""
    rows = rows_from_post(request.POST)  # type: ignore[arg-type]
    if costs.can_see_costs(_user(request)):
        return rows
    before = {(ln.product_id, ln.description): ln.unit_cost_excl for ln in existing or []}
    for row in rows:
        row.pop("unit_cost_excl", None)
        product = int(row["product"]) if row.get("product") else None
        kept = before.get((product, row.get("description", "")))
        if kept is not None and product is None:
            row["unit_cost_excl"] = str(kept)
    return rows


@require_perm("sales.quote_edit")
@require_POST
def document_lines(request: HttpRequest) -> HttpResponse:
    """htmx: the editor's lines and totals after a change, an added line (add=1) or a removed one."""
    remove = request.POST.get("remove", "")
    rows = rows_from_post(request.POST, remove=int(remove) if remove.isdigit() else None)  # type: ignore[arg-type]
    if not costs.can_see_costs(_user(request)):
        for row in rows:
            row.pop("unit_cost_excl", None)
    context = _editor(_user(request), rows, request.POST.get("whole_discount") or None)
    if request.POST.get("add"):
        context["rows"].append({"vat_rate": "0.13", "quantity": "1"})
    return render(request, "sales/documents/_lines.html", context)


def _lines_for_save(request: HttpRequest, existing: list[LineData] | None = None) -> list[LineData]:
    rows = _posted_rows(request, existing)
    if not rows:
        raise ServiceError(_("Add at least one line."), field="lines")
    return svc.lines_from_rows(rows, whole_discount=request.POST.get("whole_discount") or None)


def _rows_of(document: Any) -> list[dict[str, Any]]:
    return [svc.line_to_row(ln) for ln in document_lines_data(document)]


# --- quotes --------------------------------------------------------------------------------------------


@require_perm("sales.quote_edit")
def quote_list(request: HttpRequest) -> HttpResponse:
    filters = ListFilter(request.GET)
    values = filters.values()
    qs = sel.quote_list(actor=_user(request), **values)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "sales/documents/quote_list.html",
        {"page": page, "f": values, "query": query, "states": Quote.State.choices},
    )


@require_perm("sales.quote_edit")
def quote_new(request: HttpRequest) -> HttpResponseBase:
    """?opportunity=<id>: straight to a draft with its products; ?customer=<id>: the editor."""
    user = _user(request)
    opp_id = request.GET.get("opportunity", "")
    if opp_id.isdigit():
        opp = (
            visible_to(Opportunity.objects.select_related("customer", "contact"), user)
            .filter(pk=opp_id)
            .first()
        )
        if opp is None:
            raise NotFound(_("No such opportunity."))
        try:
            quote = svc.quote_from_opportunity(actor=user, opportunity=opp)
        except ServiceError as exc:
            messages.error(request, str(exc.message))
            return redirect("sales:quote_list")
        return redirect("sales:quote_edit", pk=quote.pk)
    cust_id = request.GET.get("customer", "")
    if not cust_id.isdigit():
        messages.info(request, _("Choose a customer first: open the customer and start from there."))
        return redirect("core:customer_list")
    customer = customer_get(user, int(cust_id))
    form = QuoteForm(request.POST or None, customer=customer)
    rows: list[dict[str, Any]] = [{"vat_rate": "0.13", "quantity": "1"}]
    if request.method == "POST":
        rows = _posted_rows(request)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data.pop("whole_discount", None)
            try:
                quote = svc.quote_create(
                    actor=user,
                    customer=customer,
                    lines=_lines_for_save(request),
                    terms=data.pop("terms") or None,
                    **data,
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Quote %(number)s saved.") % {"number": quote.number})
                return redirect("sales:quote_detail", pk=quote.pk)
    context = {"form": form, "customer": customer, "document": None, "kind": "quote"}
    context.update(_editor(user, rows, request.POST.get("whole_discount") or None))
    return render(request, "sales/documents/editor.html", context, status=400 if form.errors else 200)


@require_perm("sales.quote_edit")
def quote_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = sel.quote_get(actor=user, pk=pk)
    initial = {
        "title": quote.title,
        "contact": quote.contact_id,
        "valid_until": quote.valid_until,
        "terms": quote.terms,
    }
    form = QuoteForm(request.POST or None, initial=initial, customer=quote.customer)
    rows = _rows_of(quote)
    if request.method == "POST":
        existing = document_lines_data(quote)
        rows = _posted_rows(request, existing)
        if form.is_valid():
            data = dict(form.cleaned_data)
            data.pop("whole_discount", None)
            try:
                svc.quote_update(actor=user, quote=quote, lines=_lines_for_save(request, existing), **data)
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Quote %(number)s saved.") % {"number": quote.number})
                return redirect("sales:quote_detail", pk=quote.pk)
    context = {"form": form, "customer": quote.customer, "document": quote, "kind": "quote"}
    context.update(_editor(user, rows, request.POST.get("whole_discount") or None))
    return render(request, "sales/documents/editor.html", context, status=400 if form.errors else 200)


@require_perm("sales.quote_edit")
def quote_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = sel.quote_get(actor=user, pk=pk)
    context = {
        "quote": quote,
        "lines": list(quote.lines.all()),
        "versions": sel.quote_versions(quote),
        "contracts": list(quote.contracts.all()),
        "can_convert": quote.state == Quote.State.ACCEPTED and has_perm(user, "sales.contract_edit"),
        "can_revise": quote.state in ("draft", "sent", "rejected", "expired"),
        **sel.document_context(quote, user),
    }
    return render(request, "sales/documents/quote_detail.html", context)


@require_perm("sales.quote_edit")
@require_POST
def quote_action(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    quote = sel.quote_get(actor=user, pk=pk)
    name = request.POST.get("name", "")[:40]
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    if name == "send":
        try:
            sent = svc.quote_send(actor=user, quote=quote)
        except ServiceError as exc:
            messages.error(request, str(exc.message))
        else:
            if sent:
                messages.success(request, _("%(number)s is marked as sent.") % {"number": quote.number})
            else:
                messages.info(
                    request,
                    _("%(number)s needs approval first: it was submitted to the approvers.")
                    % {"number": quote.number},
                )
        return redirect("sales:quote_detail", pk=quote.pk)
    flash_call(
        request,
        lambda: svc.quote_transition(actor=user, quote=quote, name=name, reason=reason),
        _("%(number)s updated.") % {"number": quote.number},
    )
    return redirect("sales:quote_detail", pk=quote.pk)


@require_perm("sales.quote_edit")
@require_POST
def quote_revise(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    quote = sel.quote_get(actor=user, pk=pk)
    try:
        new = svc.quote_revise(actor=user, quote=quote)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("sales:quote_detail", pk=quote.pk)
    messages.success(request, _("Version %(v)s created.") % {"v": new.version})
    return redirect("sales:quote_edit", pk=new.pk)


@require_perm("sales.contract_edit")
@require_POST
def quote_convert(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    quote = sel.quote_get(actor=user, pk=pk)
    kind = (
        request.POST.get("kind")
        if request.POST.get("kind") in Contract.Kind.values
        else Contract.Kind.CONTRACT
    )
    try:
        contract = svc.contract_from_quote(actor=user, quote=quote, kind=str(kind))
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("sales:quote_detail", pk=quote.pk)
    messages.success(request, _("%(number)s created.") % {"number": contract.number})
    return redirect("sales:contract_detail", pk=contract.pk)


def _pdf_response(data: bytes, number: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{number}.pdf"'
    return response


@require_perm("sales.quote_edit")
def quote_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    quote = sel.quote_get(actor=_user(request), pk=pk)
    return _pdf_response(sel.quote_pdf(quote), quote.number)


@require_perm("sales.quote_edit")
def quote_email(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    quote = sel.quote_get(actor=user, pk=pk)
    initial = {
        "to": quote.contact.email if quote.contact else "",
        "subject": _("Quotation %(number)s") % {"number": quote.number},
        "message": _("Please find our quotation %(number)s attached.") % {"number": quote.number},
    }
    form = EmailForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            svc.quote_email(actor=user, quote=quote, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(
                request, _("The quote is on its way to %(to)s.") % {"to": form.cleaned_data["to"]}
            )
            return redirect("sales:quote_detail", pk=quote.pk)
    return render(request, "sales/documents/quote_email.html", {"quote": quote, "form": form})


# --- contracts -----------------------------------------------------------------------------------------


@require_perm("sales.contract_edit")
def contract_list(request: HttpRequest) -> HttpResponse:
    filters = ListFilter(request.GET)
    values = filters.values()
    kind = request.GET.get("kind", "") if request.GET.get("kind") in Contract.Kind.values else ""
    qs = sel.contract_list(actor=_user(request), kind=kind, **values)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "sales/documents/contract_list.html",
        {
            "page": page,
            "f": values,
            "kind": kind,
            "query": query,
            "states": Contract.State.choices,
            "kinds": Contract.Kind.choices,
        },
    )


@require_perm("sales.contract_edit")
def contract_export(request: HttpRequest) -> HttpResponseBase:
    from .api_documents import export_contracts

    values = ListFilter(request.GET).values()
    fmt = request.GET.get("type", "csv")
    try:
        return export_contracts(sel.contract_list(actor=_user(request), **values), fmt=fmt)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("sales:contract_list")


def _contract_data(form: ContractForm) -> dict[str, Any]:
    data = dict(form.cleaned_data)
    data.pop("whole_discount", None)
    for name in ("payment_days", "prepayment_percent"):
        if data.get(name) is None:
            data.pop(name, None)
    return data


@require_perm("sales.contract_edit")
def contract_new(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    cust_id = request.GET.get("customer", "")
    if not cust_id.isdigit():
        messages.info(request, _("Choose a customer first: open the customer and start from there."))
        return redirect("core:customer_list")
    customer = customer_get(user, int(cust_id))
    kind = (
        request.GET.get("kind") if request.GET.get("kind") in Contract.Kind.values else Contract.Kind.CONTRACT
    )
    conf = svc.settings_get()
    form = ContractForm(
        request.POST or None,
        customer=customer,
        initial={"kind": kind, "payment_days": conf.default_payment_days, "terms": conf.contract_terms},
    )
    rows: list[dict[str, Any]] = [{"vat_rate": "0.13", "quantity": "1"}]
    if request.method == "POST":
        rows = _posted_rows(request)
        if form.is_valid():
            try:
                contract = svc.contract_create(
                    actor=user, customer=customer, lines=_lines_for_save(request), **_contract_data(form)
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("%(number)s saved.") % {"number": contract.number})
                return redirect("sales:contract_detail", pk=contract.pk)
    context = {"form": form, "customer": customer, "document": None, "kind": "contract"}
    context.update(_editor(user, rows, request.POST.get("whole_discount") or None))
    return render(request, "sales/documents/editor.html", context, status=400 if form.errors else 200)


@require_perm("sales.contract_edit")
def contract_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = sel.contract_get(actor=user, pk=pk)
    if contract.state not in Contract.editable_states:
        messages.error(
            request,
            _("%(number)s is confirmed: change it with a revision, approved like the contract.")
            % {"number": contract.number},
        )
        return redirect("sales:contract_detail", pk=contract.pk)  # type: ignore[return-value]
    fields = (
        "title",
        "kind",
        "payment_days",
        "prepayment_percent",
        "delivery_terms",
        "start_date",
        "end_date",
        "signed_on",
        "terms",
    )
    initial = {f: getattr(contract, f) for f in fields}
    initial["contact"] = contract.contact_id
    form = ContractForm(request.POST or None, initial=initial, customer=contract.customer)
    rows = _rows_of(contract)
    if request.method == "POST":
        existing = document_lines_data(contract)
        rows = _posted_rows(request, existing)
        if form.is_valid():
            try:
                svc.contract_update(
                    actor=user,
                    contract=contract,
                    lines=_lines_for_save(request, existing),
                    **_contract_data(form),
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("%(number)s saved.") % {"number": contract.number})
                return redirect("sales:contract_detail", pk=contract.pk)
    context = {"form": form, "customer": contract.customer, "document": contract, "kind": "contract"}
    context.update(_editor(user, rows, request.POST.get("whole_discount") or None))
    return render(request, "sales/documents/editor.html", context, status=400 if form.errors else 200)


@require_perm("sales.contract_edit")
def contract_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = sel.contract_get(actor=user, pk=pk)
    # The receivables and fapiao areas' parts of the page get their context merged in (their templates
    # are included with the page's context).
    context = {
        **receivables_panel.contract_panel_context(contract=contract, user=user),
        **fapiao_panel.contract_panel_context(contract=contract, user=user),
        "contract": contract,
        "lines": list(contract.lines.all()),
        "revisions": sel.revisions_of(contract),
        "can_revise": contract.state == Contract.State.CONFIRMED,
        **sel.document_context(contract, user),
    }
    if context.get("see_margin_percent"):
        # Estimated (the line costs) against actual (what was delivered, at its outbound cost).
        context["line_margin"] = selectors_margin.contract_margin(contract)
    return render(request, "sales/documents/contract_detail.html", context)


@require_perm("sales.contract_edit")
@require_POST
def contract_action(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    contract = sel.contract_get(actor=user, pk=pk)
    name = request.POST.get("name", "")[:40]
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    flash_call(
        request,
        lambda: svc.contract_transition(actor=user, contract=contract, name=name, reason=reason),
        _("%(number)s updated.") % {"number": contract.number},
    )
    return redirect("sales:contract_detail", pk=contract.pk)


@require_perm("sales.contract_edit")
def contract_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    contract = sel.contract_get(actor=_user(request), pk=pk)
    return _pdf_response(sel.contract_pdf(contract), contract.number)


# --- revisions -----------------------------------------------------------------------------------------


@require_perm("sales.contract_edit")
def revision_new(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = sel.contract_get(actor=user, pk=pk)
    initial = {
        f: getattr(contract, f) for f in ("payment_days", "prepayment_percent", "start_date", "end_date")
    }
    form = RevisionForm(request.POST or None, initial=initial)
    rows = _rows_of(contract)
    if request.method == "POST":
        existing = document_lines_data(contract)
        rows = _posted_rows(request, existing)
        if form.is_valid():
            data = dict(form.cleaned_data)
            reason = data.pop("reason")
            try:
                revision = svc.revision_create(
                    actor=user,
                    contract=contract,
                    reason=reason,
                    lines=_lines_for_save(request, existing),
                    terms={k: v for k, v in data.items() if v is not None},
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                return redirect("sales:contract_revision_detail", pk=revision.pk)
    context = {"form": form, "customer": contract.customer, "document": contract, "kind": "revision"}
    context.update(_editor(user, rows))
    return render(request, "sales/documents/editor.html", context, status=400 if form.errors else 200)


@require_perm("sales.contract_edit")
def revision_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    revision = sel.revision_get(actor=user, pk=pk)
    approvers = svc.revision_approvers(revision) if revision.state == ContractRevision.State.SUBMITTED else []
    context = {
        "revision": revision,
        "contract": revision.contract,
        "diff": svc.revision_diff(revision),
        "rules": svc.revision_matching_rules(revision),
        "can_decide": user.pk in {u.pk for u in approvers},
        "approvers": approvers,
        "can_edit": can_edit(user, revision.contract),
    }
    return render(request, "sales/documents/revision_detail.html", context)


@require_perm("sales.contract_edit")
@require_POST
def revision_action(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    revision = sel.revision_get(actor=user, pk=pk)
    action = request.POST.get("action", "")
    comment = request.POST.get("comment", "")[:2000]
    calls = {
        "submit": lambda: svc.revision_submit(actor=user, revision=revision),
        "withdraw": lambda: svc.revision_withdraw(actor=user, revision=revision),
        "approve": lambda: svc.revision_decide(actor=user, revision=revision, approve=True, comment=comment),
        "reject": lambda: svc.revision_decide(actor=user, revision=revision, approve=False, comment=comment),
    }
    call = calls.get(action)
    if call is None:
        messages.error(request, _("Unknown action %(name)s.") % {"name": action[:40]})
    else:
        flash_call(request, call, _("Revision %(n)s updated.") % {"n": revision.number})
    return redirect("sales:contract_revision_detail", pk=revision.pk)


@require_perm("sales.contract_edit")
def revision_queue(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "sales/documents/revision_queue.html",
        {"revisions": sel.revisions_waiting_for(_user(request))},
    )
