"""Billing pages: the owner's /billing/ on the tenant host, the Stripe webhook and the operator pages on
the public host. Thin: services write, selectors read."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from crm.billing import gateway, selectors, services, webhooks
from crm.billing.models import Invoice, InvoiceRun
from crm.billing.pdf import invoice_pdf
from crm.platform.console.views import operator_required
from crm.platform.decorators import require_perm
from crm.platform.errors import NotFound, ServiceError, flash_call, show_on_form
from crm.platform.jobs import job_failure_reason
from crm.platform.permissions import has_perm
from crm.platform.registry import registry
from crm.tenants.models import Tenant
from crm.tenants.selectors import billing_terms, billing_terms_history
from crm.tenants.services import billing_terms_set


def _abs(request: HttpRequest, name: str) -> str:
    from django.urls import reverse

    return request.build_absolute_uri(reverse(name))


@require_perm("billing.view")
@require_GET
def billing_page(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant  # type: ignore[attr-defined]
    account = services.account_get(tenant=tenant)
    return render(
        request,
        "billing/page.html",
        {
            "account": account,
            "modules": selectors.current_modules(tenant=tenant, today=timezone.localdate()),
            "estimate": services.estimate_current(tenant=tenant),
            "stripe_upcoming": services.stripe_upcoming(tenant=tenant),
            "invoices": selectors.invoices_for(user=request.user, tenant=tenant)[:24],
            "can_manage": has_perm(request.user, "billing.manage"),  # type: ignore[arg-type]
            "stripe_on": gateway.enabled(),
        },
    )


@require_perm("billing.manage")
@require_http_methods(["GET", "POST"])
def workspace_export(request: HttpRequest) -> HttpResponse:
    """The owner's full export of the workspace: one CSV per table in a zip, made by a worker. Reachable
    while the workspace is suspended (the data belong to the owner); the page polls until it is ready."""
    tenant = request.tenant  # type: ignore[attr-defined]
    if request.method == "POST":
        flash_call(
            request,
            lambda: services.tenant_export_request(actor=request.user, tenant=tenant),
            _("Your export is being prepared; this page shows it when it is ready."),
        )
        return redirect("billing:export")
    context = {
        "exports": [p.name for p in services.tenant_exports(tenant=tenant)],
        "job": services.tenant_export_last(tenant=tenant),
    }
    template = "billing/_exports.html" if request.headers.get("HX-Request") else "billing/export.html"
    return render(request, template, context)


@require_perm("billing.manage")
@require_GET
def workspace_export_download(request: HttpRequest, name: str) -> HttpResponse:
    path = services.tenant_export_file(tenant=request.tenant, name=name)  # type: ignore[attr-defined]
    if path is None:
        raise Http404
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)  # type: ignore[return-value]


def _pdf_response(invoice: Invoice) -> HttpResponse:
    # Made on the fly from the invoice rows (crm.billing.pdf): no stored file, so no path to leak.
    response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
    disposition = content_disposition_header(as_attachment=True, filename=f"{invoice.number}.pdf")
    response["Content-Disposition"] = disposition or "attachment"
    patch_cache_control(response, private=True, no_store=True)
    return response


@require_perm("billing.view")
@require_GET
def invoice_pdf_download(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """A manual invoice of this workspace as PDF (another workspace's id answers 404, like a missing one)."""
    invoice = selectors.manual_invoice_for(
        user=request.user,
        tenant=request.tenant,  # type: ignore[attr-defined]
        invoice_id=invoice_id,
    )
    return _pdf_response(invoice)


def _run(request: HttpRequest, fn: object) -> HttpResponse:
    try:
        url = fn()  # type: ignore[operator]
    except ServiceError as exc:
        messages.error(request, str(exc.message))
        return redirect("billing:page")
    if url:
        return redirect(url)
    return redirect("billing:page")


@require_perm("workspace.manage_modules")
@require_GET
def change_preview(request: HttpRequest) -> HttpResponse:
    """The confirmation step of the modules page: what turning a module on or off costs this month
    (prorated) and per month from next month, with the button that posts the modules page's own form.
    htmx swaps the fragment into the module's card; without JavaScript it is a page of its own."""
    module = request.GET.get("module", "")
    action = request.GET.get("action", "")
    if action not in ("enable", "disable"):
        return HttpResponseBadRequest(_("Unknown action."))
    try:
        preview = services.module_change_preview(
            tenant=request.tenant,  # type: ignore[attr-defined]
            module=module,
            enable=action == "enable",
        )
    except ServiceError as exc:
        return HttpResponseBadRequest(str(exc.message))
    context = {
        "preview": preview,
        "action": action,
        "name": registry.get(module).name,
        # Shown as a saving rather than a negative charge.
        "saving": -preview["this_month"] if preview["this_month"] < 0 else None,
    }
    template = "billing/_change_preview.html" if request.htmx else "billing/change_preview.html"  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.checkout_start(
            actor=request.user,
            tenant=request.tenant,  # type: ignore[attr-defined]
            success_url=_abs(request, "billing:returned"),
            cancel_url=_abs(request, "billing:page"),
        ),
    )


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    return _run(
        request,
        lambda: services.portal_start(
            actor=request.user,
            tenant=request.tenant,  # type: ignore[attr-defined]
            return_url=_abs(request, "billing:page"),
        ),
    )


