"""Core workspace pages: thin views over selectors and services (htmx partials where they save a reload)."""

from __future__ import annotations

import re
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel import hooks
from crm.platform.context_processors import landing_url
from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.permissions import data_scope, has_perm
from crm.tenants.accounts.models import User
from crm.tenants.selectors import enabled_modules

from . import exports, import_kinds, imports, onboarding, sample, selectors, services
from .forms import (
    ActivityForm,
    ContactForm,
    CustomerForm,
    CustomFieldForm,
    HandoverForm,
    PoolSettingsForm,
    ProductForm,
    TaskForm,
)
from .models import Customer, ImportJob, Product, Task

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The rep's dashboard (follow-ups due, customers by stage, my week); managers and admins also get the
    team view (activity per person, customers by owner and stage, overdue follow-ups)."""
    user = _user(request)
    landing = landing_url(request.tenant, user)  # type: ignore[attr-defined]
    if landing:  # each role lands where it works: a store clerk on the member lookup
        return redirect(landing)
    # Widgets that enabled modules add to the dashboard (module contract: hidden when the module is off).
    # Placeholders only: each widget fetches its own data from `widget` below.
    widgets = hooks.widgets_for(user, enabled_modules(request.tenant))  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {
        "now": timezone.now(),
        "widgets": widgets,
        "can_onboard": has_perm(user, onboarding.PERM),
    }
    if selectors.can_view_customers(user):
        rep = selectors.dashboard_rep(user)
        ctx["rep"] = rep
        ctx["rep_chart"] = {
            "stages": [str(label) for label, _n in rep["by_stage"]],
            "stage_counts": [n for _label, n in rep["by_stage"]],
            "days": [_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun")],
            "day_counts": rep["week_days"],
        }
        if data_scope(user) in ("team", "all"):
            team = selectors.dashboard_manager(user)
            ctx["team"] = team
            ctx["team_chart"] = {
                "people": [p["user"].name for p in team["people"]],
                "stages": [str(s) for s in team["stages"]],
                "matrix": [[p["stages"][i] for p in team["people"]] for i in range(len(team["stages"]))],
                "activities": [p["activities"] for p in team["people"]],
            }
    return render(request, "core/home.html", ctx)


@require_perm("core.view_customers")
def customer_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    owner = request.GET.get("owner", "")
    filters = selectors.CustomerFilters(
        q=request.GET.get("q", "").strip(),
        stage=request.GET.get("stage", ""),
        owner=int(owner) if owner.isdigit() else None,
        tag=request.GET.get("tag", "").strip(),
    )
    query = request.GET.copy()
    query.pop("page", None)
    page = Paginator(selectors.customer_list(user, filters), PAGE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        "page": page,
        "filters": filters,
        "stages": Customer.Stage.choices,
        "owners": User.objects.filter(selectors.team_members_q(user, "pk"))
        if data_scope(user) == "team"
        else (User.objects.filter(is_active=True) if data_scope(user) == "all" else User.objects.none()),
        "query": query,
    }
    template = "core/_customer_rows.html" if request.headers.get("HX-Request") else "core/customer_list.html"
    return render(request, template, ctx)


@require_perm("core.view_customers")
def customer_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = CustomerForm(request.POST or None)
    duplicates: list[Customer] = []
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                actor=user, allow_duplicate=bool(request.POST.get("allow_duplicate")), **form.service_data()
            )
        except services.DuplicateCustomer as exc:
            duplicates = exc.duplicates
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Customer created. Log the first follow-up below."))
            return redirect(reverse("core:customer_detail", kwargs={"pk": customer.pk}) + "#log")
    visible = set(
        selectors.customers_visible(user)
        .filter(pk__in=[d.pk for d in duplicates])
        .values_list("pk", flat=True)
    )
    return render(
        request,
        "core/customer_form.html",
        {"form": form, "duplicates": duplicates, "visible_dups": visible, "creating": True},
    )


@require_perm("core.view_customers")
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    can_edit = selectors.customer_can_edit(user, customer)
    return render(
        request,
        "core/customer_detail.html",
        {
            "customer": customer,
            "can_edit": can_edit,
            "contacts": selectors.contacts_visible(user).filter(customer=customer),
            "activities": selectors.customer_timeline(user, customer)[:50],
            "tasks": selectors.customer_tasks_open(user, customer),
            "shares": customer.shares.select_related("user"),
            "activity_form": ActivityForm(),
            "contact_form": ContactForm(),
            "colleagues": User.objects.filter(is_active=True).exclude(pk=customer.owner_id or 0),
            "can_assign": has_perm(user, "core.assign_customers"),
            "today": timezone.localdate().isoformat(),
            # Possible duplicates the user may merge into this one (the create page only warned).
            "merge_candidates": [
                d
                for d in selectors.duplicates_find(
                    name=customer.name, phone=customer.phone, email=customer.email, exclude_pk=customer.pk
                )
                if selectors.customer_can_edit(user, d)
            ]
            if can_edit
            else [],
            "can_comment": has_perm(user, "core.comment_activities"),
            "can_delete": can_edit and has_perm(user, "core.delete_customers"),
            "custom_values": [
                (d.label, customer.custom_fields.get(d.key, "")) for d in selectors.custom_fields()
            ],
            "now": timezone.now(),
            "history": selectors.customer_history(user, customer),
            "documents": selectors.documents_visible(user)
            .filter(customer=customer)
            .select_related("uploaded_by"),
            # Placeholders only: each panel fetches its own data from `customer_panel` below.
            "panels": hooks.panels_for(user, enabled_modules(request.tenant)),  # type: ignore[attr-defined]
        },
    )


@require_perm("core.view_customers")
def customer_panel(request: HttpRequest, pk: int, module: str, index: int) -> HttpResponse:
    """One module's panel on the customer page (htmx): 404 unless the customer is visible to the user,
    the module is on and the user may see the panel."""
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    slot = hooks.panel_get(module, index, user, enabled_modules(request.tenant))  # type: ignore[attr-defined]
    if slot is None:
        raise Http404
    ctx = {"customer": customer, "panel": slot.item, **hooks.slot_context(slot, customer, user)}
    return render(request, slot.item.template, ctx)


@login_required
def widget(request: HttpRequest, module: str, index: int) -> HttpResponse:
    """One module's dashboard widget (htmx): 404 unless the module is on and the user may see it."""
    user = _user(request)
    slot = hooks.widget_get(module, index, user, enabled_modules(request.tenant))  # type: ignore[attr-defined]
    if slot is None:
        raise Http404
    return render(request, slot.item.template, {"widget": slot.item, **hooks.slot_context(slot, user)})


