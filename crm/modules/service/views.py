"""Service pages. Technicians (phone first): my orders → the order with "log work" and "customer sign-off"
at the top. Reps and managers: agreements, return visits; managers: reports; admins: business hours and
SLA plans. Thin views over selectors and services."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel.exports import FORMATS
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from . import api, selectors, services
from .forms import (
    AgreementForm,
    EntitlementForm,
    OrderForm,
    SettingsForm,
    SignoffForm,
    SlaPlanForm,
    TransitionForm,
    VisitDoneForm,
    VisitForm,
    WorkLogForm,
    workers,
)
from .models import Entitlement, ServiceOrder, SlaPlan

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _int(raw: Any) -> int | None:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2**62 else None


# --- orders ------------------------------------------------------------------------------------------

STATUS_FILTERS = ("open", *ServiceOrder.Status.values)


@require_perm("service.view")
def order_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    status = request.GET.get("status", "open")
    status = status if status in STATUS_FILTERS or status == "all" else "open"
    mine = request.GET.get("mine") == "1"
    q = (request.GET.get("q") or "").strip()[:100]
    qs = selectors.order_list(user, status="" if status == "all" else status, mine=mine, q=q)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "service/order_list.html",
        {
            "page": page,
            "status": status,
            "mine": mine,
            "q": q,
            "query": query,
            "statuses": ServiceOrder.Status.choices,
            "can_create": has_perm(user, "service.order_create"),
        },
    )


@require_perm("service.order_create")
def order_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    initial: dict[str, Any] = {}
    agreement = None
    agreement_id = _int(request.GET.get("agreement") or request.POST.get("agreement"))
    if agreement_id:
        agreement = selectors.agreement_get(user, agreement_id)
        initial.update(customer=agreement.customer_id, agreement=agreement.pk)
    elif customer_id := _int(request.GET.get("customer")):
        initial["customer"] = customer_id
    form = OrderForm(request.POST or None, user=user, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = services.order_create(
                actor=user,
                customer=data["customer"],
                agreement=agreement,
                subject=data["subject"],
                priority=data["priority"],
                description=data.get("description") or "",
                assignee=data.get("assignee"),
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Service order %(number)s opened.") % {"number": order.number})
            return redirect("service:order_detail", pk=order.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "service/order_form.html", {"form": form, "agreement": agreement}, status=status)


def _order_context(request: HttpRequest, order: ServiceOrder, **forms: Any) -> dict[str, Any]:
    user = _user(request)
    can_work = has_perm(user, "service.order_work")
    entitlements = list(order.agreement.entitlements.all()) if order.agreement_id else []  # type: ignore[union-attr]
    return {
        "order": order,
        "logs": list(selectors.order_work_logs(order)),
        "entitlements": entitlements,
        "actions": services.order_actions(user, order) if can_work else [],
        "can_work": can_work,
        "workers": workers() if has_perm(user, "service.order_assign") else [],
        "log_form": forms.get("log_form") or WorkLogForm(initial={"client_token": uuid.uuid4().hex}),
        "signoff_form": forms.get("signoff_form") or SignoffForm(),
        "visits": list(order.visits.all()),
    }


@require_perm("service.view")
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = selectors.order_get(_user(request), pk)
    return render(request, "service/order_detail.html", _order_context(request, order))


@require_perm("service.order_work")
@require_POST
def order_worklog(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = selectors.order_get(user, pk)
    form = WorkLogForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            log = services.worklog_add(
                actor=user,
                order=order,
                hours=data["hours"],
                note=data.get("note") or "",
                work_date=data.get("work_date"),
                billable_overage=data.get("billable_overage") or False,
                on_site=data.get("on_site") or False,
                client_token=data.get("client_token") or None,
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("%(hours)s hours logged.") % {"hours": log.hours})
            return redirect("service:order_detail", pk=order.pk)
    ctx = _order_context(request, order, log_form=form)
    return render(request, "service/order_detail.html", ctx, status=400)


@require_perm("service.order_work")
@require_POST
def order_signoff(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    order = selectors.order_get(user, pk)
    form = SignoffForm(request.POST)
    if form.is_valid():
        try:
            services.order_signoff(actor=user, order=order, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Signed off by the customer; the order is closed."))
            return redirect("service:order_detail", pk=order.pk)
    ctx = _order_context(request, order, signoff_form=form)
    return render(request, "service/order_detail.html", ctx, status=400)


@require_perm("service.order_work")
@require_POST
def order_transition(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    order = selectors.order_get(user, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Unknown action."))
        return redirect("service:order_detail", pk=order.pk)
    assignee = None
    if assignee_id := form.cleaned_data.get("assignee"):
        assignee = User.objects.filter(pk=assignee_id, is_active=True).first()
    flash_call(
        request,
        lambda: services.order_transition(
            actor=user, order=order, action=form.cleaned_data["action"], assignee=assignee
        ),
        _("Order updated."),
    )
    return redirect("service:order_detail", pk=order.pk)


@require_perm("service.view")
def order_export(request: HttpRequest) -> HttpResponseBase:
    """The orders of the list's filter as CSV or .xlsx (?type=xlsx)."""
    user = _user(request)
    status = request.GET.get("status", "all")
    status = "" if status not in STATUS_FILTERS else status
    fmt = request.GET.get("type", "csv")
    return api.export_orders(selectors.order_list(user, status=status), fmt=fmt if fmt in FORMATS else "csv")


