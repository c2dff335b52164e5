"""Pages for selling from stock and samples (phone first): the "to ship" list, the ship form, deliveries
with a printable delivery note (送货单) and customer returns, samples out with customers. Thin views over
selectors_fulfilment and services_fulfilment (which check the permissions again)."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

import crm.modules.sales.public as sales
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Product, customers_visible
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, show_on_form
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from . import selectors_fulfilment as sel
from . import services_fulfilment as svc
from .forms import ConsumeForm, LineFormSet, ReturnForm, SampleFilterForm, SampleForm, ShipForm
from .models import SampleLine

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _render(request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, template, {**ctx, "query": query}, status=status)


def _posted_quantities(request: HttpRequest, ids: list[int]) -> tuple[list[tuple[int, Decimal]], bool]:
    """qty_<id> fields: the non-empty ones, and whether one was not a number."""
    out, bad = [], False
    for pk in ids:
        raw = (request.POST.get(f"qty_{pk}") or "").strip()
        if not raw:
            continue
        try:
            qty = Decimal(raw)
        except InvalidOperation:
            bad = True
            continue
        if qty != 0:
            out.append((pk, qty))
    return out, bad


# --- to ship and deliveries ------------------------------------------------------------------------------


@require_perm("inventory.ship")
def to_ship(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "")[:100]
    page = _page(request, sel.to_ship(actor=_user(request), q=q))
    return _render(request, "inventory/to_ship.html", {"page": page, "q": q})


@require_perm("inventory.ship")
def ship(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = get_object_or_404(sales.Contract.objects.select_related("customer"), pk=pk)
    lines = sel.open_lines_of(contract)
    form = ShipForm(request.POST or None, initial={"warehouse": svc.default_warehouse()})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            wanted, bad = _posted_quantities(request, [ln.pk for ln in lines])
            try:
                if bad:
                    raise ServiceError(_("Enter a quantity."), field="lines")
                d = form.cleaned_data
                delivery = svc.delivery_create(
                    actor=user,
                    contract=contract,
                    warehouse=d["warehouse"],
                    lines=wanted,
                    waybill=d.get("waybill") or "",
                    carrier=d.get("carrier") or "",
                    note=d.get("note") or "",
                    idempotency_key=d.get("key") or None,
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("%(number)s shipped.") % {"number": delivery.number})
                return redirect("inventory:delivery_detail", pk=delivery.pk)
    if not form.is_bound:
        form.initial["key"] = uuid.uuid4().hex  # a double submit ships once
    posted = {k: v for k, v in request.POST.items() if k.startswith("qty_")}
    rows = [{"line": ln, "value": posted.get(f"qty_{ln.pk}", ln.open_quantity)} for ln in lines]
    ctx = {"contract": contract, "rows": rows, "form": form}
    return _render(request, "inventory/ship.html", ctx, status=status)


@require_perm("inventory.ship")
def delivery_list(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "")[:100]
    page = _page(request, sel.delivery_list(actor=_user(request), q=q))
    return _render(request, "inventory/delivery_list.html", {"page": page, "q": q})


def _delivery_context(request: HttpRequest, pk: int) -> dict[str, Any]:
    user = _user(request)
    delivery = sel.delivery_get(actor=user, pk=pk)
    return {
        "delivery": delivery,
        "lines": sel.delivery_lines(delivery),
        "returns": list(sel.return_list(actor=user, delivery_id=delivery.pk)),
        "can_cost": has_perm(user, "inventory.view"),
    }


@require_perm("inventory.ship")
def delivery_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ctx = _delivery_context(request, pk)
    form = ReturnForm(request.POST or None, initial={"key": uuid.uuid4().hex})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            wanted, bad = _posted_quantities(request, [ln.pk for ln in ctx["lines"]])
            try:
                if bad:
                    raise ServiceError(_("Enter a quantity."), field="lines")
                ret = svc.return_create(
                    actor=_user(request),
                    delivery=ctx["delivery"],
                    lines=wanted,
                    reason=form.cleaned_data.get("reason") or "",
                    idempotency_key=form.cleaned_data.get("key") or None,
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("%(number)s received back.") % {"number": ret.number})
                return redirect("inventory:delivery_detail", pk=pk)
    return _render(request, "inventory/delivery_detail.html", {**ctx, "form": form}, status=status)


@require_perm("inventory.ship")
def delivery_print(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery note (送货单), print-friendly, in Chinese whatever the user's language."""
    from django.utils import translation

    from crm.tenants.models import Tenant

    ctx = _delivery_context(request, pk)
    tenant = request.tenant  # type: ignore[attr-defined]
    ctx["company"] = tenant.name if isinstance(tenant, Tenant) else ""
    with translation.override("zh-hans"):
        return render(request, "inventory/delivery_print.html", ctx)