@require_perm("core.view_customers")
def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    if not selectors.customer_can_edit(user, customer):
        raise DjangoPermissionDenied
    initial = {
        k: getattr(customer, k)
        for k in ("name", "kind", "phone", "email", "stage", "source", "province", "city", "address", "notes")
    }
    initial["tags"] = ", ".join(customer.tags)
    initial.update({f"cf_{k}": v for k, v in customer.custom_fields.items()})
    form = CustomerForm(request.POST or None, initial=initial, edit=True)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(actor=user, customer=customer, **form.service_data())
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("core:customer_detail", pk=customer.pk)
    return render(request, "core/customer_form.html", {"form": form, "customer": customer})


@require_POST
@require_perm("core.view_customers")
def activity_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    form = ActivityForm(request.POST)
    if form.is_valid():
        try:
            services.activity_create(
                actor=user,
                customer=customer,
                kind=form.cleaned_data["kind"],
                purpose=form.cleaned_data["purpose"],
                result=form.cleaned_data["result"],
                next_step=form.cleaned_data["next_step"],
                next_step_at=form.next_step_at(),
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            if form.next_step_at():
                messages.success(request, _("Follow-up logged; the next step is in your tasks."))
            else:
                messages.success(request, _("Follow-up logged."))
            return redirect("core:customer_detail", pk=customer.pk)
    for err in form.errors.values():
        messages.error(request, " ".join(str(e) for e in err))
    return redirect("core:customer_detail", pk=customer.pk)


@require_POST
@require_perm("core.view_customers")
def activity_comment(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    activity = get_object_or_404(selectors.activities_visible(user), pk=pk)
    flash_call(
        request,
        lambda: services.activity_comment(actor=user, activity=activity, body=request.POST.get("body", "")),
    )
    return redirect(reverse("core:customer_detail", kwargs={"pk": activity.customer_id}) + f"#a{activity.pk}")


@require_POST
@require_perm("core.view_customers")
def contact_add(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    form = ContactForm(request.POST)
    if form.is_valid():
        flash_call(
            request, lambda: services.contact_create(actor=user, customer=customer, **form.cleaned_data)
        )
    else:
        messages.error(request, _("Enter the contact's name."))
    return redirect("core:customer_detail", pk=customer.pk)


@require_POST
@require_perm("core.view_customers")
def contact_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contact = get_object_or_404(selectors.contacts_visible(user).select_related("customer"), pk=pk)
    form = ContactForm(request.POST)
    if form.is_valid():
        flash_call(request, lambda: services.contact_update(actor=user, contact=contact, **form.cleaned_data))
    else:
        messages.error(request, _("Enter the contact's name."))
    return redirect("core:customer_detail", pk=contact.customer_id)


@require_POST
@require_perm("core.delete_customers")
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    try:
        services.customer_delete(actor=user, customer=customer)
    except ServiceError as exc:
        messages.error(request, str(exc))
        return redirect("core:customer_detail", pk=pk)
    messages.success(request, _("Deleted %(name)s.") % {"name": customer.name})
    return redirect("core:customer_list")


@require_POST
@require_perm("core.view_customers")
def contact_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contact = get_object_or_404(selectors.contacts_visible(user).select_related("customer"), pk=pk)
    flash_call(request, lambda: services.contact_delete(actor=user, contact=contact), _("Contact deleted."))
    return redirect("core:customer_detail", pk=contact.customer_id)


@require_POST
@require_perm("core.view_customers")
def activity_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    activity = get_object_or_404(selectors.activities_visible(user).select_related("customer"), pk=pk)
    flash_call(
        request, lambda: services.activity_delete(actor=user, activity=activity), _("Follow-up deleted.")
    )
    return redirect("core:customer_detail", pk=activity.customer_id)


@require_POST
@require_perm("core.manage_products")
def product_delete(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=pk)
    flash_call(
        request,
        lambda: services.product_delete(actor=_user(request), product=product),
        _("Deleted %(name)s.") % {"name": product},
    )
    return redirect("core:product_list")


@require_POST
@require_perm("core.view_customers")
def customer_share(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    colleague = get_object_or_404(User, pk=request.POST.get("user") or 0)
    try:
        if request.POST.get("remove"):
            services.customer_unshare(actor=user, customer=customer, user=colleague)
        else:
            services.customer_share(
                actor=user, customer=customer, user=colleague, can_edit=bool(request.POST.get("can_edit"))
            )
            messages.success(request, _("Shared with %(name)s.") % {"name": colleague.name})
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    return redirect("core:customer_detail", pk=customer.pk)


@require_POST
@require_perm("core.view_customers")
def customer_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge the customer `source` (POST) into this one; offered from the duplicate warning."""
    user = _user(request)
    target = selectors.customer_get(user, pk)
    source = selectors.customer_get(user, int(request.POST.get("source") or 0))
    flash_call(
        request,
        lambda: services.customer_merge(actor=user, target=target, source=source),
        _("Merged %(name)s into this customer.") % {"name": source.name},
    )
    return redirect("core:customer_detail", pk=target.pk)


@require_POST
@require_perm("core.assign_customers")
def customer_assign(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = get_object_or_404(Customer, pk=pk)
    if customer.owner_id is not None:
        customer = selectors.customer_get(user, pk)  # outside the pool: only customers one may see
    owner = get_object_or_404(User, pk=request.POST.get("owner") or 0)
    flash_call(
        request,
        lambda: services.customer_assign(actor=user, customer=customer, owner=owner),
        _("%(name)s now belongs to %(owner)s.") % {"name": customer.name, "owner": owner.name},
    )
    if request.POST.get("next") == "pool":
        return redirect("core:pool")
    return redirect("core:customer_detail", pk=customer.pk)


@require_POST
@require_perm("core.view_customers")
def customer_release(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    released = flash_call(
        request,
        lambda: services.customer_release(actor=user, customer=customer),
        _("%(name)s is back in the public pool.") % {"name": customer.name},
    )
    return redirect("core:customer_list") if released else redirect("core:customer_detail", pk=customer.pk)


@require_perm("core.view_customers")
def task_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TaskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        customer = None
        if request.POST.get("customer"):
            customer = selectors.customer_get(user, int(request.POST["customer"]))
        flash_call(
            request,
            lambda: services.task_create(
                actor=user, title=form.cleaned_data["title"], due_at=form.due_at(), customer=customer
            ),
            _("Task added."),
        )
        # Back to where the form was (a customer page), but only to a path on this host.
        nxt = request.POST.get("next", "")
        if nxt and url_has_allowed_host_and_scheme(nxt, allowed_hosts={request.get_host()}):
            return redirect(nxt)
        return redirect("core:task_list")
    return render(
        request,
        "core/task_list.html",
        {"tasks": selectors.tasks_open(user), "form": TaskForm(), "now": timezone.now()},
    )


@require_POST
@require_perm("core.view_customers")
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    task = get_object_or_404(Task.objects.select_related("customer"), pk=pk)  # the service refuses: 403
    try:
        services.task_complete(actor=user, task=task, done=not request.POST.get("undo"))
    except ServiceError as exc:
        raise DjangoPermissionDenied from exc
    if request.headers.get("HX-Request"):
        return render(request, "core/_task_row.html", {"task": task})
    return redirect("core:task_list")


@require_perm("core.view_products")
def product_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    can_manage = has_perm(user, "core.manage_products")
    form = ProductForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise DjangoPermissionDenied
        if form.is_valid():
            try:
                services.product_save(actor=user, **form.cleaned_data)
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Product saved."))
                return redirect("core:product_list")
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.product_list(q), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request, "core/product_list.html", {"page": page, "form": form, "can_manage": can_manage, "q": q}
    )


@require_perm("core.view_customers")
def pool(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if request.method == "POST":
        customer = get_object_or_404(Customer, pk=request.POST.get("customer") or 0)
        claimed = flash_call(
            request,
            lambda: services.pool_claim(actor=user, customer=customer),
            _("%(name)s is now yours.") % {"name": customer.name},
        )
        return redirect("core:customer_detail", pk=customer.pk) if claimed else redirect("core:pool")
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.pool_list(user, q), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "core/pool.html",
        {
            "page": page,
            "q": q,
            "settings": selectors.core_settings(),
            "can_claim": has_perm(user, "core.claim_pool"),
            "can_configure": has_perm(user, "core.manage_settings"),
            "reps": User.objects.filter(is_active=True, role__in=["sales", "manager"])
            if has_perm(user, "core.assign_customers")
            else User.objects.none(),
        },
    )


@require_perm("core.manage_settings")
def pool_settings(request: HttpRequest) -> HttpResponse:
    """Core settings for admins: public-pool rules and the tenant's custom customer fields."""
    user = _user(request)
    s = selectors.core_settings()
    initial = {
        "pool_days": s.pool_days,
        "pool_warning_days": s.pool_warning_days,
        "pool_claims_per_day": s.pool_claims_per_day,
    }
    is_field = request.method == "POST" and request.POST.get("form") == "field"
    form = PoolSettingsForm(
        request.POST if request.method == "POST" and not is_field else None, initial=initial
    )
    field_form = CustomFieldForm(request.POST if is_field else None)
    if request.method == "POST":
        target = field_form if is_field else form
        if target.is_valid():
            try:
                if is_field:
                    data = dict(field_form.cleaned_data)
                    data["choices"] = [c for c in re.split(r"[,，]", data["choices"]) if c.strip()]
                    services.custom_field_define(actor=user, **data)
                else:
                    services.core_settings_update(actor=user, **form.cleaned_data)
            except ServiceError as exc:
                show_on_form(target, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("core:pool_settings")
    return render(
        request,
        "core/pool_settings.html",
        {"form": form, "field_form": field_form, "fields": selectors.custom_fields()},
    )


def _handover_mapping(request: HttpRequest, from_user: User, to_users: list[User]) -> dict[int, int]:
    """Per-customer choices from the preview (fields map_<customer id> = colleague id). They only count
    for the departing colleague they were made for; on a re-preview, choices of colleagues no longer ticked
    are dropped (round robin again), while a confirm passes them on so the service refuses them."""
    if request.POST.get("planned_from") != str(from_user.pk):
        return {}
    confirm = bool(request.POST.get("confirm"))
    targets = {u.pk for u in to_users}
    mapping: dict[int, int] = {}
    for name in request.POST:
        cid, uid = name.removeprefix("map_"), request.POST.get(name, "")
        if name.startswith("map_") and cid.isdigit() and uid.isdigit() and (confirm or int(uid) in targets):
            mapping[int(cid)] = int(uid)
    return mapping


@require_perm("core.handover")
def handover(request: HttpRequest) -> HttpResponse:
    """Step 1 shows what would move (preview) with the receiving colleague per customer (round robin
    proposed, changeable); step 2 (confirm) moves it all, as chosen, in one transaction."""
    user = _user(request)
    form = HandoverForm(request.POST or None)
    plan = None
    if request.method == "POST" and form.is_valid():
        to_users = list(form.cleaned_data["to_users"])
        args = {
            "actor": user,
            "from_user": form.cleaned_data["from_user"],
            "to_users": to_users,
            "mapping": _handover_mapping(request, form.cleaned_data["from_user"], to_users) or None,
        }
        try:
            if request.POST.get("confirm"):
                done = services.customer_handover(**args)
                messages.success(
                    request,
                    _("Handed over %(n)d customers, %(t)d open tasks.")
                    % {"n": len(done.assignments), "t": done.open_tasks},
                )
                return redirect("core:handover")
            plan = services.customer_handover_preview(**args)
        except ServiceError as exc:
            show_on_form(form, exc)
    per_user = []
    rows: list[tuple[int, str, int]] = []
    targets: list[User] = []
    if plan is not None:
        # The departing colleague cannot receive (the service drops them from the targets).
        targets = [u for u in form.cleaned_data["to_users"] if u.pk != plan.from_user.pk]
        names = {u.pk: u for u in targets}
        per_user = [(names[uid], n) for uid, n in plan.per_user.items()]
        rows = [
            (pk, name, plan.assignments[pk])
            for pk, name in selectors.handover_customers(list(plan.assignments))
        ]
    return render(
        request,
        "core/handover.html",
        {"form": form, "plan": plan, "per_user": per_user, "rows": rows, "targets": targets},
    )


@require_perm("core.view_products")
def search(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "").strip()
    enabled = enabled_modules(request.tenant)  # type: ignore[attr-defined]
    results = selectors.search(_user(request), q, enabled=enabled)
    return render(request, "core/search.html", {"q": q, "results": results})


@require_perm("core.view_customers")
def weekly_list(request: HttpRequest) -> HttpResponse:
    """My weekly reports and my team's submitted ones; POST prepares this week's report from my activities."""
    user = _user(request)
    if request.method == "POST":
        report = services.weekly_report_generate(actor=user)
        return redirect("core:weekly_detail", pk=report.pk)
    reports = selectors.weekly_reports_visible(user)[:100]
    return render(request, "core/weekly_list.html", {"reports": reports})


@require_perm("core.view_customers")
def weekly_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    report = get_object_or_404(selectors.weekly_reports_visible(user), pk=pk)
    if request.method == "POST":
        action = request.POST.get("action", "save")
        try:
            if action == "comment":
                services.weekly_report_comment(
                    actor=user, report=report, comment=request.POST.get("comment", "")
                )
            else:
                services.weekly_report_update(
                    actor=user,
                    report=report,
                    summary=request.POST.get("summary", ""),
                    plan=request.POST.get("plan", ""),
                    suggestions=request.POST.get("suggestions", ""),
                )
                if action == "submit":
                    services.weekly_report_submit(actor=user, report=report)
                    messages.success(request, _("Submitted to your manager."))
                else:
                    messages.success(request, _("Saved."))
        except ServiceError as exc:
            messages.error(request, str(exc.message))
        return redirect("core:weekly_detail", pk=report.pk)
    return render(
        request,
        "core/weekly_detail.html",
        {
            "report": report,
            "editable": report.author_id == user.pk and report.status == report.Status.DRAFT,
            "can_comment": report.author_id != user.pk
            and report.status == report.Status.SUBMITTED
            and has_perm(user, "core.comment_activities"),
        },
    )


def _customer_filters(request: HttpRequest) -> selectors.CustomerFilters:
    owner = request.GET.get("owner", "")
    return selectors.CustomerFilters(
        q=request.GET.get("q", "").strip(),
        stage=request.GET.get("stage", ""),
        owner=int(owner) if owner.isdigit() else None,
        tag=request.GET.get("tag", "").strip(),
    )


@require_perm("core.view_customers")
def customer_export(request: HttpRequest) -> HttpResponseBase:
    """The customer list as the user sees it (same scope and filters), as CSV or .xlsx."""
    qs = selectors.customer_list(_user(request), _customer_filters(request))
    headers, rows = exports.customer_rows(qs)
    return exports.respond("customers", request.GET.get("format", "csv"), headers, rows)


@require_perm("core.view_products")
def product_export(request: HttpRequest) -> HttpResponseBase:
    headers, rows = exports.product_rows(selectors.product_list(request.GET.get("q", "").strip()))
    return exports.respond("products", request.GET.get("format", "csv"), headers, rows)


def _require_import(view: Any) -> Any:
    """Logged in and offered at least one import kind (its module on, its permission held), else 403."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not import_kinds.kinds_offered(_user(request)):
            raise DjangoPermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


@_require_import
def import_start(request: HttpRequest) -> HttpResponse:
    """Step 1: upload a .csv (UTF-8 or GBK) or .xlsx file of one of the kinds offered to the user
    (customers, contacts, products, and what enabled modules add, e.g. retail members); ?kind= preselects."""
    user = _user(request)
    error = ""
    kind = request.POST.get("kind") or request.GET.get("kind", "")
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ServiceError(_("Choose a file."), field="file")
            job = imports.import_upload(actor=user, kind=kind, filename=upload.name or "", data=upload.read())
        except ServiceError as exc:
            error = str(exc.message)
        else:
            return redirect("core:import_detail", pk=job.pk)
    jobs = ImportJob.objects.filter(created_by=user)[:20]
    return render(
        request,
        "core/import_start.html",
        {"jobs": jobs, "error": error, "kinds": import_kinds.kinds_offered(user), "selected": kind},
    )


def _posted_value_map(request: HttpRequest) -> dict[str, dict[str, str]]:
    """vmv_<field>_<n> (the cell value) + vm_<field>_<n> (the choice: "" not mapped, "__empty__" = leave the
    field empty, else a known value) -> field -> {value -> target}; unmapped values are left out."""
    out: dict[str, dict[str, str]] = {}
    for name in request.POST:
        if not name.startswith("vmv_"):
            continue
        value = request.POST.get(name, "")
        target = request.POST.get("vm_" + name[4:], "")
        if target:
            fld = name[4:].rsplit("_", 1)[0]
            out.setdefault(fld, {})[value] = "" if target == "__empty__" else target
    return out


@_require_import
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 2: preview with column mapping and key; step 3: progress; then the outcome and row errors."""
    user = _user(request)
    job = get_object_or_404(ImportJob, pk=pk, created_by=user)
    error = ""
    if request.method == "POST":
        mapping = {str(i): request.POST.get(f"col_{i}", "") for i in range(len(job.headers))}
        key, value_map = request.POST.get("key", ""), _posted_value_map(request)
        try:
            if request.POST.get("action") == "check":
                imports.import_analyse(actor=user, job=job, mapping=mapping, key=key, value_map=value_map)
            else:
                imports.import_start(
                    actor=user,
                    job=job,
                    mapping=mapping,
                    key=key,
                    value_map=value_map,
                    all_or_nothing=request.POST.get("all_or_nothing") == "1",
                )
        except ServiceError as exc:
            error = str(exc.message)
        else:
            return redirect("core:import_detail", pk=job.pk)
    spec = import_kinds.import_kinds.get(job.kind)
    labels = {fld: label for fld, label, _words in spec.fields} if spec else {}
    ctx: dict[str, Any] = {
        "job": job,
        "error": error,
        "spec": spec,
        "fields": spec.fields if spec else (),
        "keys": spec.keys if spec else (),
        "progress": imports.import_progress(job),
        "job_errors": _labelled(job.errors[:50], labels),
    }
    if job.status == ImportJob.Status.UPLOADED:
        if not job.analysis and not error:
            try:
                imports.import_analyse(actor=user, job=job)
            except ServiceError as exc:
                error = str(exc.message)
        preview = imports.import_preview(job)
        ctx["columns"] = [
            {
                "index": i,
                "header": h,
                "field": job.mapping.get(str(i), ""),
                "samples": [r[i] if i < len(r) else "" for r in preview[:3]],
            }
            for i, h in enumerate(job.headers)
        ]
    analysis = job.analysis or {}
    ctx["skip_rows"] = _labelled(analysis.get("errors", []), labels)
    ctx["warn_rows"] = _labelled(analysis.get("warnings", []), labels)
    if request.headers.get("HX-Request"):
        return render(request, "core/_import_progress.html", ctx)
    return render(request, "core/import_detail.html", ctx)


def _labelled(rows: list[dict[str, Any]], labels: dict[str, Any]) -> list[dict[str, Any]]:
    """Row errors with the field's label for the user ("Phone", "电话"), not its key ("phone")."""
    return [{**r, "label": labels.get(r.get("field", ""), r.get("field", ""))} for r in rows]


@require_POST
@_require_import
def import_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The retry button of an import the jobs sweeper gave up on (crm.platform.jobs.job_retry)."""
    from crm.platform.jobs import job_retry

    job = get_object_or_404(ImportJob, pk=pk, created_by=_user(request))
    try:
        job_retry(actor=_user(request), job=job)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    return redirect("core:import_detail", pk=job.pk)


@_require_import
def import_skipped(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The skipped rows in the uploaded format and layout, with an error column, to fix and re-import."""
    job = get_object_or_404(ImportJob, pk=pk, created_by=_user(request))
    path = imports.skipped_path(job) if job.stored_path else None
    if path is None or not path.exists():
        raise Http404
    stem = job.filename.rsplit(".", 1)[0]
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{stem}-{_('skipped')}{path.suffix}")


@_require_import
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """An .xlsx template for one kind offered to the user: Chinese headers and one example row."""
    spec = next((k for k in import_kinds.kinds_offered(_user(request)) if k.name == kind), None)
    if spec is None:
        raise Http404
    response = HttpResponse(
        imports.import_template(spec),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="import-template-{spec.name}.xlsx"'
    return response


@_require_import
def import_errors(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=pk, created_by=_user(request))
    response = HttpResponse(imports.import_error_report(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@require_POST
@require_perm("core.view_customers")
def document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    customer = selectors.customer_get(user, pk)
    try:
        services.document_upload(actor=user, customer=customer, upload=request.FILES.get("file"))
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("File attached."))
    return redirect(reverse("core:customer_detail", kwargs={"pk": customer.pk}) + "#documents")


@require_POST
@require_perm("core.view_customers")
def activity_document_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Attach a file (a visit photo, a signed form) to one activity of a customer the user may see."""
    user = _user(request)
    activity = get_object_or_404(selectors.activities_visible(user).select_related("customer"), pk=pk)
    try:
        services.document_upload(
            actor=user, customer=activity.customer, upload=request.FILES.get("file"), activity=activity
        )
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("File attached."))
    return redirect(reverse("core:customer_detail", kwargs={"pk": activity.customer_id}) + f"#a{activity.pk}")


@require_perm("core.view_customers")
def document_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Files are never served from MEDIA_URL: only here, to users who may see the customer."""
    doc = selectors.document_get(_user(request), pk)
    if request.method == "POST":
        try:
            services.document_delete(actor=_user(request), document=doc)
        except ServiceError as exc:
            raise DjangoPermissionDenied from exc
        return redirect(reverse("core:customer_detail", kwargs={"pk": doc.customer_id}) + "#documents")
    return FileResponse(doc.file.open("rb"), as_attachment=True, filename=doc.name)


# --- Getting started ---------------------------------------------------------------------------------------


@require_perm(onboarding.PERM)
def onboarding_page(request: HttpRequest) -> HttpResponse:
    """The whole getting-started checklist (Settings → Getting started); POST show/hide on the dashboard."""
    user = _user(request)
    if request.method == "POST":
        hide = request.POST.get("action") == "hide"
        onboarding.onboarding_set_dismissed(actor=user, dismissed=hide)
        if hide:
            messages.success(request, _("The getting-started list is hidden from the dashboard."))
            if request.POST.get("next") == "home":
                return redirect("core:home")
        else:
            messages.success(request, _("The getting-started list is back on the dashboard."))
        return redirect("core:onboarding")
    data = onboarding.checklist(request.tenant, user)  # type: ignore[attr-defined]
    return render(request, "core/onboarding.html", {"checklist": data, "sample": sample.summary()})


@require_POST
@require_perm(sample.PERM)
def sample_data(request: HttpRequest) -> HttpResponse:
    """Explore with sample data: POST action=load or action=remove (next=home returns to the dashboard)."""
    user = _user(request)
    action = request.POST.get("action")
    try:
        if action == "load":
            loaded = sample.sample_load(actor=user, tenant=request.tenant)  # type: ignore[attr-defined]
            messages.success(
                request, _("Sample data loaded: %(n)s records. Have a look around.") % {"n": loaded["rows"]}
            )
            return redirect("core:home")
        if action == "remove":
            done = sample.sample_remove(actor=user)
            text = _("Sample data removed: %(n)s records.") % {"n": done["removed"]}
            if done["kept"]:
                text += " " + _("%(n)s stay because your own records refer to them.") % {"n": done["kept"]}
            messages.success(request, text)
        else:
            messages.error(request, _("Unknown action."))
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    return redirect("core:home" if request.POST.get("next") == "home" else "core:onboarding")


@require_perm(onboarding.PERM)
def onboarding_card(request: HttpRequest) -> HttpResponse:
    """The dashboard card (htmx): empty once the list is hidden (without running the steps' checks) or
    every step is done."""
    summary = sample.summary()
    marker = {"sample": summary, "sample_next": "home"}
    if onboarding.is_dismissed():
        return render(request, "core/_sample_data.html", marker) if summary["loaded"] else HttpResponse("")
    data = onboarding.checklist(request.tenant, _user(request))  # type: ignore[attr-defined]
    if data is None or data["complete"]:
        return render(request, "core/_sample_data.html", marker) if summary["loaded"] else HttpResponse("")
    return render(request, "core/_onboarding_card.html", {"checklist": data, **marker})
