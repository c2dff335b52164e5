"""Pages of the money area: sales settings, the invoicing of a contract (request, record, red-letter), the
fapiao list and its export, finance's queue of invoicing requests, monthly targets and achievement.
Thin views over selectors_money and services_money."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.kernel.exports import FORMATS, export_response
from crm.kernel.tenant_time import tenant_today
from crm.platform.decorators import require_perm
from crm.platform.errors import NotFound, ServiceError, show_on_form
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import Team, User

from . import fapiao_panel, fapiao_provider
from . import selectors_money as sel
from . import services_money as svc
from .forms_money import FapiaoForm, InvoiceRequestForm, RedForm, RequestCloseForm, SettingsForm
from .models import Fapiao, Installment, InvoiceRequest

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 0 < number < 2**63 else None


# --- settings -----------------------------------------------------------------------------------------


@require_perm("sales.settings")
def sales_settings(request: HttpRequest) -> HttpResponse:
    row = sel.sales_settings()
    form = SettingsForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        try:
            svc.settings_update(
                actor=_user(request), **{k: form.cleaned_data[k] for k in svc.SETTINGS_FIELDS}
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Sales settings saved."))
            return redirect("sales:sales_settings")
    return render(request, "sales/money/settings.html", {"form": form}, status=400 if form.errors else 200)


# --- the invoicing of one contract ------------------------------------------------------------------------


def _request_form(contract: Any, data: Any = None) -> InvoiceRequestForm:
    installments = Installment.objects.filter(contract=contract).order_by("position", "id")
    defaults = svc.buyer_defaults(contract)
    return InvoiceRequestForm(
        data,
        installments=installments,
        initial={"amount": svc.requestable(contract), "kind": Fapiao.Kind.SPECIAL, **defaults},
    )


def _fapiao_form(
    contract: Any, data: Any = None, invoice_request: InvoiceRequest | None = None
) -> FapiaoForm:
    defaults = svc.buyer_defaults(contract)
    initial: dict[str, Any] = {
        "amount_incl": svc.uninvoiced(contract),
        "issued_on": tenant_today(),
        **defaults,
    }
    if invoice_request is not None:
        initial.update(
            amount_incl=invoice_request.amount,
            kind=invoice_request.kind,
            buyer_title=invoice_request.buyer_title,
            buyer_tax_id=invoice_request.buyer_tax_id,
        )
    lines = list(contract.lines.all()[:1])
    if lines:
        initial["vat_rate"] = str(lines[0].vat_rate)
    return FapiaoForm(data, initial=initial, provider=fapiao_provider.provider_name())


def _contract_page(request: HttpRequest, contract: Any, status: int = 200, **forms: Any) -> HttpResponse:
    user = _user(request)
    invoice_request = forms.pop("invoice_request", None)
    context = fapiao_panel.contract_panel_context(contract=contract, user=user)
    context.update(
        contract=contract,
        request_form=forms.get("request_form") or _request_form(contract),
        fapiao_form=forms.get("fapiao_form") or _fapiao_form(contract, invoice_request=invoice_request),
        for_request=invoice_request,
        provider=fapiao_provider.provider_name(),
    )
    return render(request, "sales/money/contract.html", context, status=status)


@require_perm("sales.invoice_request")
def fapiao_contract(request: HttpRequest, pk: int) -> HttpResponse:
    contract = sel.contract_get(actor=_user(request), pk=pk)
    invoice_request = None
    rid = _int(request.GET.get("request"))
    if rid and has_perm(_user(request), "sales.fapiao_record"):
        invoice_request = InvoiceRequest.objects.filter(pk=rid, contract=contract, state="open").first()
    return _contract_page(request, contract, invoice_request=invoice_request)


@require_perm("sales.invoice_request")
@require_POST
def invoice_request_create(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = sel.contract_get(actor=user, pk=pk)
    form = _request_form(contract, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        installment = None
        if data.get("installment"):
            installment = Installment.objects.filter(pk=data["installment"], contract=contract).first()
        try:
            svc.invoice_request_create(
                actor=user,
                contract=contract,
                installment=installment,
                amount=data["amount"],
                kind=data["kind"],
                buyer_title=data["buyer_title"],
                buyer_tax_id=data.get("buyer_tax_id") or "",
                note=data.get("note") or "",
            )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Invoicing requested; finance has it in their queue."))
            return redirect("sales:fapiao_contract", pk=contract.pk)
    return _contract_page(request, contract, status=400, request_form=form)


@require_perm("sales.fapiao_record")
@require_POST
def fapiao_record(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    contract = sel.contract_get(actor=user, pk=pk)
    invoice_request = None
    rid = _int(request.POST.get("request"))
    if rid:
        invoice_request = InvoiceRequest.objects.filter(pk=rid, contract=contract).first()
    form = _fapiao_form(contract, request.POST, invoice_request)
    if form.is_valid():
        data = form.cleaned_data
        common = {
            "actor": user,
            "contract": contract,
            "request": invoice_request,
            "amount_incl": data["amount_incl"],
            "vat_rate": data["vat_rate"],
            "kind": data["kind"],
            "buyer_title": data["buyer_title"],
            "buyer_tax_id": data.get("buyer_tax_id") or "",
        }
        try:
            if data.get("through_provider"):
                fapiao = svc.fapiao_issue(**common)
            else:
                fapiao = svc.fapiao_record(
                    **common,
                    number=data["number"],
                    issued_on=data["issued_on"],
                    amount_excl=data.get("amount_excl"),
                    amount_tax=data.get("amount_tax"),
                )
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Fapiao %(number)s recorded.") % {"number": fapiao.number})
            return redirect("sales:fapiao_contract", pk=contract.pk)
    return _contract_page(request, contract, status=400, fapiao_form=form, invoice_request=invoice_request)


@require_perm("sales.fapiao_record")
def fapiao_red(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    fapiao = sel.fapiao_get(actor=user, pk=pk)
    form = RedForm(request.POST or None, initial={"issued_on": tenant_today()})
    if request.method == "POST" and form.is_valid():
        try:
            red = svc.fapiao_red(actor=user, fapiao=fapiao, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(request, _("Red-letter fapiao %(number)s recorded.") % {"number": red.number})
            return redirect("sales:fapiao_contract", pk=fapiao.contract_id)
    status = 400 if form.errors else 200
    return render(request, "sales/money/red.html", {"fapiao": fapiao, "form": form}, status=status)


# --- lists ----------------------------------------------------------------------------------------------


def _fapiao_filters(request: HttpRequest) -> dict[str, Any]:
    get = request.GET
    kind = get.get("kind", "")
    red = {"1": True, "0": False}.get(get.get("red", ""))
    month = sel.parse_month(get["month"]) if get.get("month") else None
    return {
        "kind": kind if kind in Fapiao.Kind.values else "",
        "month": month,
        "customer_id": _int(get.get("customer")),
        "red": red,
        "q": get.get("q", "")[:100].replace("\x00", ""),
    }


@require_perm("sales.invoice_request")
def fapiao_list(request: HttpRequest) -> HttpResponse:
    filters = _fapiao_filters(request)
    qs = sel.fapiao_list(actor=_user(request), **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "sales/money/fapiao_list.html",
        {
            "page": page,
            "filters": filters,
            "kinds": Fapiao.Kind.choices,
            "query": query.urlencode(),
            "can_record": has_perm(_user(request), "sales.fapiao_record"),
        },
    )


def fapiao_columns() -> list[str]:
    return [
        _("Number"),
        _("Issued on"),
        _("Kind"),
        _("Contract"),
        _("Customer"),
        _("Buyer title"),
        _("Buyer tax id"),
        _("Amount (tax excl.)"),
        _("Tax"),
        _("Amount (tax incl.)"),
        _("VAT rate"),
        _("Reverses"),
        _("Reason"),
    ]


@require_perm("sales.invoice_request")
def fapiao_export(request: HttpRequest) -> HttpResponseBase:
    fmt = request.GET.get("type", "xlsx")
    if fmt not in FORMATS:
        fmt = "xlsx"
    qs = sel.fapiao_list(actor=_user(request), **_fapiao_filters(request))
    return export_response(rows=sel.fapiao_rows(qs), columns=fapiao_columns(), filename="fapiao", fmt=fmt)


@require_perm("sales.invoice_request")
def invoice_request_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    default = "open" if has_perm(user, "sales.fapiao_record") else ""
    state = request.GET.get("state", default)
    if state not in InvoiceRequest.State.values:
        state = ""
    qs = sel.invoice_requests(actor=user, state=state)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "sales/money/request_list.html",
        {
            "page": page,
            "state": state,
            "states": InvoiceRequest.State.choices,
            "query": f"state={state}",
            "can_record": has_perm(user, "sales.fapiao_record"),
        },
    )


@require_perm("sales.invoice_request")
@require_POST
def invoice_request_close(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    found = sel.request_get(actor=user, pk=pk)
    form = RequestCloseForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Reject or cancel."))
    else:
        try:
            svc.invoice_request_close(actor=user, request=found, **form.cleaned_data)
        except ServiceError as exc:
            if exc.code == "permission_denied":
                raise
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("The invoicing request is closed."))
    return redirect("sales:invoice_request_list")


# --- targets --------------------------------------------------------------------------------------------


def _save_targets(request: HttpRequest, month: Any) -> list[str]:
    """The grid posts user-<id> and team-<id> fields; an empty one removes that target."""
    user = _user(request)
    errors: list[str] = []
    reps = {str(u.pk): u for u in sel.reps_for(user)}
    teams = {str(t.pk): t for t in sel.teams_for(user)}
    for key in request.POST:
        value = str(request.POST.get(key, ""))
        kind, _sep, ident = key.partition("-")
        target_user = reps.get(ident) if kind == "user" else None
        team: Team | None = teams.get(ident) if kind == "team" else None
        if target_user is None and team is None:
            continue
        value = value.strip().replace(",", "")
        try:
            svc.target_set(actor=user, month=month, amount=value or None, user=target_user, team=team)
        except ServiceError as exc:
            name = target_user.name if target_user else team.name if team else ""
            errors.append(f"{name}: {exc.message}")
    return errors


@require_perm("sales.targets_manage")
def target_grid(request: HttpRequest) -> HttpResponse:
    month = sel.parse_month(request.GET.get("month") or request.POST.get("month"))
    status = 200
    if request.method == "POST":
        errors = _save_targets(request, month)
        if not errors:
            messages.success(request, _("Targets saved."))
            return redirect(f"{request.path}?month={month:%Y-%m}")
        for error in errors:
            messages.error(request, error)
        status = 400
    grid = sel.target_grid(actor=_user(request), month=month)
    return render(request, "sales/money/targets.html", grid, status=status)


@require_perm("sales.targets_manage")
@require_POST
def target_copy(request: HttpRequest) -> HttpResponse:
    month = sel.parse_month(request.POST.get("month"))
    try:
        copied = svc.targets_copy_last_month(actor=_user(request), month=month)
    except ServiceError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("%(count)s targets copied from last month.") % {"count": copied})
    return redirect(f"{reverse('sales:target_grid')}?month={month:%Y-%m}")


@require_perm("sales.opportunity_edit")
def achievement(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    month = sel.parse_month(request.GET.get("month"))
    reps = list(sel.reps_for(user))
    teams = sel.teams_for(user)
    chosen: Any = None
    team = None
    uid, tid = _int(request.GET.get("user")), _int(request.GET.get("team"))
    if tid:
        team = next((t for t in teams if t.pk == tid), None)
        if team is None:
            raise NotFound(_("No such team."))
    elif uid:
        chosen = next((r for r in reps if r.pk == uid), None)
        if chosen is None and uid != user.pk:
            raise NotFound(_("No such rep."))
    data = sel.achievement(actor=user, month=month, user=chosen or user, team=team)
    data.update(reps=reps, teams=teams)
    return render(request, "sales/money/achievement.html", data)
