"""Inventory pages (phone first): stock overview, stock as of a date, a product's movements and units,
warehouses, transfers, stock counts, opening stock, reorder suggestions. Thin views over selectors and
services; every write needs `inventory.manage` (checked again by the services)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Product
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, show_on_form
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from . import selectors, services
from .forms import (
    AsOfForm,
    ConversionForm,
    CountForm,
    FilterForm,
    LineFormSet,
    OpeningForm,
    SettingsForm,
    StockProductForm,
    TransferForm,
    WarehouseForm,
)
from .models import StockDocument, StockProduct, UnitConversion, Warehouse
from .services_fulfilment import default_warehouse_set

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _render(request: HttpRequest, template: str, ctx: dict[str, Any], status: int = 200) -> HttpResponse:
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, template, {**ctx, "query": query}, status=status)


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))


@require_perm("inventory.view")
def stock(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = FilterForm(request.GET or None)
    f = form.cleaned_data if form.is_valid() else {}
    wh = f.get("warehouse")
    qs = selectors.balance_list(
        actor=user, warehouse_id=wh.pk if wh else None, low=bool(f.get("low")), q=f.get("q") or ""
    )
    ctx = {
        "form": form,
        "page": _page(request, qs),
        "total": selectors.stock_value_total(actor=user, warehouse_id=wh.pk if wh else None),
        "can_manage": has_perm(user, "inventory.manage"),
    }
    return _render(request, "inventory/stock.html", ctx)


@require_perm("inventory.view")
def as_of(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = AsOfForm(request.GET or None, initial={"day": tenant_today()})
    day, wh = tenant_today(), None
    if form.is_valid():
        day, wh = form.cleaned_data["day"], form.cleaned_data.get("warehouse")
    rows = selectors.stock_as_of(actor=user, day=day, warehouse_id=wh.pk if wh else None)
    page = _page(request, rows)
    names = dict(Product.objects.filter(pk__in=[r["product_id"] for r in page]).values_list("pk", "name"))
    codes = dict(Warehouse.objects.values_list("pk", "code"))
    lines = [
        {**r, "product": names.get(r["product_id"], ""), "warehouse": codes.get(r["warehouse_id"], "")}
        for r in page
    ]
    total = selectors.stock_value_as_of(actor=user, day=day, warehouse_id=wh.pk if wh else None)
    return _render(
        request,
        "inventory/as_of.html",
        {"form": form, "page": page, "lines": lines, "day": day, "total": total},
    )


@require_perm("inventory.view")
def product(request: HttpRequest, pk: int) -> HttpResponse:
    """A product's movements (with the document behind each line), balances, units and stock settings."""
    user = _user(request)
    item = get_object_or_404(Product, pk=pk)
    settings_row = StockProduct.objects.filter(product=item).first()
    sp_form = StockProductForm(
        request.POST if "settings" in request.POST else None,
        initial={
            "tracked": settings_row.tracked if settings_row else True,
            "base_unit": settings_row.base_unit if settings_row else item.unit,
            "min_stock": settings_row.min_stock if settings_row else 0,
            "reorder_qty": settings_row.reorder_qty if settings_row else 0,
        },
    )
    conv_form = ConversionForm(request.POST if "conversion" in request.POST else None)
    if request.method == "POST":
        form: Any = sp_form if "settings" in request.POST else conv_form
        if form.is_valid():
            try:
                if form is sp_form:
                    services.stock_product_set(actor=user, product=item, **form.cleaned_data)
                else:
                    services.unit_conversion_set(actor=user, product=item, **form.cleaned_data)
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("inventory:product", pk=item.pk)
    ctx = {
        "product": item,
        "balances": selectors.balance_list(actor=user, product_id=item.pk),
        "page": _page(request, selectors.move_list(actor=user, product_id=item.pk)),
        "conversions": selectors.conversions_of(actor=user, product_id=item.pk),
        "sp_form": sp_form,
        "conv_form": conv_form,
        "can_manage": has_perm(user, "inventory.manage"),
    }
    return _render(request, "inventory/product.html", ctx)


@require_perm("inventory.manage")
@require_POST
def conversion_delete(request: HttpRequest, pk: int) -> HttpResponse:
    conv = get_object_or_404(UnitConversion, pk=pk)
    services.unit_conversion_delete(actor=_user(request), conversion=conv)
    messages.success(request, _("Unit removed."))
    return redirect("inventory:product", pk=conv.product_id)


@require_perm("inventory.view")
def warehouse_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = WarehouseForm(request.POST if "warehouse" in request.POST else None)
    settings_form = SettingsForm(
        request.POST if "settings" in request.POST else None,
        initial={
            "allow_negative": services.settings_get().allow_negative,
            "default_warehouse": services.settings_get().default_warehouse_id,
        },
    )
    if request.method == "POST":
        try:
            if "settings" in request.POST and settings_form.is_valid():
                services.settings_update(
                    actor=user, allow_negative=settings_form.cleaned_data["allow_negative"]
                )
                if has_perm(user, "inventory.manage"):
                    default_warehouse_set(
                        actor=user, warehouse=settings_form.cleaned_data.get("default_warehouse")
                    )
                messages.success(request, _("Saved."))
                return redirect("inventory:warehouse_list")
            if "warehouse" in request.POST and form.is_valid():
                services.warehouse_save(actor=user, **form.cleaned_data)
                messages.success(request, _("Warehouse added."))
                return redirect("inventory:warehouse_list")
        except ServiceError as exc:
            show_on_form(form if "warehouse" in request.POST else settings_form, exc)
    ctx = {
        "warehouses": selectors.warehouse_list(actor=user),
        "form": form,
        "settings_form": settings_form,
        "can_manage": has_perm(user, "inventory.manage"),
        "can_settings": has_perm(user, "workspace.manage_settings"),
    }
    return _render(request, "inventory/warehouse_list.html", ctx)


