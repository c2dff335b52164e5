"""Purchasing pages (phone first): suppliers, price comparison (RFQs, quotes, the ranking, the award),
purchase orders with receipts, returns and the PDF, payables with bills, payments and aging. Thin views
over selectors and services; the services check the permissions again."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Product
from crm.modules.inventory.public import default_warehouse
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from . import selectors, services
from .forms import (
    BillForm,
    ContactForm,
    LineFormSet,
    OrderForm,
    PaymentForm,
    PriceForm,
    QuoteForm,
    ReasonForm,
    ReceiveForm,
    RfqForm,
    SearchForm,
    SettingsForm,
    SupplierForm,
)
from .models import PurchaseOrder, Receipt, Supplier, SupplierContact

PAGE_SIZE = 25
VIEW, MANAGE, RECEIVE = "purchasing.view", "purchasing.manage", "purchasing.receive"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _render(request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, template, {**ctx, "query": query}, status=status)


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


def _product_choices() -> list[tuple[int, str]]:
    return [
        (pk, f"{code} {name}".strip())
        for pk, code, name in Product.objects.filter(is_active=True)
        .order_by("name", "id")
        .values_list("pk", "code", "name")[:1000]
    ]


def _dec(raw: str) -> Decimal | None:
    try:
        value = Decimal((raw or "").strip().replace(",", ""))
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


# --- suppliers -------------------------------------------------------------------------------------------


@require_perm(VIEW)
def supplier_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = SearchForm(request.GET or None)
    q = form.cleaned_data.get("q", "") if form.is_valid() else ""
    ctx = {
        "form": form,
        "page": _page(request, selectors.supplier_list(actor=user, q=q)),
        "can_manage": has_perm(user, MANAGE),
    }
    return _render(request, "purchasing/supplier_list.html", ctx)


def _supplier_form(request: HttpRequest, supplier: Supplier | None) -> HttpResponse:
    user = _user(request)
    form = SupplierForm(request.POST or None, instance=supplier)
    if request.method == "POST" and form.is_valid():
        data = {k: form.cleaned_data[k] for k in form.fields}
        try:
            if supplier is None:
                saved = services.supplier_create(actor=user, **data)
            else:
                saved = services.supplier_update(actor=user, supplier=supplier, **data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("purchasing:supplier_detail", pk=saved.pk)
    status = 400 if request.method == "POST" else 200
    return _render(request, "purchasing/supplier_form.html", {"form": form, "supplier": supplier}, status)


@require_perm(MANAGE)
def supplier_create(request: HttpRequest) -> HttpResponse:
    return _supplier_form(request, None)


@require_perm(MANAGE)
def supplier_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _supplier_form(request, selectors.supplier_get(actor=_user(request), pk=pk))


@require_perm(VIEW)
def supplier_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    supplier = selectors.supplier_get(actor=user, pk=pk)
    contact_form = ContactForm(request.POST if "contact" in request.POST else None)
    price_form = PriceForm(request.POST if "price" in request.POST else None, products=_product_choices())
    if request.method == "POST":
        try:
            if "delete_contact" in request.POST:
                contact = SupplierContact.objects.filter(
                    pk=int(_dec(str(request.POST.get("delete_contact", ""))) or 0), supplier=supplier
                ).first()
                if contact is not None:
                    services.supplier_contact_delete(actor=user, contact=contact)
                return redirect("purchasing:supplier_detail", pk=pk)
            if "contact" in request.POST and contact_form.is_valid():
                services.supplier_contact_add(actor=user, supplier=supplier, **contact_form.cleaned_data)
                messages.success(request, _("Contact added."))
                return redirect("purchasing:supplier_detail", pk=pk)
            if "price" in request.POST and price_form.is_valid():
                d = price_form.cleaned_data
                services.supplier_price_add(
                    actor=user,
                    supplier=supplier,
                    product=Product.objects.get(pk=d["product"]),
                    unit_price_incl=d["unit_price_incl"],
                    vat_rate=d["vat_rate"] or None,
                    valid_from=d["valid_from"],
                    source=d["source"],
                )
                messages.success(request, _("Price added."))
                return redirect("purchasing:supplier_detail", pk=pk)
        except ServiceError as exc:
            show_on_form(contact_form if "contact" in request.POST else price_form, exc)
    ctx = {
        "supplier": supplier,
        "contacts": list(supplier.contacts.all()),
        "last_prices": selectors.last_prices(actor=user, supplier_id=supplier.pk),
        "prices": _page(request, selectors.price_list(actor=user, supplier_id=supplier.pk)),
        "orders": list(selectors.order_list(actor=user, supplier_id=supplier.pk)[:10]),
        "contact_form": contact_form,
        "price_form": price_form,
        "can_manage": has_perm(user, MANAGE),
    }
    return _render(request, "purchasing/supplier_detail.html", ctx)


# --- RFQs ------------------------------------------------------------------------------------------------


@require_perm(VIEW)
def rfq_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = RfqForm(request.POST or None)
    formset = LineFormSet(request.POST or None, form_kwargs={"products": _product_choices()})
    if request.method == "POST":
        if not has_perm(user, MANAGE):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if form.is_valid() and formset.is_valid():
            lines = [
                services.RfqLineInput(
                    product_id=d["product"], quantity=d["quantity"], unit=d.get("unit") or ""
                )
                for d in (f.cleaned_data for f in formset)
                if d.get("product") and d.get("quantity")
            ]
            try:
                rfq = services.rfq_create(
                    actor=user,
                    lines=lines,
                    suppliers=list(form.cleaned_data["suppliers"]),
                    title=form.cleaned_data["title"],
                    due_date=form.cleaned_data["due_date"],
                )
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("%(number)s created.") % {"number": rfq.number})
                return redirect("purchasing:rfq_detail", pk=rfq.pk)
    ctx = {
        "form": form,
        "formset": formset,
        "page": _page(request, selectors.rfq_list(actor=user)),
        "can_manage": has_perm(user, MANAGE),
    }
    return _render(request, "purchasing/rfq_list.html", ctx, 400 if request.method == "POST" else 200)


@require_perm(VIEW)
def rfq_detail(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    rfq = selectors.rfq_get(actor=user, pk=pk)
    quote_form = QuoteForm(request.POST if "quote" in request.POST else None)
    if request.method == "POST":
        if not has_perm(user, MANAGE):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if "award" in request.POST:
            choices = {}
            for key, value in request.POST.items():
                value = str(value)
                if key.startswith("choice_") and key[7:].isdigit() and value.isdigit():
                    choices[int(key[7:])] = int(value)
            if flash_call(
                request,
                lambda: services.rfq_award(actor=user, rfq=rfq, choices=choices),
                lambda orders: (
                    _("Purchase orders: %(numbers)s") % {"numbers": ", ".join(o.number for o in orders)}
                ),
            ):
                return redirect("purchasing:order_list")
            return redirect("purchasing:rfq_detail", pk=pk)
        if "cancel" in request.POST:
            flash_call(request, lambda: services.rfq_cancel(actor=user, rfq=rfq), _("Cancelled."))
            return redirect("purchasing:rfq_detail", pk=pk)
        if "quote" in request.POST and quote_form.is_valid():
            d = quote_form.cleaned_data
            prices = []
            for line in rfq.lines.all():
                price = _dec(request.POST.get(f"price_{line.pk}", ""))
                rate = request.POST.get(f"rate_{line.pk}", "") or None
                if price is not None:
                    prices.append(services.QuotePrice(line.pk, price, rate))  # type: ignore[arg-type]
            try:
                services.quote_save(
                    actor=user,
                    rfq=rfq,
                    supplier=d["supplier"],
                    prices=prices,
                    freight=d["freight"],
                    payment_days=d["payment_days"],
                    invoice_type=d["invoice_type"] or None,
                    notes=d["notes"],
                )
            except ServiceError as exc:
                show_on_form(quote_form, exc)
            else:
                messages.success(request, _("Quote saved."))
                return redirect("purchasing:rfq_detail", pk=pk)
    conf = services.settings_get()
    ctx = {
        "rfq": rfq,
        "rows": selectors.rfq_comparison(rfq=rfq, actor=user),
        "quotes": list(rfq.quotes.select_related("supplier")),
        "lines": list(rfq.lines.select_related("product")),
        "orders": list(rfq.orders.select_related("supplier")),
        "quote_form": quote_form,
        "settings": conf,
        "can_manage": has_perm(user, MANAGE),
    }
    return _render(request, "purchasing/rfq_detail.html", ctx, 400 if request.method == "POST" else 200)


# --- orders ----------------------------------------------------------------------------------------------


@require_perm(VIEW)
def order_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = SearchForm(request.GET or None)
    q = form.cleaned_data.get("q", "") if form.is_valid() else ""
    state = request.GET.get("state", "")
    state = state if state in PurchaseOrder.State.values else ""
    ctx = {
        "form": form,
        "state": state,
        "states": PurchaseOrder.State.choices,
        "page": _page(request, selectors.order_list(actor=user, q=q, state=state)),
        "can_manage": has_perm(user, MANAGE),
    }
    return _render(request, "purchasing/order_list.html", ctx)


def _order_lines(formset: Any) -> list[services.OrderLineInput]:
    out = []
    for f in formset:
        d = f.cleaned_data if f.is_valid() else {}
        if d.get("product") and d.get("quantity"):
            out.append(
                services.OrderLineInput(
                    product_id=d["product"],
                    quantity=d["quantity"],
                    unit_price_incl=d.get("unit_price_incl") or Decimal("0"),
                    vat_rate=d.get("vat_rate") or None,  # type: ignore[arg-type]
                    unit=d.get("unit") or "",
                )
            )
    return out


def _order_form(request: HttpRequest, order: PurchaseOrder | None) -> HttpResponse:
    user = _user(request)
    initial: dict[str, Any] = {}
    lines_initial: list[dict[str, Any]] = []
    if order is not None:
        initial = {
            "supplier": order.supplier,
            "warehouse": order.warehouse,
            "payment_days": order.payment_days,
            "expected_on": order.expected_on,
            "terms": order.terms,
        }
        lines_initial = [
            {
                "product": ln.product_id,
                "quantity": ln.quantity,
                "unit": ln.unit,
                "unit_price_incl": ln.unit_price_incl,
                "vat_rate": str(ln.vat_rate),
            }
            for ln in order.lines.all()
        ]
    form = OrderForm(request.POST or None, initial=initial)
    formset = LineFormSet(
        request.POST or None, initial=lines_initial or None, form_kwargs={"products": _product_choices()}
    )
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        d = form.cleaned_data
        try:
            if order is None:
                saved = services.order_create(
                    actor=user,
                    supplier=d["supplier"],
                    lines=_order_lines(formset),
                    warehouse=d["warehouse"],
                    payment_days=d["payment_days"],
                    expected_on=d["expected_on"],
                    terms=d["terms"],
                )
            else:
                saved = services.order_update(
                    actor=user,
                    order=order,
                    lines=_order_lines(formset),
                    supplier=d["supplier"],
                    warehouse=d["warehouse"],
                    payment_days=d["payment_days"]
                    if d["payment_days"] is not None
                    else d["supplier"].payment_days,
                    expected_on=d["expected_on"],
                    terms=d["terms"],
                )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("purchasing:purchaseorder_detail", pk=saved.pk)
    ctx = {"form": form, "formset": formset, "order": order}
    return _render(request, "purchasing/order_form.html", ctx, 400 if request.method == "POST" else 200)


@require_perm(MANAGE)
def order_create(request: HttpRequest) -> HttpResponse:
    return _order_form(request, None)


@require_perm(MANAGE)
def order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(actor=_user(request), pk=pk)
    if order.state != PurchaseOrder.State.DRAFT:
        messages.error(request, _("%(number)s can no longer be changed.") % {"number": order.number})
        return redirect("purchasing:purchaseorder_detail", pk=pk)  # type: ignore[return-value]
    return _order_form(request, order)


@require_perm(VIEW)
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = selectors.order_get(actor=user, pk=pk)
    lines = list(order.lines.select_related("product"))
    receipts = list(selectors.receipt_list(actor=user, order_id=order.pk).prefetch_related("lines"))
    received_lines = [
        (r, rl)
        for r in receipts
        if r.kind == Receipt.Kind.RECEIPT
        for rl in r.lines.all()
        if rl.quantity > rl.returned_quantity
    ]
    line_names = {ln.pk: ln.description for ln in lines}
    ctx = {
        "order": order,
        "lines": lines,
        "receipts": receipts,
        "received_lines": received_lines,
        "line_names": line_names,
        # Goods go where the order says, else into the workspace's default warehouse (orders made by an
        # award have none).
        "receive_form": ReceiveForm(
            initial={"warehouse": order.warehouse or default_warehouse(), "key": uuid.uuid4().hex}
        ),
        "return_key": uuid.uuid4().hex,
        "can_manage": has_perm(user, MANAGE),
        "can_receive": has_perm(user, RECEIVE) and order.state == PurchaseOrder.State.CONFIRMED,
        "can_return": has_perm(user, RECEIVE) and bool(received_lines),
        **selectors.order_context(order, user),
    }
    return _render(request, "purchasing/order_detail.html", ctx)


@require_perm(MANAGE)
@require_POST
def order_action(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = selectors.order_get(actor=user, pk=pk)
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    name = request.POST.get("name", "")[:40]
    flash_call(
        request,
        lambda: services.order_transition(actor=user, order=order, name=name, reason=reason),
        lambda saved: (
            _("%(number)s is now %(state)s.") % {"number": saved.number, "state": saved.state_label()}
        ),
    )
    return redirect("purchasing:purchaseorder_detail", pk=pk)


@require_perm(RECEIVE)
@require_POST
def order_receive(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = selectors.order_get(actor=user, pk=pk)
    form = ReceiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a warehouse."))
        return redirect("purchasing:purchaseorder_detail", pk=pk)
    lines = []
    for ln in order.lines.all():
        qty = _dec(request.POST.get(f"qty_{ln.pk}", ""))
        if qty:
            lines.append(services.ReceiveInput(ln.pk, qty))
    d = form.cleaned_data
    flash_call(
        request,
        lambda: services.receipt_create(
            actor=user,
            order=order,
            lines=lines,
            warehouse=d["warehouse"],
            allow_over=d["allow_over"],
            idempotency_key=d["key"] or None,
            note=d["note"],
        ),
        lambda r: _("%(number)s posted.") % {"number": r.number},
    )
    return redirect("purchasing:purchaseorder_detail", pk=pk)


@require_perm(RECEIVE)
@require_POST
def order_return(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = selectors.order_get(actor=user, pk=pk)
    lines = []
    for key, value in request.POST.items():
        if key.startswith("ret_") and key[4:].isdigit():
            qty = _dec(str(value))
            if qty:
                lines.append(services.ReceiveInput(int(key[4:]), qty))
    flash_call(
        request,
        lambda: services.return_create(
            actor=user,
            order=order,
            lines=lines,
            idempotency_key=request.POST.get("key", "")[:100] or None,
            note=request.POST.get("note", "")[:200],
        ),
        lambda r: _("%(number)s posted.") % {"number": r.number},
    )
    return redirect("purchasing:purchaseorder_detail", pk=pk)


@require_perm(VIEW)
def order_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(actor=_user(request), pk=pk)
    response = HttpResponse(selectors.order_pdf(order), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{order.number}.pdf"'
    return response


# --- payables --------------------------------------------------------------------------------------------


@require_perm(VIEW)
def payables(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    bill_form = BillForm(
        request.POST if "bill" in request.POST else None, initial={"bill_date": tenant_today()}
    )
    pay_form = PaymentForm(
        request.POST if "payment" in request.POST else None,
        initial={"paid_on": tenant_today(), "key": uuid.uuid4().hex},
    )
    if request.method == "POST":
        if not has_perm(user, MANAGE):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        try:
            if "bill" in request.POST and bill_form.is_valid():
                d = bill_form.cleaned_data
                order = None
                if d["order"]:
                    order = PurchaseOrder.objects.filter(number=d["order"].strip()).first()
                    if order is None:
                        raise ServiceError(_("No such purchase order."), field="order")
                services.bill_create(
                    actor=user,
                    supplier=d["supplier"],
                    number=d["number"],
                    amount_incl=d["amount_incl"],
                    bill_date=d["bill_date"],
                    order=order,
                    note=d["note"],
                )
                messages.success(request, _("Bill recorded."))
                return redirect("purchasing:payables")
            if "payment" in request.POST and pay_form.is_valid():
                d = pay_form.cleaned_data
                services.payment_create(
                    actor=user,
                    supplier=d["supplier"],
                    amount=d["amount"],
                    paid_on=d["paid_on"],
                    method=d["method"],
                    reference=d["reference"],
                    idempotency_key=d["key"] or None,
                )
                messages.success(request, _("Payment recorded."))
                return redirect("purchasing:payables")
        except ServiceError as exc:
            show_on_form(bill_form if "bill" in request.POST else pay_form, exc)
    aging = _page(request, selectors.aging(actor=user))
    ctx = {
        "aging": aging,
        "labels": selectors.bucket_labels(),
        "bills": list(selectors.bill_list(actor=user, open_only=True)[:50]),
        "payments": list(selectors.payment_list(actor=user)[:20]),
        "total": selectors.payables_total(),
        "today": tenant_today(),
        "bill_form": bill_form,
        "pay_form": pay_form,
        "can_manage": has_perm(user, MANAGE),
    }
    return _render(request, "purchasing/payables.html", ctx, 400 if request.method == "POST" else 200)


@require_perm("workspace.manage_settings")
def settings_page(request: HttpRequest) -> HttpResponse:
    conf = services.settings_get()
    form = SettingsForm(
        request.POST or None,
        initial={
            "input_vat_deductible": conf.input_vat_deductible,
            "capital_rate_percent": conf.capital_rate_percent,
        },
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and flash_call(
            request, lambda: services.settings_update(actor=_user(request), **form.cleaned_data), _("Saved.")
        )
    ):
        return redirect("purchasing:settings")
    return _render(request, "purchasing/settings.html", {"form": form})
