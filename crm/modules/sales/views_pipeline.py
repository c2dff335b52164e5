"""Pipeline pages: kanban board and list (data scope), an opportunity's page (stage history, products,
quotes and contracts, activities), create / edit / move / reopen, the stage settings and the reports.
Thin views over selectors_pipeline and services_pipeline."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.modules.core.public import customer_get
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.tenants.accounts.models import User

from . import selectors_pipeline as sel
from . import services_pipeline as svc
from .forms_pipeline import (
    ActivityForm,
    ListFilterForm,
    MoveForm,
    OpportunityForm,
    PeriodForm,
    StageEditForm,
    StageForm,
)
from .models import Stage

PAGE_SIZE = 25
EDIT = "sales.opportunity_edit"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**62 else None


def _filters(request: HttpRequest) -> sel.Filters:
    g = request.GET
    return sel.Filters(
        stage=_int(g.get("stage")),
        owner=_int(g.get("owner")),
        status=g.get("status", "")[:10],
        close_month=g.get("close_month", "")[:7],
        q=g.get("q", "")[:100].replace("\x00", ""),
    )


def _owners(user: User) -> Any:
    """Whose opportunities the user may filter by: those they see (reps: themselves)."""
    from crm.kernel.scope import visible_to

    return visible_to(User.objects.filter(is_active=True), user, owner_field="pk").order_by("name")


def _filter_form(request: HttpRequest) -> ListFilterForm:
    return ListFilterForm(request.GET or None, owners=_owners(_user(request)))


def _query(request: HttpRequest) -> Any:
    query = request.GET.copy()
    query.pop("page", None)
    return query


@require_perm(EDIT)
def opportunity_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    qs = sel.opportunity_list(user, _filters(request)).order_by("-updated_at", "-id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {"page": page, "filter_form": _filter_form(request), "query": _query(request)}
    return render(request, "sales/pipeline/list.html", ctx)


@require_perm(EDIT)
def opportunity_kanban(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    columns = sel.kanban(user, _filters(request))
    ctx = {
        "columns": columns,
        "move_stages": [c.stage for c in columns],
        "filter_form": _filter_form(request),
        "query": _query(request),
    }
    return render(request, "sales/pipeline/kanban.html", ctx)


def _products(data: dict[str, Any]) -> list[svc.ProductInput] | None:
    if not data.get("product"):
        return None
    price = data.get("unit_price")
    return [
        svc.ProductInput(
            product_id=data["product"].pk,
            quantity=data["quantity"],
            unit_price_incl=price if price is not None else data["product"].price,
        )
    ]


@require_perm(EDIT)
def opportunity_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    svc.stages_ensure()
    customer = None
    raw = _int(request.GET.get("customer"))
    if raw:
        customer = customer_get(user, raw)
    form = OpportunityForm(request.POST or None, user=user, customer=customer)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            opp = svc.opportunity_create(
                actor=user,
                customer=data["customer"],
                name=data["name"],
                amount=data.get("amount"),
                expected_close=data.get("expected_close"),
                stage=data.get("stage"),
                contact=data.get("contact"),
                probability=data.get("probability"),
                source=data.get("source") or "",
                competitor=data.get("competitor") or "",
                notes=data.get("notes") or "",
                products=_products(data),
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Opportunity added."))
            return redirect("sales:opportunity_detail", pk=opp.pk)
    status = 400 if request.method == "POST" else 200
    ctx = {"form": form, "customer": customer, "title": _("New opportunity")}
    return render(request, "sales/pipeline/form.html", ctx, status=status)


@require_perm(EDIT)
def opportunity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    opp = sel.opportunity_get(user, pk)
    ctx = sel.opportunity_detail(user, opp)
    ctx.update(
        {
            "move_form": MoveForm(initial={"stage": opp.stage_id}),
            "activity_form": ActivityForm(),
            "stages": sel.stages_active(),
        }
    )
    return render(request, "sales/pipeline/detail.html", ctx)


@require_perm(EDIT)
def opportunity_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    opp = sel.opportunity_get(user, pk)
    initial = {
        "name": opp.name,
        "contact": opp.contact_id,
        "amount": opp.amount,
        "expected_close": opp.expected_close,
        "probability": opp.probability,
        "source": opp.source,
        "competitor": opp.competitor,
        "notes": opp.notes,
    }
    form = OpportunityForm(
        request.POST or None, user=user, customer=opp.customer, editing=True, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        fields = {k: data.get(k) for k in svc.EDITABLE}
        if not data.get("amount") and data.get("product"):
            fields.pop("amount")
        try:
            svc.opportunity_update(actor=user, opportunity=opp, products=_products(data), **fields)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("sales:opportunity_detail", pk=opp.pk)
    status = 400 if request.method == "POST" else 200
    ctx = {"form": form, "customer": opp.customer, "opp": opp, "title": _("Edit opportunity")}
    return render(request, "sales/pipeline/form.html", ctx, status=status)


@require_perm(EDIT)
@require_POST
def opportunity_move(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The kanban's drop and "move to" select, and the detail page's form. From htmx the answer is the
    card in its new state (the script moves it to its column), or the error with status 400."""
    user = _user(request)
    opp = sel.opportunity_get(user, pk)
    form = MoveForm(request.POST)
    htmx = request.headers.get("HX-Request") == "true"
    error = ""
    if not form.is_valid():
        error = _("Choose a stage.")
    else:
        try:
            opp = svc.opportunity_move(
                actor=user,
                opportunity=opp,
                stage=form.cleaned_data["stage"],
                lost_reason=form.cleaned_data.get("lost_reason") or "",
            )
        except ServiceError as exc:
            if exc.status == 403:
                raise
            error = str(exc.message)
    if htmx:
        opp = sel.opportunity_get(user, pk)
        ctx = {"opp": opp, "move_stages": sel.stages_active(), "error": error}
        return render(request, "sales/pipeline/_card.html", ctx, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, _("Moved to %(stage)s.") % {"stage": opp.stage.name})
    back = request.POST.get("next", "")
    if back == "kanban":
        return redirect("sales:opportunity_kanban")
    return redirect("sales:opportunity_detail", pk=pk)