@login_required
@require_POST
def cancel(request: HttpRequest) -> HttpResponse:
    def do() -> str:
        services.subscription_cancel(actor=request.user, tenant=request.tenant)  # type: ignore[attr-defined]
        messages.success(
            request, _("Your subscription ends at the end of the paid period. Your data is kept.")
        )
        return ""

    return _run(request, do)


@login_required
@require_GET
def returned(request: HttpRequest) -> HttpResponse:
    # The browser coming back proves nothing: the workspace turns active on Stripe's signed webhook.
    messages.info(request, _("Thank you. Your subscription starts as soon as Stripe confirms the payment."))
    return redirect("billing:page")


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        webhooks.webhook_receive(payload=request.body, signature=request.headers.get("Stripe-Signature", ""))
    except gateway.BadSignature:
        return HttpResponseBadRequest("bad signature")
    return HttpResponse("ok")


# Same guard as the rest of the console: anonymous -> console login, non-operator -> 403, second factor.
@operator_required
@require_GET
def console_billing(request: HttpRequest) -> HttpResponse:
    context = selectors.console_overview(user=request.user)
    context["retention"] = selectors.tenants_in_retention(user=request.user, now=timezone.now())
    context["retention_days"] = settings.BILLING_RETENTION_DAYS
    context["unbuilt_credits"] = selectors.unbuilt_credits_for_operator(user=request.user)
    context["invoice_runs"] = [
        (run, job_failure_reason(run)) for run in selectors.invoice_runs_for_operator(user=request.user)
    ]
    return render(request, "billing/console.html", context)