@require_perm("inventory.ship")
def delivery_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The delivery note (送货单) as a PDF."""
    from crm.tenants.models import Tenant

    from .pdf_fulfilment import delivery_note_pdf

    ctx = _delivery_context(request, pk)
    tenant = request.tenant  # type: ignore[attr-defined]
    company = tenant.name if isinstance(tenant, Tenant) else ""
    data = delivery_note_pdf(ctx["delivery"], ctx["lines"], company=company)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{ctx["delivery"].number}.pdf"'
    return response


# --- samples ---------------------------------------------------------------------------------------------


@require_perm("inventory.sample")
def sample_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = SampleFilterForm(request.GET or None)
    f = form.cleaned_data if form.is_valid() else {}
    qs = sel.sample_list(
        actor=user,
        state=f.get("state") or "",
        owner_id=f.get("owner"),
        customer_id=f.get("customer"),
        overdue=bool(f.get("overdue")),
    )
    return _render(
        request,
        "inventory/sample_list.html",
        {"form": form, "page": _page(request, qs), "today": tenant_today()},
    )


def _customer_choices(user: User) -> list[tuple[int, str]]:
    return list(customers_visible(user).order_by("name", "id").values_list("pk", "name")[:1000])


def _product_choices() -> list[tuple[int, str]]:
    return [
        (pk, f"{code} {name}".strip())
        for pk, code, name in Product.objects.filter(is_active=True)
        .order_by("name", "id")
        .values_list("pk", "code", "name")[:1000]
    ]


@require_perm("inventory.sample")
def sample_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    initial: dict[str, Any] = {"warehouse": svc.default_warehouse()}
    if (request.GET.get("customer") or "").isdigit():
        initial["customer"] = int(request.GET["customer"])
    form = SampleForm(request.POST or None, customers=_customer_choices(user), initial=initial)
    formset = LineFormSet(request.POST or None, form_kwargs={"products": _product_choices()})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid() and formset.is_valid():
            lines = [
                (f.cleaned_data["product"], f.cleaned_data["quantity"])
                for f in formset
                if f.cleaned_data.get("product") and f.cleaned_data.get("quantity")
            ]
            d = form.cleaned_data
            try:
                customer = customers_visible(user).get(pk=d["customer"])
                sample = svc.sample_issue(
                    actor=user,
                    customer=customer,
                    warehouse=d["warehouse"],
                    lines=lines,
                    expected_return=d.get("expected_return"),
                    note=d.get("note") or "",
                    idempotency_key=d.get("key") or None,
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("%(number)s issued.") % {"number": sample.number})
                return redirect("inventory:sample_detail", pk=sample.pk)
    if not form.is_bound:
        form.initial["key"] = uuid.uuid4().hex
    return _render(request, "inventory/sample_new.html", {"form": form, "formset": formset}, status=status)


@require_perm("inventory.sample")
def sample_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    sample = sel.sample_get(actor=user, pk=pk)
    ctx = {
        "sample": sample,
        "lines": sel.sample_lines(sample),
        "consume_form": ConsumeForm(),
        "can_convert": has_perm(user, "sales.contract_edit"),
        "today": tenant_today(),
    }
    return _render(request, "inventory/sample_detail.html", ctx)


@require_perm("inventory.sample")
@require_POST
def sample_action(request: HttpRequest, pk: int) -> HttpResponse:
    """return / consume one line, or convert the open lines into a draft order."""
    user = _user(request)
    sample = sel.sample_get(actor=user, pk=pk)
    action = request.POST.get("action", "")
    try:
        if action == "convert":
            order = svc.sample_convert(actor=user, sample=sample)
            messages.success(request, _("Draft order %(number)s created.") % {"number": order.number})
            return redirect("sales:contract_detail", pk=order.pk)
        line_id = request.POST.get("line", "")
        line = get_object_or_404(SampleLine, pk=int(line_id) if line_id.isdigit() else 0, sample=sample)
        if action == "return":
            svc.sample_line_return(actor=user, line=line)
        elif action == "consume":
            svc.sample_line_consume(actor=user, line=line, reason=request.POST.get("reason", "")[:200])
        else:
            raise ServiceError(_("Unknown action %(name)s.") % {"name": action[:40]})
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Saved."))
    return redirect("inventory:sample_detail", pk=sample.pk)
