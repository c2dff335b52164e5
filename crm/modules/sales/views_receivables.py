"""Receivables pages: open installments, the plan editor, receipts (record with allocation, detail,
reversal), customer credit, aging, collections forecast and the customer account statement."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Customer, customers_visible
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import has_perm

from . import pdf_receivables
from . import selectors_receivables as sel
from . import services_receivables as svc
from .forms_receivables import (
    AsOfForm,
    InstallmentFilterForm,
    PeriodForm,
    PlanFormSet,
    ReceiptForm,
    ReverseForm,
)
from .models import Contract, Receipt

PAGE_SIZE = 25


def _owners(user: Any) -> list[tuple[int, str]]:
    from crm.tenants.accounts.models import User

    qs = User.objects.filter(is_active=True)
    if not svc.sees_all(user):
        from crm.modules.core.public import team_members_q

        qs = qs.filter(team_members_q(user, "pk"))
    return list(qs.order_by("name").values_list("pk", "name")[:200])


def _customer(user: Any, pk: Any) -> Customer:
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    qs = Customer.objects.all() if svc.sees_all(user) else customers_visible(user)
    customer = qs.filter(pk=pk).first()
    if customer is None:
        raise Http404
    return customer


def _contract(user: Any, pk: int) -> Contract:
    qs = Contract.objects.select_related("customer")
    if not svc.sees_all(user):
        from crm.kernel.scope import visible_to

        qs = visible_to(qs, user)
    contract = qs.filter(pk=pk).first()
    if contract is None:
        raise Http404
    return contract


@require_perm("sales.receipt_record")
def installment_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = InstallmentFilterForm(request.GET or None, owners=_owners(user))
    filters: dict[str, Any] = {}
    if form.is_valid():
        d = form.cleaned_data
        filters = {
            "owner_id": d.get("owner"),
            "customer_id": d.get("customer"),
            "due_month": d.get("due_month"),
            "overdue": d.get("overdue") or False,
        }
    qs = sel.open_installments(actor=user, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    ctx = {"form": form, "page": page, "query": query, "today": tenant_today()}
    return render(request, "sales/receivables/installment_list.html", ctx)


@require_perm("sales.receipt_record")
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    contract = _contract(user, pk)
    plan = sel.contract_plan(contract)
    initial = [{"id": i.pk, "due_date": i.due_date, "amount": i.amount, "note": i.note} for i in plan]
    if not initial:
        initial = [
            {"due_date": p.due_date, "amount": p.amount, "note": p.note} for p in svc.default_parts(contract)
        ]
    formset = PlanFormSet(request.POST or None, initial=initial, prefix="plan")
    if request.method == "POST" and formset.is_valid():
        parts = [
            svc.PlanPart(due_date=f["due_date"], amount=f["amount"], note=f.get("note") or "", id=f.get("id"))
            for f in formset.cleaned_data
            if f and f.get("amount") and f.get("due_date")
        ]
        try:
            svc.plan_set(actor=user, contract=contract, parts=parts)
        except ServiceError as exc:
            formset._non_form_errors = formset.error_class([str(exc.message)])  # type: ignore[attr-defined]
        else:
            messages.success(request, _("Payment plan saved."))
            return redirect("sales:receivables_plan_edit", pk=contract.pk)
    paid = {i.pk: i.paid_amount for i in plan}
    ctx = {"contract": contract, "formset": formset, "plan": plan, "paid": paid}
    return render(
        request, "sales/receivables/plan_edit.html", ctx, status=400 if request.method == "POST" else 200
    )


@require_perm("sales.receipt_record")
def receipt_list(request: HttpRequest) -> HttpResponse:
    qs = (
        sel.receipts_visible(request.user).select_related("customer", "owner").order_by("-received_on", "-id")
    )
    customer = request.GET.get("customer", "")
    if customer.isdigit() and len(customer) < 10:
        qs = qs.filter(customer_id=int(customer))
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "sales/receivables/receipt_list.html", {"page": page, "query": query})


def _allocations(request: HttpRequest, items: list[dict[str, Any]]) -> list[svc.AllocationInput]:
    from crm.kernel.money import parse_amount

    out = []
    for item in items:
        raw = (request.POST.get(f"alloc_{item['key']}") or "").strip()
        if not raw:
            continue
        amount = parse_amount(raw, field=f"alloc_{item['key']}")
        if amount:
            out.append(
                svc.AllocationInput(
                    amount=amount, installment_id=item["installment_id"], contract_id=item["contract_id"]
                )
            )
    return out


@require_perm("sales.receipt_record")
def receipt_create(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    raw = request.POST.get("customer") if request.method == "POST" else request.GET.get("customer")
    if not raw:
        choices = list(
            (customers_visible(user) if not svc.sees_all(user) else Customer.objects.all())
            .order_by("name")
            .values_list("pk", "name")[:300]
        )
        return render(request, "sales/receivables/receipt_pick.html", {"choices": choices})
    customer = _customer(user, raw)
    items = sel.customer_open_items(customer)
    if request.method == "POST":
        form = ReceiptForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            try:
                allocations = _allocations(request, items) if d["by_hand"] else None
                receipt = svc.receipt_record(
                    actor=user,
                    customer=customer,
                    amount=d["amount"],
                    received_on=d["received_on"],
                    method=d["method"],
                    bank_reference=d["bank_reference"],
                    note=d["note"],
                    allocations=allocations,
                    keep_credit=d["keep_credit"],
                    client_token=d.get("token") or None,
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Receipt %(number)s recorded.") % {"number": receipt.number})
                return redirect("sales:receipt_detail", pk=receipt.pk)
        status = 400
    else:
        form = ReceiptForm(
            initial={
                "customer": customer.pk,
                "received_on": tenant_today(),
                "token": secrets.token_urlsafe(24),
            }
        )
        status = 200
    ctx = {
        "form": form,
        "customer": customer,
        "items": items,
        "posted": request.POST,
        "credit": sel.customer_credit(customer.pk),
        "open_total": sum((i["open"] for i in items), start=0),
    }
    return render(request, "sales/receivables/receipt_form.html", ctx, status=status)


@require_perm("sales.receipt_record")
def receipt_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    receipt = svc.receipt_get(actor=user, pk=pk)
    allocations = list(receipt.allocations.select_related("contract", "installment").order_by("id"))
    ctx = {
        "receipt": receipt,
        "allocations": allocations,
        "can_reverse": receipt.state == Receipt.State.POSTED and has_perm(user, "sales.receipt_reverse"),
        "reverse_form": ReverseForm(),
    }
    return render(request, "sales/receivables/receipt_detail.html", ctx)


@require_perm("sales.receipt_reverse")
@require_POST
def receipt_reverse(request: HttpRequest, pk: int) -> HttpResponseBase:
    receipt = svc.receipt_get(actor=request.user, pk=pk)
    form = ReverseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason."))
    else:
        flash_call(
            request,
            lambda: svc.receipt_reverse(
                actor=request.user, receipt=receipt, reason=form.cleaned_data["reason"]
            ),
            _("Receipt reversed: its allocations were taken back."),
        )
    return redirect("sales:receipt_detail", pk=receipt.pk)


@require_perm("sales.receipt_record")
@require_POST
def credit_apply(request: HttpRequest, pk: int) -> HttpResponseBase:
    customer = _customer(request.user, pk)
    flash_call(
        request,
        lambda: svc.credit_apply(actor=request.user, customer=customer),
        lambda applied: (
            _("%(amount)s of credit applied to open installments.") % {"amount": f"{applied:,.2f}"}
        ),
    )
    return redirect("sales:receivables_statement", pk=customer.pk)


def _as_of(request: HttpRequest) -> tuple[AsOfForm, date]:
    form = AsOfForm(request.GET or None)
    as_of = tenant_today()
    if form.is_valid() and form.cleaned_data.get("as_of"):
        as_of = form.cleaned_data["as_of"]
    return form, as_of


@require_perm("sales.receivables_reports")
def aging(request: HttpRequest) -> HttpResponse:
    form, as_of = _as_of(request)
    report = sel.aging(actor=request.user, as_of=as_of)
    return render(request, "sales/receivables/aging.html", {"form": form, "r": report})


@require_perm("sales.receivables_reports")
def forecast(request: HttpRequest) -> HttpResponse:
    report = sel.forecast(actor=request.user)
    return render(request, "sales/receivables/forecast.html", {"r": report})


@require_perm("sales.receipt_record")
def statement(request: HttpRequest, pk: int) -> HttpResponseBase:
    customer = _customer(request.user, pk)
    form = PeriodForm(request.GET or None)
    today = tenant_today()
    start, end, fmt = today.replace(month=1, day=1), today, ""
    if form.is_valid():
        start = form.cleaned_data.get("start") or start
        end = form.cleaned_data.get("end") or end
        fmt = form.cleaned_data.get("format") or ""
    if end < start:
        start, end = end, start
    if end - start > timedelta(days=3660):
        start = end - timedelta(days=3660)
    data = sel.statement(actor=request.user, customer=customer, start=start, end=end)
    if fmt == "pdf":
        tenant = getattr(connection, "tenant", None)
        return pdf_receivables.statement_pdf(data, company=str(getattr(tenant, "name", "")))
    if fmt == "xlsx":
        return pdf_receivables.statement_xlsx(data)
    query = request.GET.copy()
    query.pop("format", None)
    ctx = {"s": data, "form": form, "query": query, "can_apply": data["credit"] > 0}
    return render(request, "sales/receivables/statement.html", ctx)