@operator_required
@require_POST
def console_invoice_run_retry(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(InvoiceRun, pk=run_id)
    flash_call(
        request,
        lambda: services.invoice_run_retry(actor=request.user, run=run),
        _("The invoice run is queued again; tenants already invoiced are skipped."),
    )
    return redirect("billing-console")


@operator_required
@require_POST
def console_close(request: HttpRequest, tenant_id: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    closed = flash_call(
        request,
        lambda: services.tenant_close(actor=request.user, tenant=tenant),
        lambda export: (
            _("%(name)s is closed. Its export %(file)s is on its invoices page.")
            % {"name": tenant, "file": export.name}
        ),
    )
    return redirect("billing-console-tenant", tenant_id=tenant_id) if closed else redirect("billing-console")


@operator_required
@require_GET
def console_export(request: HttpRequest, tenant_id: int, name: str) -> HttpResponse:
    path = services.tenant_export_file(tenant=get_object_or_404(Tenant, pk=tenant_id), name=name)
    if path is None:
        raise Http404
    # A streaming response (the console's decorator is typed for HttpResponse only).
    return FileResponse(path.open("rb"), as_attachment=True, filename=path.name)  # type: ignore[return-value]


class DiscountForm(forms.Form):
    percent = forms.DecimalField(
        label=gettext_lazy("Discount (%)"), max_digits=5, decimal_places=2, min_value=0, max_value=100
    )
    reason = forms.CharField(label=gettext_lazy("Reason (shown in the audit trail)"), max_length=200)
    starts_on = forms.DateField(
        label=gettext_lazy("Starts on (first day of a month; empty: next month)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    ends_on = forms.DateField(
        label=gettext_lazy("Ends on (optional; the discount covers that month)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _tenant_billing_page(
    request: HttpRequest, tenant_id: int, form: DiscountForm | None = None, status: int = 200
) -> HttpResponse:
    invoices = selectors.tenant_invoices_for_operator(user=request.user, tenant_id=tenant_id)
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    discount = selectors.discount_for_operator(user=request.user, tenant=tenant, today=timezone.localdate())
    if form is None:
        initial = {"percent": discount.percent, "ends_on": discount.ends_on} if discount else {}
        form = DiscountForm(initial=initial)
    context = {
        "invoices": invoices,
        "month_checks": selectors.month_checks_for_operator(user=request.user, tenant_id=tenant_id),
        "exports": [p.name for p in services.tenant_exports(tenant=tenant)],
        "export_jobs": [
            (job, job_failure_reason(job))
            for job in selectors.export_jobs_for_operator(user=request.user, tenant=tenant)
        ],
        "tenant_id": tenant_id,
        "tenant": tenant,
        "discount": discount,
        "discount_history": selectors.discount_history_for_operator(user=request.user, tenant=tenant),
        "discount_form": form,
        "unbuilt_credit": selectors.unbuilt_credit_for_operator(user=request.user, tenant=tenant),
    }
    return render(request, "billing/console_invoices.html", context, status=status)


@operator_required
@require_GET
def console_tenant_invoices(request: HttpRequest, tenant_id: int) -> HttpResponse:
    return _tenant_billing_page(request, tenant_id)


@operator_required
@require_POST
def console_discount(request: HttpRequest, tenant_id: int) -> HttpResponse:
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    form = DiscountForm(request.POST)
    if form.is_valid():
        try:
            services.discount_set(actor=request.user, tenant=tenant, **form.cleaned_data)
        except ServiceError as exc:
            for field, errors in exc.fields.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.fields:
                form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("Discount saved."))
            return redirect("billing-console-tenant", tenant_id=tenant_id)
    return _tenant_billing_page(request, tenant_id, form, status=400)


@operator_required
@require_POST
def console_mark_paid(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice, pk=invoice_id)
    flash_call(
        request,
        lambda: services.invoice_mark_paid(actor=request.user, invoice=invoice),
        _("Invoice %(number)s marked paid.") % {"number": invoice.number},
    )
    return redirect("billing-console")


@operator_required
@require_GET
def console_invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    try:
        invoice = selectors.manual_invoice_for_operator(user=request.user, invoice_id=invoice_id)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    return _pdf_response(invoice)


class PriceForm(forms.Form):
    module = forms.ChoiceField(label=gettext_lazy("Module"))
    monthly_amount = forms.DecimalField(label=gettext_lazy("Monthly price"), max_digits=12, decimal_places=2)
    currency = forms.CharField(label=gettext_lazy("Currency"), max_length=3, initial="CNY")
    valid_from = forms.DateField(
        label=gettext_lazy("Valid from (first day of a future month)"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["module"].choices = [(m.slug, m.name) for m in registry.sellable()]  # type: ignore[attr-defined]


@operator_required
@require_http_methods(["GET", "POST"])
def console_prices(request: HttpRequest) -> HttpResponse:
    form = PriceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.price_set(actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(
                request, _("Price saved. It applies from its start date; current periods keep theirs.")
            )
            return redirect("billing-console-prices")
    return _prices_page(request, form, TermsForm(initial=_terms_initial()))


def _terms_initial() -> dict[str, int]:
    terms = billing_terms()
    return {"trial_days": terms.trial_days, "grace_days": terms.grace_days}


def _prices_page(
    request: HttpRequest, form: PriceForm, terms_form: TermsForm, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "prices": selectors.price_list(),
        "terms_form": terms_form,
        "terms": billing_terms(),
        "terms_history": billing_terms_history(),
    }
    return render(request, "billing/console_prices.html", context, status=status)


class TermsForm(forms.Form):
    trial_days = forms.IntegerField(label=gettext_lazy("Free trial (days)"), min_value=0)
    grace_days = forms.IntegerField(
        label=gettext_lazy("Grace period after a missed payment (days)"), min_value=0
    )


@operator_required
@require_POST
def console_terms(request: HttpRequest) -> HttpResponse:
    """Operator: the platform's trial length and grace period (shown and edited on the price list page)."""
    form = TermsForm(request.POST)
    if form.is_valid():
        try:
            billing_terms_set(actor=request.user, **form.cleaned_data)
        except ServiceError as exc:
            show_on_form(form, exc)
        else:
            messages.success(
                request,
                _(
                    "Terms saved. The trial length applies to workspaces signing up from now on, the grace "
                    "period to invoices falling due from now on."
                ),
            )
            return redirect("billing-console-prices")
    return _prices_page(request, PriceForm(), form, status=400)