@require_perm("inventory.manage")
def warehouse_edit(request: HttpRequest, pk: int) -> HttpResponse:
    wh = get_object_or_404(Warehouse, pk=pk)
    form = WarehouseForm(request.POST or None, instance=wh)
    if request.method == "POST" and form.is_valid():
        try:
            services.warehouse_save(actor=_user(request), warehouse=wh, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("inventory:warehouse_list")
    return _render(request, "inventory/warehouse_edit.html", {"form": form, "warehouse": wh})


def _product_choices() -> list[tuple[int, str]]:
    return [
        (pk, f"{code} {name}".strip())
        for pk, code, name in Product.objects.filter(is_active=True)
        .order_by("name", "id")
        .values_list("pk", "code", "name")[:1000]
    ]


def _line_inputs(formset: Any, *, counted: bool = False) -> list[services.LineInput]:
    lines = []
    for f in formset:
        d = f.cleaned_data if f.is_valid() else {}
        if d.get("product") and d.get("quantity") is not None and (counted or d["quantity"] > 0):
            lines.append(
                services.LineInput(
                    product_id=d["product"],
                    quantity=d["quantity"],
                    unit=d.get("unit") or "",
                    unit_cost=d.get("unit_cost"),
                )
            )
    return lines


def _document_page(
    request: HttpRequest, *, kind: str, header_form: Any, template: str, create: Any
) -> HttpResponse:
    user = _user(request)
    formset = LineFormSet(
        request.POST if request.method == "POST" else None, form_kwargs={"products": _product_choices()}
    )
    if request.method == "POST" and header_form.is_valid() and formset.is_valid():
        try:
            doc = create(user, header_form.cleaned_data, formset)
        except ServiceError as exc:
            show_on_form(header_form, exc)
        else:
            messages.success(request, _("%(number)s posted.") % {"number": doc.number})
            return redirect("inventory:document", pk=doc.pk)
    if not header_form.is_bound:
        header_form.initial["key"] = uuid.uuid4().hex  # a double submit posts once
    ctx = {
        "form": header_form,
        "formset": formset,
        "page": _page(request, selectors.document_list(actor=user, kind=kind)),
        "can_manage": has_perm(user, "inventory.manage"),
    }
    status = 400 if request.method == "POST" else 200
    return _render(request, template, ctx, status=status)


@require_perm("inventory.view")
def transfer_list(request: HttpRequest) -> HttpResponse:
    def create(user: User, d: dict[str, Any], formset: Any) -> StockDocument:
        return services.transfer_create(
            actor=user,
            from_warehouse=d["from_warehouse"],
            to_warehouse=d["to_warehouse"],
            lines=_line_inputs(formset),
            reason=d.get("reason") or "",
            idempotency_key=d.get("key") or None,
        )

    return _document_page(
        request,
        kind=StockDocument.Kind.TRANSFER,
        header_form=TransferForm(request.POST or None),
        template="inventory/transfer_list.html",
        create=create,
    )


@require_perm("inventory.view")
def count_list(request: HttpRequest) -> HttpResponse:
    def create(user: User, d: dict[str, Any], formset: Any) -> StockDocument:
        return services.count_create(
            actor=user,
            warehouse=d["warehouse"],
            lines=_line_inputs(formset, counted=True),
            reason=d["reason"],
            idempotency_key=d.get("key") or None,
        )

    return _document_page(
        request,
        kind=StockDocument.Kind.COUNT,
        header_form=CountForm(request.POST or None),
        template="inventory/count_list.html",
        create=create,
    )


@require_perm("inventory.view")
def opening(request: HttpRequest) -> HttpResponse:
    def create(user: User, d: dict[str, Any], formset: Any) -> StockDocument:
        return services.opening_create(
            actor=user,
            warehouse=d["warehouse"],
            lines=_line_inputs(formset),
            reason=d.get("reason") or "",
            idempotency_key=d.get("key") or None,
        )

    return _document_page(
        request,
        kind=StockDocument.Kind.OPENING,
        header_form=OpeningForm(request.POST or None),
        template="inventory/opening.html",
        create=create,
    )


@require_perm("inventory.view")
def document(request: HttpRequest, pk: int) -> HttpResponse:
    doc = services.document_get(pk)
    lines = doc.lines.select_related("product")
    moves = selectors.move_list(actor=_user(request)).filter(
        document_type="inventory.stockdocument", document_id=doc.pk
    )
    return _render(request, "inventory/document.html", {"doc": doc, "lines": lines, "moves": moves})


@require_perm("inventory.view")
def reorder(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.reorder_suggestions(actor=_user(request)))
    return _render(request, "inventory/reorder.html", {"page": page})
