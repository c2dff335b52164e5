"""Retail pages. Clerks: lookup → member card → record a sale / redeem (phone-sized). Managers: members,
stores and clerks, tiers and points rules, voids. Thin views over selectors and services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.platform.decorators import require_perm
from crm.platform.errors import ServiceError, flash_call, show_on_form
from crm.platform.jobs import job_failure_reason
from crm.platform.permissions import Role, has_perm
from crm.tenants.accounts.models import User

from . import api, care, selectors, services
from .forms import (
    AssignForm,
    LookupForm,
    MemberForm,
    PointsRuleForm,
    RedeemForm,
    SaleForm,
    StoreForm,
    TierForm,
    VoidForm,
)
from .models import CareRun, Member, Store

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _counter_member(request: HttpRequest, pk: int) -> Member:
    looked_up = request.session.get(selectors.SESSION_KEY, [])
    return selectors.member_for_counter(actor=_user(request), member_id=pk, looked_up=looked_up)


@require_perm("retail.lookup")
def lookup(request: HttpRequest) -> HttpResponse:
    """Two fields, exact match on both; a miss says only that nothing matched."""
    form = LookupForm(request.POST or None)
    missed = False
    if request.method == "POST" and form.is_valid():
        member = services.member_lookup(actor=_user(request), **form.cleaned_data)
        if member is not None:
            api.remember(request, member)
            return redirect("retail:card", pk=member.pk)
        missed = True
    return render(request, "retail/lookup.html", {"form": form, "missed": missed})


def _card_context(request: HttpRequest, member: Member, **forms: Any) -> dict[str, Any]:
    user = _user(request)
    stores = selectors.stores_for(user)
    return {
        "member": member,
        "sales": selectors.member_recent_sales(member),
        "entries": selectors.member_recent_points(member),
        "sale_form": forms.get("sale_form") or SaleForm(stores=stores),
        "redeem_form": forms.get("redeem_form") or RedeemForm(),
        "can_manage": has_perm(user, "retail.manage"),
        "can_renew": user.role in services.MANAGERS,
        "renewals": selectors.member_recent_renewals(member),
        "no_store": not stores.exists(),
    }


@require_perm("retail.lookup")
def card(request: HttpRequest, pk: int) -> HttpResponse:
    member = _counter_member(request, pk)
    return render(request, "retail/card.html", _card_context(request, member))


@require_perm("retail.lookup")
@require_POST
def sale_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    member = _counter_member(request, pk)
    form = SaleForm(request.POST, stores=selectors.stores_for(user))
    if form.is_valid():
        data = form.cleaned_data
        lines = None
        if data.get("product"):
            lines = [services.LineInput(product_id=data["product"].pk, quantity=data["quantity"])]
        try:
            result = services.sale_record(
                actor=user,
                member=member,
                store=data["store"],
                amount=None if lines else data["amount"],
                lines=lines,
                note=data.get("note") or "",
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(
                request,
                _("Sale of %(amount)s recorded: +%(points)s points, balance %(balance)s.")
                % {
                    "amount": result.sale.amount,
                    "points": result.points,
                    "balance": result.member.points_balance,
                },
            )
            if result.tier_change:
                messages.info(request, result.tier_change.reason)
            return redirect("retail:card", pk=member.pk)
    return render(request, "retail/card.html", _card_context(request, member, sale_form=form), status=400)


@require_perm("retail.lookup")
@require_POST
def redeem(request: HttpRequest, pk: int) -> HttpResponse:
    member = _counter_member(request, pk)
    form = RedeemForm(request.POST)
    if form.is_valid():
        try:
            services.points_redeem(actor=_user(request), member=member, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(
                request,
                _("%(points)s points redeemed, balance %(balance)s.")
                % {"points": form.cleaned_data["points"], "balance": member.points_balance},
            )
            return redirect("retail:card", pk=member.pk)
    return render(request, "retail/card.html", _card_context(request, member, redeem_form=form), status=400)


@require_perm("retail.manage")
@require_POST
def sale_void(request: HttpRequest, pk: int) -> HttpResponse:
    sale = services.sale_get_for_void(actor=_user(request), sale_id=pk)
    form = VoidForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason."))
    else:
        flash_call(
            request,
            lambda: services.sale_void(actor=_user(request), sale=sale, reason=form.cleaned_data["reason"]),
            _("Sale voided; its points were reversed."),
        )
    return redirect("retail:card", pk=sale.member_id)


@require_perm("retail.manage")
@require_POST
def renew(request: HttpRequest, pk: int) -> HttpResponse:
    member = _counter_member(request, pk)
    try:
        result = services.member_renew(actor=_user(request), member=member)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("Membership renewed until %(date)s.") % {"date": result.member.valid_until.isoformat()}
            if result.member.valid_until
            else _("Membership renewed."),
        )
        if result.tier_change:
            messages.info(request, result.tier_change.reason)
    return redirect("retail:card", pk=member.pk)


@require_perm("retail.manage")
def member_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = MemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.member_create(actor=user, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Member added."))
            return redirect("retail:card", pk=member.pk)
    q = request.GET.get("q", "").strip()
    page = Paginator(selectors.member_list(actor=user, q=q), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "retail/member_list.html", {"page": page, "q": q, "form": form})


@require_perm("retail.manage")
def member_export(request: HttpRequest) -> HttpResponseBase:
    fmt = request.GET.get("format", "csv")
    members = selectors.member_list(actor=_user(request))
    return api.export_members(members, fmt=fmt if fmt in ("csv", "xlsx") else "csv")


@require_perm("retail.manage")
def store_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = StoreForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.store_create(actor=user, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Store added."))
            return redirect("retail:store_list")
    stores = selectors.store_list(actor=user)
    assign_form = AssignForm()
    # The clerk choices are rendered once per store: read them once (a ModelChoiceField queries per render).
    clerks: Any = assign_form.fields["user"]
    clerks.choices = list(clerks.choices)
    return render(
        request, "retail/store_list.html", {"stores": stores, "form": form, "assign_form": assign_form}
    )


@require_perm("retail.manage")
@require_POST
def store_assign(request: HttpRequest, pk: int) -> HttpResponse:
    store = get_object_or_404(Store, pk=pk)
    form = AssignForm(request.POST)
    if form.is_valid():
        try:
            if request.POST.get("remove"):
                services.store_unassign_clerk(
                    actor=_user(request), store=store, user=form.cleaned_data["user"]
                )
            else:
                services.store_assign_clerk(actor=_user(request), store=store, user=form.cleaned_data["user"])
        except ServiceError as exc:
            messages.error(request, str(exc.message))
    else:
        messages.error(request, _("Choose a clerk."))
    return redirect("retail:store_list")


@require_perm("retail.manage")
def setup(request: HttpRequest) -> HttpResponse:
    """Tiers and the points rule on one page."""
    user = _user(request)
    rule = services.points_rule_get()
    tier_form = TierForm(request.POST if "tier" in request.POST else None)
    rule_form = PointsRuleForm(request.POST if "rule" in request.POST else None, instance=rule)
    if request.method == "POST":
        form: Any = tier_form if "tier" in request.POST else rule_form
        if form.is_valid():
            try:
                if form is tier_form:
                    services.tier_create(actor=user, **form.cleaned_data)
                else:
                    services.points_rule_update(actor=user, **form.cleaned_data)
            except ServiceError as exc:
                show_on_form(form, exc)
            else:
                messages.success(request, _("Saved."))
                return redirect("retail:setup")
    ctx = {"tiers": selectors.tier_list(), "tier_form": tier_form, "rule_form": rule_form}
    return render(request, "retail/setup.html", ctx)


def _days(request: HttpRequest, default: int = 30) -> int:
    try:
        return max(1, min(366, int(request.GET.get("days", default))))
    except ValueError:
        return default


@require_perm("retail.manage")
def reminders(request: HttpRequest) -> HttpResponse:
    """Memberships and points lapsing in the next N days (managers call or message these members)."""
    user, days = _user(request), _days(request)
    ctx = {
        "days": days,
        "memberships": selectors.memberships_expiring(actor=user, within_days=days)[:200],
        "points": selectors.points_expiring(actor=user, within_days=days)[:200],
    }
    return render(request, "retail/reminders.html", ctx)


@require_perm("retail.manage")
def results(request: HttpRequest) -> HttpResponse:
    data = selectors.results(actor=_user(request), days=_days(request))
    chart = {
        "days": [row["day"].isoformat() for row in data["by_day"]],
        "totals": [float(row["total"]) for row in data["by_day"]],  # chart only; tables show the Decimals
        "stores": [row["store__name"] for row in data["by_store"]],
        "store_totals": [float(row["total"]) for row in data["by_store"]],
    }
    return render(request, "retail/results.html", {"r": data, "chart": chart})


def care_panel(request: HttpRequest) -> dict[str, Any]:
    """The status of the latest care run, shown on the care page (messaging's `care_page` includes it):
    sent x of y, interrupted and resumed, or failed with the reason and, for the owner, a retry button."""
    user = _user(request)
    run = selectors.care_run_last(actor=user)
    reason = job_failure_reason(run) if run is not None else ""
    return {
        "template": "retail/_care_run.html",
        "run": run,
        "reason": reason,
        "can_retry": user.role == Role.OWNER,
    }


@require_perm("retail.manage")
@require_POST
def care_retry(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(CareRun, pk=pk)
    flash_call(
        request,
        lambda: care.care_run_retry(actor=_user(request), run=run),
        _("The care run is queued again; messages already sent are not sent twice."),
    )
    return redirect("retail:care")