@require_perm(EDIT)
@require_POST
def opportunity_reopen(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    opp = sel.opportunity_get(user, pk)
    flash_call(request, lambda: svc.opportunity_reopen(actor=user, opportunity=opp), _("Reopened."))
    return redirect("sales:opportunity_detail", pk=pk)


@require_perm(EDIT)
@require_POST
def opportunity_activity(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    opp = sel.opportunity_get(user, pk)
    form = ActivityForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say what the follow-up was about or what came out of it."))
    else:
        flash_call(
            request,
            lambda: svc.opportunity_log_activity(actor=user, opportunity=opp, **form.cleaned_data),
            _("Follow-up logged."),
        )
    return redirect("sales:opportunity_detail", pk=pk)


# --- stage settings --------------------------------------------------------------------------------------


@require_perm("sales.settings")
def stage_settings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    svc.stages_ensure()
    form = StageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            svc.stage_create(actor=user, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Stage added."))
            return redirect("sales:stage_settings")
    stages = list(Stage.objects.all())
    rows = [
        (
            s,
            StageEditForm(
                initial={"name": s.name, "probability": s.probability, "is_active": s.is_active},
                prefix=f"s{s.pk}",
            ),
        )
        for s in stages
    ]
    return render(request, "sales/pipeline/stages.html", {"form": form, "rows": rows})


@require_perm("sales.settings")
@require_POST
def stage_edit(request: HttpRequest, pk: int) -> HttpResponseBase:
    user = _user(request)
    stage = get_object_or_404(Stage, pk=pk)
    action = request.POST.get("action", "save")
    if action in ("up", "down"):
        flash_call(request, lambda: svc.stage_move(actor=user, stage=stage, up=action == "up"))
    elif action == "delete":
        flash_call(
            request,
            lambda: svc.stage_delete(actor=user, stage=stage),
            lambda deleted: (
                _("Stage deleted.") if deleted else _("The stage has opportunities: deactivated.")
            ),
        )
    else:
        form = StageEditForm(request.POST, prefix=f"s{stage.pk}")
        if not form.is_valid():
            messages.error(request, _("Give the stage a name and a probability from 0 to 100."))
        else:
            flash_call(
                request, lambda: svc.stage_update(actor=user, stage=stage, **form.cleaned_data), _("Saved.")
            )
    return redirect("sales:stage_settings")


# --- reports ---------------------------------------------------------------------------------------------


@require_perm("sales.pipeline_reports")
def pipeline_reports(request: HttpRequest) -> HttpResponse:
    period = sel.default_period()
    form = PeriodForm(request.GET or None, initial={"start": period.start, "end": period.end})
    if form.is_bound and form.is_valid():
        start = form.cleaned_data.get("start") or period.start
        end = form.cleaned_data.get("end") or period.end
        if start <= end:
            period = sel.Period(start=start, end=end)
    report = sel.pipeline_reports(_user(request), period)
    ctx = {"r": report, "chart": sel.forecast_chart(report), "form": form}
    return render(request, "sales/pipeline/reports.html", ctx)