# --- agreements --------------------------------------------------------------------------------------


@require_perm("service.agreement_edit")
def agreement_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    q = (request.GET.get("q") or "").strip()[:100]
    form = AgreementForm(
        request.POST or None, user=user, initial={"customer": _int(request.GET.get("customer"))}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        lines = []
        if data.get("hours_sold"):
            lines.append(
                services.EntitlementInput(_("Service hours"), data["hours_sold"], Entitlement.Unit.HOURS)
            )
        if data.get("visits_sold"):
            lines.append(
                services.EntitlementInput(
                    _("On-site visits"), Decimal(data["visits_sold"]), Entitlement.Unit.VISITS
                )
            )
        try:
            agreement = services.agreement_create(
                actor=user,
                customer=data["customer"],
                title=data["title"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                value=data.get("value") or Decimal("0"),
                auto_renew=data.get("auto_renew") or False,
                renewal_notice_days=data["renewal_notice_days"],
                sla_plan=data.get("sla_plan"),
                entitlements=lines,
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Agreement %(number)s created.") % {"number": agreement.number})
            return redirect("service:agreement_detail", pk=agreement.pk)
    page = Paginator(selectors.agreement_list(user, q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "service/agreement_list.html",
        {"page": page, "q": q, "form": form, "query": {"q": q}},
        status=status,
    )


@require_perm("service.agreement_edit")
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    agreement = selectors.agreement_get(user, pk)
    form = EntitlementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.entitlement_add(
                actor=user, agreement=agreement, line=services.EntitlementInput(**form.cleaned_data)
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Entitlement added."))
            return redirect("service:agreement_detail", pk=agreement.pk)
    orders = selectors.order_list(user, status="").filter(agreement=agreement)[:20]
    return render(
        request,
        "service/agreement_detail.html",
        {
            "agreement": agreement,
            "entitlements": selectors.agreement_entitlements(agreement),
            "form": form,
            "orders": orders,
        },
        status=400 if request.method == "POST" else 200,
    )


@require_perm("service.agreement_edit")
@require_POST
def agreement_cancel(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    agreement = selectors.agreement_get(user, pk)
    flash_call(
        request, lambda: services.agreement_cancel(actor=user, agreement=agreement), _("Agreement cancelled.")
    )
    return redirect("service:agreement_detail", pk=agreement.pk)


# --- visits ------------------------------------------------------------------------------------------


@require_perm("service.visit_edit")
def visit_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = VisitForm(request.POST or None, user=user)
    if (
        request.method == "POST"
        and form.is_valid()
        and flash_call(
            request, lambda: services.visit_create(actor=user, **form.cleaned_data), _("Visit scheduled.")
        )
    ):
        return redirect("service:visit_list")
    due = request.GET.get("due") == "1"
    page = Paginator(selectors.visit_list(user, due=due), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "service/visit_list.html",
        {
            "page": page,
            "form": form,
            "done_form": VisitDoneForm(),
            "due": due,
            "query": {"due": "1"} if due else {},
        },
    )


@require_perm("service.visit_edit")
@require_POST
def visit_done(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    visit = selectors.visit_get(user, pk)
    form = VisitDoneForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Score from 1 to 5."))
    else:
        flash_call(
            request,
            lambda: services.visit_complete(actor=user, visit=visit, **form.cleaned_data),
            _("Return visit recorded."),
        )
    return redirect("service:visit_list")


# --- reports and settings ----------------------------------------------------------------------------


@require_perm("service.reports")
def reports(request: HttpRequest) -> HttpResponse:
    data = selectors.reports(_user(request))
    chart = {
        "months": [row["month"].strftime("%Y-%m") for row in data["sla_by_month"]],
        "sla": [float(row["percent"]) for row in data["sla_by_month"]],
        "customers": [row["customer__name"] for row in data["hours"][:10]],
        "sold": [float(row["sold"]) for row in data["hours"][:10]],
        "delivered": [float(row["delivered"]) for row in data["hours"][:10]],
    }
    return render(request, "service/reports.html", {"r": data, "chart": chart})


@require_perm("service.settings")
def settings_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    row = selectors.service_settings()
    initial = {
        "workdays": row.workdays,
        "day_start": row.day_start,
        "day_end": row.day_end,
        "holidays": "\n".join(row.holidays or []),
    }
    form = SettingsForm(request.POST if request.POST.get("form") == "hours" else None, initial=initial)
    plan_form = SlaPlanForm(request.POST if request.POST.get("form") == "plan" else None)
    if request.method == "POST":
        if form.is_bound and form.is_valid():
            try:
                services.settings_update(actor=user, **form.cleaned_data)
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Business hours saved."))
                return redirect("service:settings")
        elif plan_form.is_bound and plan_form.is_valid():
            data = dict(plan_form.cleaned_data)
            plan = None
            if plan_id := _int(request.POST.get("plan")):
                plan = get_object_or_404(SlaPlan, pk=plan_id)
            try:
                services.sla_plan_save(actor=user, name=data.pop("name"), hours=data, plan=plan)
            except ServiceError as exc:
                show_on_form(plan_form, exc)
            else:
                messages.success(request, _("SLA plan saved."))
                return redirect("service:settings")
    return render(
        request,
        "service/settings.html",
        {"form": form, "plan_form": plan_form, "plans": selectors.sla_plans()},
        status=400 if request.method == "POST" else 200,
    )
